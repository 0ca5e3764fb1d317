import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../core/config/load.js';
import { Registry } from '../core/registry.js';
import { SAMPLE_CONFIG } from '../cli/sample-config.js';
import { AlertEngine, type AlertChange } from '../alerts/engine.js';
import type { AcceptedBatch } from '../ingestor/records.js';
import { builtInScenarios, loadScenario } from '../simulator/scenario.js';
import { judgeScenarioInProcess } from '../simulator/judge.js';
import { expectedAlarms, judgeAlarms } from '../simulator/expected-alarms.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
// Midnight UTC = 08:00 in Shanghai, so the sample freezer's defrost windows are hit at known offsets.
const START = Date.parse('2026-11-20T00:00:00Z');
const sample = parseConfigText(SAMPLE_CONFIG, 'sample');
const NORMAL = new Set(['demo', 'cold-room-week', 'freezer-week', 'reefer-week']);

describe('every shipped scenario: the alarms a good system raises, and no others', () => {
  const scenarios = builtInScenarios().filter((name) => name !== 'load');
  for (const name of scenarios) {
    const scenario = loadScenario(name);
    const seeds = scenario.duration && scenario.duration > 2 * 24 * HOUR ? [1] : [1, 2, 3];
    it(`${name}: recall 100 %, precision ≥ 95 %${NORMAL.has(name) ? ', and nothing at all in normal operation' : ''} (seeds ${seeds.join(', ')})`, () => {
      for (const seed of seeds) {
        const judged = judgeScenarioInProcess(scenario, sample, { seed, start: START, durationMs: scenario.duration ?? 24 * HOUR });
        const explain = { seed, missed: judged.missed, unexpected: judged.unexpected };
        expect(judged.recall, JSON.stringify(explain)).toBe(1);
        expect(judged.precision, JSON.stringify(explain)).toBeGreaterThanOrEqual(0.95);
        if (NORMAL.has(name)) expect(judged.raisedAlarms, JSON.stringify(explain)).toEqual([]);
        else expect(judged.required).toBeGreaterThan(0);
      }
    });
  }

  it('door-left-open: per sensor at most a warning, an excursion and the door; all in the one room', () => {
    const judged = judgeScenarioInProcess(loadScenario('door-left-open'), sample, { seed: 7, start: START, durationMs: 3 * HOUR });
    const kinds = judged.raisedAlarms.map((a) => `${a.deviceId} ${a.kind}`).sort();
    expect(kinds).toEqual([
      'sim-door-a door_open',
      'sim-door-a temperature_high',
      'sim-door-a temperature_warning_high',
      'sim-door-b door_open',
      'sim-door-b temperature_high',
      'sim-door-b temperature_warning_high',
    ]);
  });

  it('the judge itself fails a system that misses an alarm or raises a false one', () => {
    const expected = [{ deviceId: 'd', locationId: 'l', kind: 'temperature_high' as const, from: START, to: START + HOUR, required: true, why: 'test' }];
    expect(judgeAlarms(expected, []).recall).toBe(0);
    const judged = judgeAlarms(expected, [
      { deviceId: 'd', kind: 'temperature_high', occurredAt: START + 5 * MIN, clearedAt: START + HOUR },
      { deviceId: 'd', kind: 'door_open', occurredAt: START, clearedAt: null },
    ]);
    expect([judged.recall, judged.precision, judged.unexpected.map((u) => u.kind)]).toEqual([1, 0.5, ['door_open']]);
  });

  it('expected alarms come from the physics: a long clear excursion is required, one within noise of the limit only allowed', () => {
    const steps = (values: number[]) => values.map((temperature, i) => ({ t: START + i * MIN, temperature, humidity: 50, door: false }));
    const placement = {
      range: sample.profiles[0]!,
      rules: new Registry({ ...sample, devices: [{ id: 'x', location: 'dc-sh-cold-room-1', interval: MIN, tokenHash: `sha256:${'0'.repeat(64)}` }] }).device(
        'x',
      )!.rules,
      suppress: [],
      offlineAfterMs: 3 * MIN,
    };
    const trace = (values: number[]) => ({
      deviceId: 'x',
      locationId: 'dc-sh-cold-room-1',
      intervalMs: MIN,
      noise: 0.15,
      steps: steps(values),
      readings: [],
      publishes: [],
    });
    const clear = expectedAlarms(trace([...Array(10).fill(5), ...Array(30).fill(9.5), ...Array(10).fill(5)]), placement, sample.alarms).filter(
      (e) => e.kind === 'temperature_high',
    );
    expect(clear.map((e) => e.required)).toEqual([true]);
    const borderline = expectedAlarms(trace([...Array(10).fill(5), ...Array(30).fill(8.1), ...Array(10).fill(5)]), placement, sample.alarms).filter(
      (e) => e.kind === 'temperature_high',
    );
    expect(borderline.map((e) => e.required)).toEqual([false]);
  });
});

