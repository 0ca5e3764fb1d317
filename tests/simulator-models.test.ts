import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../core/config/load.js';
import { SAMPLE_CONFIG } from '../cli/sample-config.js';
import { profilesByLocation } from '../cli/simulate.js';
import { ThermalSpace, passiveWarming } from '../simulator/models/thermal.js';
import { Route, haversineKm } from '../simulator/models/route.js';
import { renderScenario, STEP_MS, type SimMessage } from '../simulator/render.js';
import { loadScenario } from '../simulator/scenario.js';

const profileByLocation = profilesByLocation(parseConfigText(SAMPLE_CONFIG, 'sample'));
const START = Date.parse('2026-11-20T00:00:00Z');
const HOUR = 3_600_000;
const coldRoom = {
  setpoint: 5,
  ambient: 22,
  timeConstantMs: 8 * HOUR,
  coolingRatePerHour: 6,
  hysteresis: 2,
  humidity: 55,
  ambientHumidity: 70,
  doorAirExchange: 12,
};
const quiet = { doorOpen: false, coolingFailed: false, heatingRatePerHour: 0 };

function run(space: ThermalSpace, ms: number, disturbances = quiet): number[] {
  const trace: number[] = [];
  for (let t = 0; t < ms; t += STEP_MS) {
    space.step(STEP_MS, disturbances);
    trace.push(space.temperature);
  }
  return trace;
}

function render(name: string, seed: string | number = 7): SimMessage[] {
  const scenario = loadScenario(name);
  return [...renderScenario(scenario, { seed, start: START, end: START + (scenario.duration ?? 6 * HOUR), profileByLocation }).messages];
}

