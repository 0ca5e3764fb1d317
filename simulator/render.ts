import type { ProductProfile } from '../core/config/schema.js';
import type { Reading } from '../core/reading.js';
import { Rng } from './rng.js';
import { ThermalSpace, inWindow } from './models/thermal.js';
import { Route } from './models/route.js';
import type { Scenario, SensorFault, StoreSpec, VehicleSpec } from './scenario.js';
import type { DeviceTrace } from './expected-alarms.js';

/** Physics integration step (simulated). */
export const STEP_MS = 10_000;
/** Largest batch a device uploads after a coverage gap. */
export const BACKLOG_BATCH = 50;

/** A reading as a simulated device publishes it (core/reading.ts), always with its sequence number. */
export type SimReading = Reading & { seq: number };

export interface SimMessage {
  /** Simulated time at which the device publishes (later than `ts` for a buffered backlog). */
  publishAt: number;
  deviceId: string;
  locationId: string;
  readings: SimReading[];
  /** Sent as a JSON array (store-and-forward upload) rather than one object. */
  batch: boolean;
}

export interface GroundTruthExcursion {
  deviceId: string;
  locationId: string;
  kind: 'temperature_high' | 'temperature_low' | 'device_silent';
  occurredAt: string;
  clearedAt: string | null;
}

export interface RenderOptions {
  seed: string | number;
  /** Simulated start, epoch ms. */
  start: number;
  /** Simulated end (exclusive); undefined runs forever. */
  end?: number;
  /** Product profile of each location, for the ground truth. */
  profileByLocation: Map<string, ProductProfile>;
  /** Keep each device's true state and what it sent, to judge the alarms raised (expected-alarms.ts). */
  trace?: boolean;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/** Excursion bookkeeping on the true (not sensed) temperature of one device's space. */
class TruthTracker {
  readonly excursions: GroundTruthExcursion[] = [];
  private open: GroundTruthExcursion | undefined;

  constructor(
    private readonly deviceId: string,
    private readonly locationId: string,
    private readonly profile: ProductProfile | undefined,
  ) {}

  observe(t: number, temperature: number): void {
    if (!this.profile) return;
    const { min, max } = this.profile.temperature;
    const kind = temperature > max ? 'temperature_high' : temperature < min ? 'temperature_low' : undefined;
    if (this.open && this.open.kind !== kind) {
      this.open.clearedAt = new Date(t).toISOString();
      this.open = undefined;
    }
    if (kind && !this.open) {
      this.open = { deviceId: this.deviceId, locationId: this.locationId, kind, occurredAt: new Date(t).toISOString(), clearedAt: null };
      this.excursions.push(this.open);
    }
  }

