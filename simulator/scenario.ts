import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { durationMs } from '../core/duration.js';
import { identifier } from '../core/config/schema.js';
import { parseYamlWith } from '../core/config/load.js';

const simDevice = z.object({ id: identifier, interval: durationMs.prefault('60s') });

/** Times in a scenario are offsets from its start ("2h" = two simulated hours in). */
const window = z.object({ at: durationMs, duration: durationMs });

const sensorFault = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('stuck'), device: identifier, at: durationMs, duration: durationMs }),
  z.object({ kind: z.literal('spike'), device: identifier, at: durationMs, value: z.number() }),
  z.object({ kind: z.literal('drift'), device: identifier, at: durationMs, perHour: z.number() }),
  z.object({ kind: z.literal('dropout'), device: identifier, at: durationMs, duration: durationMs }),
  z.object({ kind: z.literal('clock_jump'), device: identifier, at: durationMs, offset: z.number().int().describe('ms added to device timestamps') }),
]);

const thermal = {
  setpoint: z.number(),
  /** Temperature outside the insulated space, °C. */
  ambient: z.number(),
  /** Insulation: how fast the inside drifts to ambient with no cooling (e-folding time). */
  timeConstant: durationMs,
  /** Pull-down of the cooling unit while it runs, °C per hour. */
  coolingRate: z.number().positive(),
  /** Compressor switches on at setpoint + hysteresis/2, off at setpoint − hysteresis/2. */
  hysteresis: z.number().positive().default(1.5),
  /** Sensor noise, standard deviation in °C (GSP sensors: ±0.5 °C). */
  noise: z.number().min(0).max(1).default(0.15),
  /** Relative humidity at the setpoint, and outside. */
  humidity: z.number().min(0).max(100).default(55),
  ambientHumidity: z.number().min(0).max(100).default(70),
  /** The start temperature; defaults to the setpoint. */
  initial: z.number().optional(),
  /** How many times faster air is exchanged with the door open than through the walls. */
  doorAirExchange: z.number().min(1).default(12),
};

const storeSchema = z.object({
  location: identifier,
  devices: z.array(simDevice).min(1),
  ...thermal,
  defrost: z
    .object({
      every: durationMs,
      duration: durationMs,
      heatingRate: z.number().positive(),
      /** Local wall-clock time of one defrost start (controllers run on a clock); without it, cycles count from the scenario start. */
      startsAt: z
        .string()
        .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'write a time of day as HH:MM')
        .optional(),
      utcOffset: z
        .string()
        .regex(/^[+-]\d{2}:\d{2}$/, 'write an offset as +HH:MM')
        .default('+00:00'),
    })
    .optional(),
  doorOpenings: z.array(window).default([]),
  /** Routine door openings (picking, put-away): `duration` every `every`, from `at`. */
  doorRoutine: z.object({ every: durationMs, duration: durationMs, at: durationMs.prefault('0s') }).optional(),
  powerFailures: z.array(window).default([]),
  faults: z.array(sensorFault).default([]),
});

const waypoint = z.object({
  name: z.string(),
  lat: z.number().min(-90).max(90),
  lon: z.number().min(-180).max(180),
  stop: durationMs.prefault('0s'),
  doorOpen: durationMs.prefault('0s'),
});

const vehicleSchema = z.object({
  location: identifier,
  devices: z.array(simDevice).min(1),
  ...thermal,
  route: z.array(waypoint).min(2),
  speedKmh: z.number().positive().default(60),
  /** The route starts over this long after each start (a daily delivery round). */
  repeatEvery: durationMs.optional(),
  reeferFailures: z.array(window).default([]),
  /** Tunnels and rural roads: devices buffer and upload the backlog when coverage returns. */
  coverageGaps: z.array(window).default([]),
  batteryDrainPerDay: z.number().min(0).default(5),
  faults: z.array(sensorFault).default([]),
});

export const scenarioSchema = z
  .object({
    name: z.string(),
    description: z.string(),
    /** What a correct monitoring system must detect in this scenario. */
    expect: z.string().default(''),
    duration: durationMs.optional(),
    stores: z.array(storeSchema).default([]),
    vehicles: z.array(vehicleSchema).default([]),
    load: z.object({ devices: z.number().int().positive(), rate: z.number().positive(), location: identifier, prefix: identifier.default('load') }).optional(),
  })
  .superRefine((scenario, ctx) => {
    const ids = new Map<string, string>();
    const check = (group: 'stores' | 'vehicles', index: number, devices: Array<{ id: string }>, faults: Array<{ device: string }>) => {
      devices.forEach((device, d) => {
        if (ids.has(device.id))
          ctx.addIssue({ code: 'custom', path: [group, index, 'devices', d, 'id'], message: `device "${device.id}" is already used by ${ids.get(device.id)}` });
        ids.set(device.id, `${group}[${index}]`);
      });
      faults.forEach((fault, f) => {
        if (!devices.some((d) => d.id === fault.device))
          ctx.addIssue({ code: 'custom', path: [group, index, 'faults', f, 'device'], message: `"${fault.device}" is not one of this entry's devices` });
      });
    };
    scenario.stores.forEach((store, i) => check('stores', i, store.devices, store.faults));
    scenario.vehicles.forEach((vehicle, i) => check('vehicles', i, vehicle.devices, vehicle.faults));
    if (!scenario.stores.length && !scenario.vehicles.length && !scenario.load)
      ctx.addIssue({ code: 'custom', path: [], message: 'a scenario needs stores, vehicles or load' });
  });

export type Scenario = z.infer<typeof scenarioSchema>;
export type StoreSpec = z.infer<typeof storeSchema>;
export type VehicleSpec = z.infer<typeof vehicleSchema>;
export type SensorFault = z.infer<typeof sensorFault>;
export type TimeWindow = z.infer<typeof window>;

const here = path.dirname(fileURLToPath(import.meta.url));
// Run from source (tests) or from dist/ (the CLI): the YAML files stay in simulator/scenarios.
const BUILT_IN_DIR =
  [path.join(here, 'scenarios'), path.join(here, '..', '..', 'simulator', 'scenarios')].find((dir) => existsSync(dir)) ?? path.join(here, 'scenarios');

export function builtInScenarios(): string[] {
  return [
    'demo',
    'door-left-open',
    'freezer-defrost',
    'power-outage',
    'reefer-failure-in-tunnel',
    'long-haul-with-coverage-gaps',
    'cold-room-week',
    'freezer-week',
    'reefer-week',
    'load',
  ];
}

/** A shipped scenario by name, or a scenario file (YAML or JSON). */
export function loadScenario(nameOrFile: string): Scenario {
  const builtIn = path.join(BUILT_IN_DIR, `${nameOrFile}.yaml`);
  const file = existsSync(builtIn) && !nameOrFile.includes('/') ? builtIn : path.resolve(nameOrFile);
  if (!existsSync(file)) throw new Error(`no scenario "${nameOrFile}": not a shipped one (${builtInScenarios().join(', ')}) nor a file`);
  return parseYamlWith(scenarioSchema, readFileSync(file, 'utf8'), file, 'scenario');
}