describe('rules that do not fire on normal operation', () => {
  const devices = `devices:\n  - { id: room-s1, location: dc-sh-cold-room-1, interval: 1m, tokenHash: "sha256:${'0'.repeat(64)}" }`;
  const withRate = new Registry(
    parseConfigText(
      SAMPLE_CONFIG.replace(
        '    temperature: { min: 2, max: 8 }\n',
        '    temperature: { min: 2, max: 8 }\n    alerts: { maxRatePerHour: 10, warningBand: 0 }\n',
      ).replace('devices: []', devices),
      'rate',
    ),
  );
  const plain = new Registry(parseConfigText(SAMPLE_CONFIG.replace('devices: []', devices), 'plain'));
  const feed = (registry: Registry, temperatures: Array<number | [number, boolean]>): AlertChange[] => {
    let now = START;
    const engine = new AlertEngine(() => registry, { now: () => now });
    const changes: AlertChange[] = [];
    engine.on('change', (c) => changes.push(c));
    temperatures.forEach((value, i) => {
      const [temperature, door] = Array.isArray(value) ? value : [value, undefined];
      now = START + i * MIN + 1000;
      const reading: AcceptedBatch['readings'][number] = { ts: START + i * MIN, temperature, ...(door !== undefined ? { door } : {}) };
      engine.ingest({ deviceId: 'room-s1', siteId: '', locationId: '', receivedAt: now, readings: [reading] });
    });
    return changes;
  };
  const activations = (changes: AlertChange[], kind: string) => changes.filter((c) => c.kind === kind && c.state === 'active');

  it('rate of change is off by default: a compressor swing of 0.5 °C a minute raises nothing', () => {
    const swing = Array.from({ length: 120 }, (_, i) => 4 + Math.abs((i % 8) - 4) * 0.5);
    expect(feed(plain, swing).filter((c) => c.kind === 'rate_of_change')).toEqual([]);
  });

  it('when on, rate of change is a 15-minute regression with a delay: swings between readings raise nothing, a sustained climb raises one', () => {
    const swing = Array.from({ length: 120 }, (_, i) => 4 + Math.abs((i % 8) - 4) * 0.5);
    expect(activations(feed(withRate, swing), 'rate_of_change')).toEqual([]);
    // 0.25 °C a minute = 15 °C/h for 30 minutes.
    const climb = [...Array(20).fill(3), ...Array.from({ length: 30 }, (_, i) => 3 + i * 0.25), ...Array(30).fill(10.25)];
    const raised = activations(feed(withRate, climb), 'rate_of_change');
    expect(raised).toHaveLength(1);
    expect(raised[0]!.peak).toBeGreaterThan(14);
    // Not before the slope over the window has exceeded the limit for the 5-minute delay.
    expect(raised[0]!.activatedAt! - START).toBeGreaterThanOrEqual((20 + 5 + 5) * MIN);
    expect(raised[0]!.activatedAt! - START).toBeLessThanOrEqual((20 + 15 + 5) * MIN);
  });

  it('a door that keeps being left open is one alert, counted and flagged chattering, not one alert per opening', () => {
    const cycle = [...Array(7).fill([5, true]), ...Array(3).fill([5, false])] as Array<[number, boolean]>;
    const changes = feed(plain, [...cycle, ...cycle, ...cycle, ...Array(40).fill([5, false])]);
    const door = changes.filter((c) => c.kind === 'door_open');
    expect(new Set(door.map((c) => c.id)).size).toBe(1);
    expect(door.filter((c) => c.state === 'active').map((c) => [c.relapses, c.chattering])).toEqual([
      [0, false],
      [1, false],
      [2, true],
    ]);
    expect(door.at(-1)).toMatchObject({ state: 'cleared', relapses: 2, chattering: true });
  });

  it('after the fold window a new door alarm is a new alert', () => {
    const open = Array(7).fill([5, true]) as Array<[number, boolean]>;
    const changes = feed(plain, [...open, ...Array(40).fill([5, false]), ...open, [5, false]]);
    expect(new Set(changes.filter((c) => c.kind === 'door_open' && c.state === 'active').map((c) => c.id)).size).toBe(2);
  });
});
