import { useEffect, useState } from 'preact/hooks';
import type { Alert, DeviceView, IncidentView, LiveReading, Overview, Sparklines } from './api.js';
import { namesOf } from './names.js';
import { decodeSparkline, type SparkSeries } from '../../live/sparkline.js';

/** The board's one piece of shared state: the overview, kept current by the live stream. */
export interface BoardState {
  overview: Overview | null;
  alerts: Map<string, Alert>;
  /** Open incidents (null until the overview came). */
  incidents: Map<string, IncidentView> | null;
  connected: boolean;
  now: number;
}

const OPEN = new Set(['pending', 'active', 'acknowledged', 'cleared']);
const SPARK_MAX = 400;

let state: BoardState = { overview: null, alerts: new Map(), incidents: null, connected: false, now: Date.now() };
const listeners = new Set<() => void>();
const notify = () => listeners.forEach((l) => l());

export function useBoard(): BoardState {
  const [, setTick] = useState(0);
  useEffect(() => {
    const listener = () => setTick((n) => n + 1);
    listeners.add(listener);
    return () => void listeners.delete(listener);
  }, []);
  return state;
}

/** The sign-in's overview: the first screen's sensors of each place, the others counted (`more`). */
export const isPartial = (overview: Overview): boolean => overview.sites.some((site) => site.locations.some((location) => location.more));

/**
 * What the stream brought while the overview was the sign-in's first screen: applied again once the
 * whole overview came, which may have been made before them (it is shared for a second, and was on
 * its way meanwhile). Readings where newer than what it says (every one: those of the first screen's
 * sensors were shown already, those of the others could not be); alarm changes in the order they
 * came, so each alert and incident ends as the stream last said (one it said nothing of since, as the
 * whole overview says). Bounded: past it, the oldest go (the whole overview is asked for at once, so
 * only a backlog burst can reach it).
 */
let partial = false;
const early: LiveReading[] = [];
const earlyAlerts: Alert[] = [];
const earlyIncidents: IncidentView[] = [];
const EARLY_MAX = 20_000;
const keep = <T>(list: T[], item: T) => {
  if (partial && list.push(item) > EARLY_MAX) list.shift();
};

export function setOverview(overview: Overview): void {
  state = { ...state, overview, alerts: new Map(overview.alerts.map((a) => [a.id, a])), incidents: new Map((overview.incidents ?? []).map((i) => [i.id, i])) };
  partial = isPartial(overview);
  if (!partial) {
    for (const reading of early.splice(0)) applyReading(reading);
    for (const alert of earlyAlerts.splice(0)) applyAlert(alert);
    for (const incident of earlyIncidents.splice(0)) applyIncident(incident);
  }
  notify();
}

/**
 * A device's sparkline: the overview's buckets (decoded when first drawn, so the first tiles need
 * not wait for all 2,000; none until `setSparklines`), then the live readings, appended in place.
 */
const series = new WeakMap<DeviceView, SparkSeries>();
export function sparkOf(device: DeviceView): SparkSeries {
  let known = series.get(device);
  if (!known) series.set(device, (known = device.sparkline ? decodeSparkline(device.sparkline) : { ts: [], values: [] }));
  return known;
}

/** The sparklines, asked for after the tiles were drawn; live readings that came first stay, after the buckets before them. */
export function setSparklines({ sparklines }: Sparklines): void {
  for (const site of state.overview?.sites ?? [])
    for (const location of site.locations)
      for (const device of location.devices) {
        const sparkline = sparklines[device.id];
        if (!sparkline) continue;
        device.sparkline = sparkline;
        const live = series.get(device);
        const merged = decodeSparkline(sparkline);
        if (live?.ts.length) {
          const before = merged.ts.findIndex((ts) => ts >= live.ts[0]!);
          if (before >= 0) {
            merged.ts.length = before;
            merged.values.length = before;
          }
          merged.ts.push(...live.ts);
          merged.values.push(...live.values);
          if (merged.ts.length > SPARK_MAX) {
            merged.ts.splice(0, merged.ts.length - SPARK_MAX);
            merged.values.splice(0, merged.values.length - SPARK_MAX);
          }
        }
        series.set(device, merged);
      }
  state = { ...state };
  notify();
}