describe('simulator models', () => {
  it('a cold room cycles its compressor within setpoint ± hysteresis/2', () => {
    const trace = run(new ThermalSpace(coldRoom), 12 * HOUR).slice(360);
    expect(Math.min(...trace)).toBeGreaterThan(3.9);
    expect(Math.max(...trace)).toBeLessThan(6.1);
  });

  it('an open door pulls the room towards ambient, and it recovers once closed', () => {
    const space = new ThermalSpace(coldRoom);
    run(space, 2 * HOUR);
    const before = space.temperature;
    const open = run(space, 25 * 60_000, { ...quiet, doorOpen: true });
    expect(Math.max(...open)).toBeGreaterThan(8);
    const after = run(space, 2 * HOUR);
    expect(after.at(-1)!).toBeGreaterThan(3.5);
    expect(after.at(-1)!).toBeLessThan(6.5);
    expect(Math.max(...open)).toBeGreaterThan(before + 3);
  });

  it('a power failure follows the passive warming curve T = Ta + (T0 − Ta)·e^(−t/τ)', () => {
    const space = new ThermalSpace(coldRoom);
    run(space, 3 * HOUR);
    const t0 = space.temperature;
    const trace = run(space, 3 * HOUR, { ...quiet, coolingFailed: true });
    trace.forEach((temperature, i) => expect(temperature).toBeCloseTo(passiveWarming(t0, 22, 8 * HOUR, (i + 1) * STEP_MS), 9));
    expect(trace.at(-1)!).toBeCloseTo(22 + (t0 - 22) * Math.exp(-3 / 8), 9);
  });

  it('moves a vehicle along its route at its speed, door open only at stops', () => {
    const route = new Route({
      speedKmh: 60,
      route: [
        { name: 'A', lat: 31.2304, lon: 121.4737, stop: 10 * 60_000, doorOpen: 3 * 60_000 },
        { name: 'B', lat: 30.2741, lon: 120.1551, stop: 0, doorOpen: 0 },
      ],
    });
    const km = haversineKm({ lat: 31.2304, lon: 121.4737 }, { lat: 30.2741, lon: 120.1551 });
    expect(km).toBeGreaterThan(160);
    expect(km).toBeLessThan(170);
    expect(route.at(60_000)).toMatchObject({ doorOpen: true, moving: false });
    expect(route.at(5 * 60_000)).toMatchObject({ doorOpen: false, moving: false });
    expect(route.at(10 * 60_000 + ((km / 60) * HOUR) / 2)).toMatchObject({ moving: true });
    expect(route.durationMs).toBeCloseTo(10 * 60_000 + (km / 60) * HOUR, 0);
  });

  it('same seed → identical readings; another seed → other noise', () => {
    const a = JSON.stringify(render('door-left-open', 'x'));
    expect(JSON.stringify(render('door-left-open', 'x'))).toBe(a);
    expect(JSON.stringify(render('door-left-open', 'y'))).not.toBe(a);
  });

  it('buffers readings in a coverage gap and uploads them afterwards in order with their original timestamps', () => {
    const messages = render('reefer-failure-in-tunnel').filter((m) => m.deviceId === 'sim-tunnel-a');
    const gapStart = START + HOUR;
    const gapEnd = START + HOUR + 45 * 60_000;
    const batches = messages.filter((m) => m.batch);
    expect(batches.length).toBeGreaterThan(0);
    const buffered = batches.flatMap((m) => m.readings);
    expect(buffered.length).toBeGreaterThanOrEqual(44);
    for (const m of batches) expect(m.publishAt).toBeGreaterThanOrEqual(gapEnd);
    expect(buffered.every((r) => r.ts >= gapStart && r.ts < gapEnd)).toBe(true);
    expect(buffered.map((r) => r.ts)).toEqual([...buffered.map((r) => r.ts)].sort((x, y) => x - y));
    // Nothing is published from inside the gap, and no reading is lost: seq has no holes.
    expect(messages.some((m) => m.publishAt >= gapStart && m.publishAt < gapEnd)).toBe(false);
    const seqs = messages.flatMap((m) => m.readings.map((r) => r.seq)).sort((x, y) => x - y);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    // The excursion the reefer failure causes starts inside the gap.
    const hot = buffered.find((r) => r.temperature > 8);
    expect(hot).toBeDefined();
  });

  it('a sensor dropout leaves a hole in seq and is listed as device_silent in the ground truth', () => {
    const scenario = loadScenario('long-haul-with-coverage-gaps');
    const rendered = renderScenario(scenario, { seed: 3, start: START, end: START + scenario.duration!, profileByLocation });
    const b = [...rendered.messages].filter((m) => m.deviceId === 'sim-haul-b').flatMap((m) => m.readings.map((r) => r.seq));
    const missing = Array.from({ length: Math.max(...b) }, (_, i) => i + 1).filter((s) => !b.includes(s));
    expect(missing).toHaveLength(8); // 40 minutes at 5-minute intervals
    expect(rendered.groundTruth()).toEqual([
      {
        deviceId: 'sim-haul-b',
        locationId: 'truck-hu-a12345-box',
        kind: 'device_silent',
        occurredAt: new Date(START + 8 * HOUR).toISOString(),
        clearedAt: new Date(START + 8 * HOUR + 40 * 60_000).toISOString(),
      },
    ]);
  });

  it('a bad scenario file is refused with the line and key', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'cc-scn-')), 'bad.yaml');
    const scenario = (timeConstant: string, faultDevice: string) =>
      `name: x\ndescription: y\nstores:\n  - location: dc-sh-cold-room-1\n    devices: [{ id: a }]\n    setpoint: 5\n    ambient: 22\n    timeConstant: ${timeConstant}\n    coolingRate: 6\n    faults: [{ kind: stuck, device: ${faultDevice}, at: 1h, duration: 5m }]\n`;
    writeFileSync(file, scenario('soon', 'a'));
    expect(() => loadScenario(file)).toThrow(/invalid scenario\n {2}- line 8: stores\[0\]\.timeConstant: "soon" is not a duration/);
    writeFileSync(file, scenario('8h', 'b'));
    expect(() => loadScenario(file)).toThrow(/line 10: stores\[0\]\.faults\[0\]\.device: "b" is not one of this entry's devices/);
  });
});