  silent(from: number, to: number): void {
    this.excursions.push({
      deviceId: this.deviceId,
      locationId: this.locationId,
      kind: 'device_silent',
      occurredAt: new Date(from).toISOString(),
      clearedAt: new Date(to).toISOString(),
    });
  }
}

/** Applies a device's sensor faults to what it reports. */
function sensed(faults: SensorFault[], offset: number, trueValue: number, stuckAt: Map<SensorFault, number>): number {
  let value = trueValue;
  for (const fault of faults) {
    if (offset < fault.at) continue;
    if (fault.kind === 'drift') value += (fault.perHour * (offset - fault.at)) / 3_600_000;
    if (fault.kind === 'stuck' && offset < fault.at + fault.duration) {
      if (!stuckAt.has(fault)) stuckAt.set(fault, value);
      value = stuckAt.get(fault)!;
    }
  }
  const spike = faults.find((f) => f.kind === 'spike' && offset >= f.at && offset < f.at + STEP_MS * 6);
  return spike && spike.kind === 'spike' ? spike.value : value;
}

const inRoutine = (routine: StoreSpec['doorRoutine'], offset: number) =>
  !!routine && offset >= routine.at && (offset - routine.at) % routine.every < routine.duration;

/** Defrost heater on: at the end of each cycle from the start, or on the controller's wall clock. */
function defrosting(defrost: NonNullable<StoreSpec['defrost']>, t: number, offset: number): boolean {
  if (!defrost.startsAt) return offset % defrost.every >= defrost.every - defrost.duration;
  const sign = defrost.utcOffset.startsWith('-') ? -1 : 1;
  const zone = sign * (Number(defrost.utcOffset.slice(1, 3)) * 60 + Number(defrost.utcOffset.slice(4))) * 60_000;
  const anchor = (Number(defrost.startsAt.slice(0, 2)) * 60 + Number(defrost.startsAt.slice(3))) * 60_000;
  const sinceStart = (((t + zone - anchor) % defrost.every) + defrost.every) % defrost.every;
  return sinceStart < defrost.duration;
}

interface DeviceStream {
  messages: Generator<SimMessage>;
  truth: TruthTracker;
  trace?: DeviceTrace;
}

/** Readings held in device buffers right now (coverage gaps), across all devices. */
interface Buffered {
  readings: number;
}

function* spaceDevice(
  kind: 'store' | 'vehicle',
  spec: StoreSpec | VehicleSpec,
  device: { id: string; interval: number },
  options: RenderOptions,
  truth: TruthTracker,
  buffered: Buffered,
  trace?: DeviceTrace,
): Generator<SimMessage> {
  const rng = new Rng(`${options.seed}:${device.id}`);
  const space = new ThermalSpace({
    setpoint: spec.setpoint,
    ambient: spec.ambient,
    timeConstantMs: spec.timeConstant,
    coolingRatePerHour: spec.coolingRate,
    hysteresis: spec.hysteresis,
    humidity: spec.humidity,
    ambientHumidity: spec.ambientHumidity,
    initial: spec.initial,
    doorAirExchange: spec.doorAirExchange,
  });
  const faults = spec.faults.filter((f) => f.device === device.id);
  const stuckAt = new Map<SensorFault, number>();
  const route = kind === 'vehicle' ? new Route(spec as VehicleSpec) : undefined;
  const vehicle = kind === 'vehicle' ? (spec as VehicleSpec) : undefined;
  const store = kind === 'store' ? (spec as StoreSpec) : undefined;
  // Devices do not all report on the same millisecond.
  const phase = Math.floor(rng.next() * Math.min(device.interval, 30_000));
  let nextSample = options.start + phase;
  let t = options.start;
  let seq = 0;
  let backlog: SimReading[] = [];
  const dropouts = faults.filter((f) => f.kind === 'dropout');
  for (const d of dropouts) truth.silent(options.start + d.at, options.start + d.at + d.duration);

  while (options.end === undefined || t < options.end) {
    const offset = t - options.start;
    const position = route?.at(vehicle?.repeatEvery ? offset % vehicle.repeatEvery : offset);
    const doorOpen = position ? position.doorOpen : inWindow(store!.doorOpenings, offset) || inRoutine(store!.doorRoutine, offset);
    const coolingFailed = inWindow(store?.powerFailures ?? vehicle!.reeferFailures, offset);
    const heating = store?.defrost && defrosting(store.defrost, t, offset) ? store.defrost.heatingRate : 0;
    space.step(STEP_MS, { doorOpen, coolingFailed, heatingRatePerHour: heating });
    t += STEP_MS;
    truth.observe(t, space.temperature);
    trace?.steps.push({ t, temperature: space.temperature, humidity: space.humidity(doorOpen), door: doorOpen });

    while (nextSample <= t) {
      const sampleOffset = nextSample - options.start;
      const ts = nextSample;
      nextSample += device.interval;
      seq++;
      if (dropouts.some((d) => sampleOffset >= d.at && sampleOffset < d.at + d.duration)) continue;
      const clockOffset = faults.reduce((sum, f) => (f.kind === 'clock_jump' && sampleOffset >= f.at ? sum + f.offset : sum), 0);
      const reading: SimReading = {
        ts: ts + clockOffset,
        temperature: round1(sensed(faults, sampleOffset, space.temperature, stuckAt) + rng.gaussian(spec.noise)),
        humidity: round1(space.humidity(doorOpen) + rng.gaussian(1)),
        seq,
      };
      if (position) {
        reading.lat = Math.round(position.lat * 1e5) / 1e5;
        reading.lon = Math.round(position.lon * 1e5) / 1e5;
        reading.battery = round1(Math.max(0, 100 - (vehicle!.batteryDrainPerDay * sampleOffset) / 86_400_000));
      }
      if (doorOpen || store?.doorOpenings.length || store?.doorRoutine || vehicle) reading.door = doorOpen;

      trace?.readings.push({ ts: reading.ts, ...(reading.battery !== undefined ? { battery: reading.battery } : {}) });
      const gap = vehicle?.coverageGaps.find((g) => sampleOffset >= g.at && sampleOffset < g.at + g.duration);
      if (gap) {
        backlog.push(reading);
        buffered.readings++;
        continue;
      }
      // Coverage is back: the buffered readings go first, in order, with their original timestamps.
      if (backlog.length) {
        for (let i = 0; i < backlog.length; i += BACKLOG_BATCH) {
          const readings = backlog.slice(i, i + BACKLOG_BATCH);
          buffered.readings -= readings.length;
          trace?.publishes.push(ts);
          yield { publishAt: ts, deviceId: device.id, locationId: spec.location, readings, batch: true };
        }
        backlog = [];
      }
      trace?.publishes.push(ts);
      yield { publishAt: ts, deviceId: device.id, locationId: spec.location, readings: [reading], batch: false };
    }
  }
  for (let i = 0; i < backlog.length; i += BACKLOG_BATCH) {
    const readings = backlog.slice(i, i + BACKLOG_BATCH);
    buffered.readings -= readings.length;
    trace?.publishes.push(options.end!);
    yield { publishAt: options.end!, deviceId: device.id, locationId: spec.location, readings, batch: true };
  }
}

/** The load scenario: many devices, no physics, readings around the setpoint at a total rate. */
function* loadDevice(id: string, locationId: string, index: number, intervalMs: number, options: RenderOptions, setpoint: number): Generator<SimMessage> {
  const rng = new Rng(`${options.seed}:${id}`);
  let seq = 0;
  for (let ts = options.start + (Math.floor((index * intervalMs) / 997) % intervalMs); options.end === undefined || ts < options.end; ts += intervalMs) {
    seq++;
    yield {
      publishAt: ts,
      deviceId: id,
      locationId,
      readings: [{ ts, temperature: round1(setpoint + rng.gaussian(0.3)), humidity: round1(55 + rng.gaussian(2)), seq }],
      batch: false,
    };
  }
}

export function loadDeviceIds(scenario: Scenario): string[] {
  const load = scenario.load;
  return load ? Array.from({ length: load.devices }, (_, i) => `${load.prefix}-${i}`) : [];
}

/** Every device of a scenario with its location and reporting interval. */
export function scenarioDevices(scenario: Scenario): Array<{ id: string; location: string; interval: number }> {
  const spaces = [...scenario.stores, ...scenario.vehicles].flatMap((spec) =>
    spec.devices.map((d) => ({ id: d.id, location: spec.location, interval: d.interval })),
  );
  const load = scenario.load;
  const loadInterval = load ? Math.max(1, Math.round((load.devices / load.rate) * 1000)) : 0;
  return [...spaces, ...loadDeviceIds(scenario).map((id) => ({ id, location: load!.location, interval: loadInterval }))];
}

/** Min-heap merge of per-device streams by publish time (ties: device order), so output is deterministic. */
function* merge(streams: Array<Generator<SimMessage>>): Generator<SimMessage> {
  const heads: Array<{ message: SimMessage; index: number }> = [];
  const less = (a: { message: SimMessage; index: number }, b: { message: SimMessage; index: number }) =>
    a.message.publishAt < b.message.publishAt || (a.message.publishAt === b.message.publishAt && a.index < b.index);
  const push = (item: { message: SimMessage; index: number }) => {
    heads.push(item);
    for (let i = heads.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!less(heads[i]!, heads[parent]!)) break;
      [heads[i], heads[parent]] = [heads[parent]!, heads[i]!];
      i = parent;
    }
  };
  const pop = () => {
    const top = heads[0]!;
    const last = heads.pop()!;
    if (heads.length) {
      heads[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heads.length && less(heads[l]!, heads[m]!)) m = l;
        if (r < heads.length && less(heads[r]!, heads[m]!)) m = r;
        if (m === i) break;
        [heads[i], heads[m]] = [heads[m]!, heads[i]!];
        i = m;
      }
    }
    return top;
  };
  streams.forEach((stream, index) => {
    const first = stream.next();
    if (!first.done) push({ message: first.value, index });
  });
  while (heads.length) {
    const { message, index } = pop();
    yield message;
    const next = streams[index]!.next();
    if (!next.done) push({ message: next.value, index });
  }
}