/**
 * The positions the stream brought since the page opened, per device, in time order: the fleet
 * map extends each vehicle's track with them (it reads the track before them from InfluxDB once).
 * Every position is kept, not only the last: a truck's store-and-forward backlog brings its drive
 * at once, and only the last of it reaches `last`. Bounded per device; past it, the oldest go.
 */
export interface Position {
  ts: number;
  lat: number;
  lon: number;
}
const positions = new Map<string, Position[]>();
const POSITIONS_MAX = 5_000;

/** Where positions later than `ts` begin in a track in time order (they are at its end). */
function laterFrom(track: readonly Position[], ts: number): number {
  let at = track.length;
  while (at > 0 && track[at - 1]!.ts > ts) at--;
  return at;
}

/** The positions the stream brought for a device after `ts`, in time order. */
export const positionsAfter = (deviceId: string, ts: number): Position[] => {
  const track = positions.get(deviceId) ?? [];
  return track.slice(laterFrom(track, ts));
};

function keepPosition(reading: LiveReading): void {
  if (reading.lat == null || reading.lon == null) return;
  let track = positions.get(reading.deviceId);
  if (!track) positions.set(reading.deviceId, (track = []));
  const position = { ts: reading.ts, lat: reading.lat, lon: reading.lon };
  const at = laterFrom(track, position.ts);
  if (at > 0 && track[at - 1]!.ts === position.ts) return;
  track.splice(at, 0, position);
  if (track.length > POSITIONS_MAX) track.shift();
}

export function applyReading(reading: LiveReading): void {
  keep(early, reading);
  keepPosition(reading);
  const device = namesOf(state.overview).deviceOf(reading.deviceId);
  if (!device) return;
  // Late store-and-forward readings do not replace a newer "now".
  if (!device.last || reading.ts >= device.last.ts) {
    device.last = {
      ts: reading.ts,
      temperature: reading.temperature,
      humidity: reading.humidity ?? null,
      battery: reading.battery ?? null,
      lat: reading.lat ?? device.last?.lat ?? null,
      lon: reading.lon ?? device.last?.lon ?? null,
      door: reading.door ?? null,
      receivedAt: Date.now(),
    };
    const spark = sparkOf(device);
    spark.ts.push(reading.ts);
    spark.values.push(reading.temperature);
    if (spark.ts.length > SPARK_MAX) {
      spark.ts.splice(0, spark.ts.length - SPARK_MAX);
      spark.values.splice(0, spark.values.length - SPARK_MAX);
    }
  }
  scheduleNotify();
}

export function applyAlert(alert: Alert): void {
  keep(earlyAlerts, alert);
  const alerts = new Map(state.alerts);
  if (OPEN.has(alert.state)) alerts.set(alert.id, alert);
  else alerts.delete(alert.id);
  state = { ...state, alerts };
  notify();
}

/** An incident from the stream or a signature's answer; a closed one leaves the open set. */
export function applyIncident(incident: IncidentView): void {
  keep(earlyIncidents, incident);
  const incidents = new Map(state.incidents ?? []);
  if (incident.state === 'closed') incidents.delete(incident.id);
  else incidents.set(incident.id, incident);
  state = { ...state, incidents };
  notify();
}

export function setConnected(connected: boolean): void {
  state = { ...state, connected };
  notify();
}

export function tick(): void {
  state = { ...state, now: Date.now() };
  notify();
}

// A burst of readings (a truck's backlog) redraws once per frame, not once per reading.
let pending = false;
function scheduleNotify(): void {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    state = { ...state };
    notify();
  });
}