/**
 * Renders a scenario into the messages its devices publish, in publish order, plus the
 * excursions it injects (filled as the stream is consumed). A pure function of scenario, seed
 * and start: the same inputs give the same readings.
 */
export function renderScenario(
  scenario: Scenario,
  options: RenderOptions,
): { messages: Generator<SimMessage>; groundTruth: () => GroundTruthExcursion[]; buffered: () => number; traces: () => DeviceTrace[] } {
  const streams: DeviceStream[] = [];
  const buffered: Buffered = { readings: 0 };
  const profileOf = (locationId: string) => options.profileByLocation.get(locationId);
  const spaces = [...scenario.stores.map((spec) => ['store', spec] as const), ...scenario.vehicles.map((spec) => ['vehicle', spec] as const)];
  for (const [kind, spec] of spaces) {
    for (const device of spec.devices) {
      const truth = new TruthTracker(device.id, spec.location, profileOf(spec.location));
      const trace: DeviceTrace | undefined = options.trace
        ? { deviceId: device.id, locationId: spec.location, intervalMs: device.interval, noise: spec.noise, steps: [], readings: [], publishes: [] }
        : undefined;
      streams.push({ truth, trace, messages: spaceDevice(kind, spec, device, options, truth, buffered, trace) });
    }
  }
  const load = scenario.load;
  if (load) {
    const interval = Math.max(1, Math.round((load.devices / load.rate) * 1000));
    const setpoint = profileOf(load.location) ? (profileOf(load.location)!.temperature.min + profileOf(load.location)!.temperature.max) / 2 : 5;
    loadDeviceIds(scenario).forEach((id, i) =>
      streams.push({ truth: new TruthTracker(id, load.location, undefined), messages: loadDevice(id, load.location, i, interval, options, setpoint) }),
    );
  }
  return {
    messages: merge(streams.map((s) => s.messages)),
    buffered: () => buffered.readings,
    traces: () => streams.flatMap((s) => (s.trace ? [s.trace] : [])),
    groundTruth: () =>
      streams.flatMap((s) => s.truth.excursions).sort((a, b) => a.occurredAt.localeCompare(b.occurredAt) || a.deviceId.localeCompare(b.deviceId)),
  };
}
