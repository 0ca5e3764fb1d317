import { describe, expect, it, vi } from 'vitest';
import { parseConfigText } from '../core/config/load.js';
import { Registry } from '../core/registry.js';
import { SAMPLE_CONFIG } from '../cli/sample-config.js';
import { AlertEngine, type AlertChange } from '../alerts/engine.js';
import { plainCopy } from '../alerts/evaluator.js';
import type { AcceptedBatch } from '../ingestor/records.js';
import { testAlert } from './helpers/alarms.js';

const MIN = 60_000;
const T0 = Date.parse('2026-11-20T00:00:00Z');
const config = parseConfigText(
  SAMPLE_CONFIG.replace(
    'devices: []',
    `devices:\n  - { id: room-s1, location: dc-sh-cold-room-1, interval: 1m, tokenHash: "sha256:${'0'.repeat(64)}" }\n  - { id: truck-s1, location: truck-hu-a12345-box, interval: 1m, tokenHash: "sha256:${'1'.repeat(64)}" }`,
  ),
  'test',
);
const registry = new Registry(config);

type Reading = AcceptedBatch['readings'][number];
/** One reading a minute from `start`, temperatures as given. */
const series = (start: number, temperatures: number[], extra: Partial<Reading> = {}): Reading[] =>
  temperatures.map((temperature, i) => ({ ts: start + i * MIN, temperature, ...extra }));
const batch = (deviceId: string, readings: Reading[]): AcceptedBatch => ({ deviceId, siteId: 'x', locationId: 'x', receivedAt: 0, readings });

function run(feeds: Array<{ device?: string; readings: Reading[]; at?: number }>): AlertChange[] {
  let now = T0;
  const engine = new AlertEngine(() => registry, { now: () => now });
  const changes: AlertChange[] = [];
  engine.on('change', (c) => changes.push(c));
  for (const feed of feeds) {
    now = feed.at ?? Math.max(...feed.readings.map((r) => r.ts)) + 1000;
    engine.ingest(batch(feed.device ?? 'room-s1', feed.readings));
  }
  return changes;
}
const of = (changes: AlertChange[], kind: string) => changes.filter((c) => c.kind === kind);
/** The sample freezer's entry, from its id to the last of its defrost windows. */
const FREEZER = / {6}- id: dc-sh-freezer-1\n[\s\S]*?from: "20:00"[^\n]*\n/;
const steady = (n: number, t = 5) => Array.from({ length: n }, () => t);

describe('per-location rules and suppression windows', () => {
  const overridden = new Registry(
    parseConfigText(
      SAMPLE_CONFIG.replace(
        FREEZER,
        '      - { id: dc-sh-freezer-1, name: Freezer 1, kind: freezer, profile: frozen-medicine, areaM2: 40, alerts: { activationDelay: 0s, severity: { excursion: critical } }, suppress: [{ reason: defrost, from: "02:00", to: "02:30", utcOffset: "+08:00" }] }\n',
      ).replace('devices: []', `devices:\n  - { id: fz-s1, location: dc-sh-freezer-1, interval: 1m, tokenHash: "sha256:${'2'.repeat(64)}" }`),
      'test',
    ),
  );

  it('a location overrides its profile rules (delay and severity here) and keeps the rest', () => {
    const rules = overridden.device('fz-s1')!.rules;
    expect(rules).toMatchObject({ activationDelay: 0, warningBand: 0.5, severity: { excursion: 'critical', warning: 'warning' } });
  });

  it('a defrost window (local time) opens no alarm; the same warming outside it does', () => {
    const now = 0;
    const engine = new AlertEngine(() => overridden, { now: () => now });
    const changes: AlertChange[] = [];
    engine.on('change', (c) => changes.push(c));
    // 02:05–02:14 China time = 18:05–18:14 UTC the day before.
    const inWindow = Date.parse('2026-11-19T18:05:00Z');
    engine.ingest(batch('fz-s1', series(inWindow, [-13, -12, -12.5, -13, -14, -20, -21])));
    expect(changes.filter((c) => c.kind === 'temperature_high')).toEqual([]);
    const outside = Date.parse('2026-11-19T20:05:00Z');
    engine.ingest(batch('fz-s1', series(outside, [-13, -21])));
    expect(changes.filter((c) => c.kind === 'temperature_high').map((c) => [c.state, c.severity, c.occurredAt])).toEqual([
      ['active', 'critical', outside],
      ['cleared', 'critical', outside],
    ]);
  });

  it('an invalid override names the location key', () => {
    expect(() =>
      parseConfigText(SAMPLE_CONFIG.replace('        areaM2: 40\n', '        areaM2: 40\n        alerts: { activationDelay: soon }\n'), 'cfg'),
    ).toThrow(/sites\[0\]\.locations\[1\]\.alerts\.activationDelay: "soon" is not a duration/);
  });
});

describe('alert rules on device time', () => {
  it('a short spike under the activation delay raises no alarm', () => {
    const changes = run([{ readings: series(T0, [...steady(10), 9.8, 9.9, 9.5, ...steady(10)]) }]);
    expect(of(changes, 'temperature_high').map((c) => c.state)).toEqual(['pending', 'discarded']);
  });

  it('20 min at 9.5 °C in a 2–8 °C room: one alarm whose occurredAt is the first reading above 8 °C', () => {
    const readings = series(T0, [...steady(10), ...steady(20, 9.5), ...steady(10)]);
    // Live: one reading at a time, each processed a second after it was taken.
    const changes = of(run(readings.map((r) => ({ readings: [r] }))), 'temperature_high');
    expect(changes.map((c) => c.state)).toEqual(['pending', 'active', 'cleared']);
    expect(changes[1]).toMatchObject({
      occurredAt: T0 + 10 * MIN,
      activatedAt: T0 + 20 * MIN,
      threshold: 8,
      peak: 9.5,
      severity: 'major',
      late: false,
      siteId: 'dc-shanghai',
      locationId: 'dc-sh-cold-room-1',
    });
    expect(changes[2]).toMatchObject({ id: changes[1]!.id, clearedAt: T0 + 30 * MIN, durationMs: 20 * MIN });
  });

  it('crossing only the warning band (临界值) raises a warning, not an alarm', () => {
    const changes = run([{ readings: series(T0, [...steady(5), ...steady(15, 7.7), ...steady(5)]) }]);
    expect(of(changes, 'temperature_high')).toEqual([]);
    expect(of(changes, 'temperature_warning_high').map((c) => [c.state, c.severity, c.threshold])).toEqual([
      ['pending', 'warning', 7.5],
      ['active', 'warning', 7.5],
      ['cleared', 'warning', 7.5],
    ]);
  });

  it('oscillation around the limit does not flap (clear hysteresis)', () => {
    const wobble = Array.from({ length: 40 }, (_, i) => (i % 2 ? 7.9 : 8.2));
    const changes = of(run([{ readings: series(T0, [...steady(5), ...wobble, ...steady(5)]) }]), 'temperature_high');
    expect(changes.map((c) => c.state)).toEqual(['pending', 'active', 'cleared']);
  });

  it('several short excursions exhaust the cumulative budget: cumulative alarm, no excursion alarm', () => {
    const burst = [...steady(8, 9), ...steady(20)];
    const readings = series(T0, Array.from({ length: 9 }, () => burst).flat());
    const changes = run([{ readings }]);
    expect(of(changes, 'temperature_high').filter((c) => c.state === 'active')).toEqual([]);
    const cumulative = of(changes, 'cumulative_time_out_of_range');
    expect(cumulative[0]).toMatchObject({ state: 'active', threshold: 60 * MIN });
    // 8 bursts of 8 minutes = 64 minutes > 60: the eighth burst exhausts it.
    expect(cumulative[0]!.occurredAt).toBe(T0 + (7 * 28 + 5) * MIN);
  });

  it('a store-and-forward batch uploaded hours later reveals a past excursion, marked late', () => {
    const live = series(T0, steady(30));
    const backlog = series(T0 + 30 * MIN, [...steady(30, 10.5), ...steady(90)]);
    const changes = run([
      { device: 'truck-s1', readings: live },
      { device: 'truck-s1', readings: backlog, at: T0 + 4 * 3_600_000 },
    ]);
    const alarm = of(changes, 'temperature_high');
    expect(alarm.map((c) => c.state)).toEqual(['pending', 'active', 'cleared']);
    expect(alarm[1]).toMatchObject({ occurredAt: T0 + 30 * MIN, late: true, detectedAt: T0 + 4 * 3_600_000, locationId: 'truck-hu-a12345-box' });
  });

  it('a backfill older than live data is evaluated in device-time order (insert and replay)', () => {
    const live = series(T0 + 120 * MIN, steady(30));
    const past = series(T0, [...steady(30), ...steady(25, 11), ...steady(65)]);
    const changes = run([{ readings: live }, { readings: past, at: T0 + 160 * MIN }]);
    const alarm = of(changes, 'temperature_high');
    expect(alarm.map((c) => [c.state, c.occurredAt, c.clearedAt ?? null, c.late])).toEqual([
      ['pending', T0 + 30 * MIN, null, true],
      ['active', T0 + 30 * MIN, null, true],
      ['cleared', T0 + 30 * MIN, T0 + 55 * MIN, true],
    ]);
  });

  it('the same readings in any arrival order give the same alerts', () => {
    const readings = series(T0, [...steady(20), ...steady(15, 9.2), ...steady(10), ...steady(12, 1.2), ...steady(30), ...steady(3, 8.4), ...steady(60)], {
      humidity: 50,
    });
    const final = (changes: AlertChange[]) => {
      const last = new Map<string, AlertChange>();
      for (const c of changes) last.set(c.id, c);
      return [...last.values()]
        .filter((c) => c.state !== 'retracted')
        .map(({ id, kind, state, occurredAt, activatedAt, clearedAt, peak }) => ({ id, kind, state, occurredAt, activatedAt, clearedAt, peak }))
        .sort((a, b) => a.id.localeCompare(b.id));
    };
    const inOrder = final(run([{ readings }]));
    expect(inOrder.length).toBeGreaterThan(2);
    let seed = 7;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    for (let round = 0; round < 5; round++) {
      const shuffled = [...readings].sort(() => random() - 0.5);
      const chunks: Reading[][] = [];
      for (let i = 0; i < shuffled.length; i += 7) chunks.push(shuffled.slice(i, i + 7));
      expect(final(run(chunks.map((c) => ({ readings: c }))))).toEqual(inOrder);
    }
  });

  it('the cumulative budget over days of bursts is the same judged live and with late holes backfilled, whole or fractional device times', () => {
    // Long enough that the history is pruned and the out-of-range log forgets its front (the
    // checkpoints share it); fractional device times take the summed-afresh path.
    for (const jitter of [0, 0.25]) {
      // Ten 8-minute bursts spend the budget, a 20-hour failure, then a day and a bit in range lets the window empty.
      const day = [...Array.from({ length: 10 }, () => [...steady(8, 9), ...steady(20)]).flat(), ...steady(1200, 9), ...steady(1500)];
      const readings = series(T0, Array.from({ length: 4 }, () => day).flat()).map((r, i) => ({ ...r, ts: r.ts + (i % 3 === 0 ? jitter : 0) }));
      const judge = (feeds: Reading[][]) => {
        let now = T0;
        const engine = new AlertEngine(() => registry, { now: () => now, maxReadingsPerDevice: 400 });
        const last = new Map<string, AlertChange>();
        engine.on('change', (c) => last.set(c.id, c));
        for (const feed of feeds) {
          now = Math.max(now, ...feed.map((r) => r.ts)) + 1000;
          engine.ingest(batch('room-s1', feed));
        }
        return [...last.values()]
          .filter((c) => c.state !== 'retracted' && c.kind === 'cumulative_time_out_of_range')
          .map(({ id, state, occurredAt, clearedAt, peak, relapses }) => ({ id, state, occurredAt, clearedAt, peak, relapses }));
      };
      const live = judge(readings.map((r) => [r]));
      expect(live.length).toBeGreaterThan(3);
      // Holes of 30 readings every 500, each sent 200 readings late.
      const late: Reading[][] = [];
      const held = new Map<number, Reading[]>();
      readings.forEach((r, i) => {
        if (i % 500 >= 100 && i % 500 < 130) (held.get(i - (i % 500) + 330) ?? held.set(i - (i % 500) + 330, []).get(i - (i % 500) + 330)!).push(r);
        else late.push([r]);
        const due = held.get(i);
        if (due) late.push(due);
      });
      expect(judge(late)).toEqual(live);
    }
  });

  it('an alert that backfilled readings disprove is retracted, not hidden', () => {
    const early = series(T0, steady(10));
    const late = series(T0 + 20 * MIN, steady(10));
    const gap = series(T0 + 10 * MIN, steady(10));
    const silent = of(run([{ readings: early }, { readings: late }, { readings: gap }]), 'device_silent');
    expect(silent.map((c) => [c.state, c.occurredAt])).toEqual([
      ['cleared', T0 + 12 * MIN],
      ['retracted', T0 + 12 * MIN],
    ]);
  });

  it('a backlog uploaded for longer than the coalescing pause is judged once; live readings meanwhile are judged at once', () => {
    vi.useFakeTimers();
    try {
      let now = T0 + 310 * MIN;
      const engine = new AlertEngine(() => registry, { now: () => now, coalesceMs: 250 });
      const changes: AlertChange[] = [];
      engine.on('change', (c) => changes.push(c));
      engine.ingest(batch('room-s1', series(T0, steady(10))));
      engine.ingest(batch('room-s1', series(T0 + 310 * MIN, [5])));
      // 300 messages, 40 ms apart: 12 s of upload, never a 250 ms pause. Judged every 2 s, each
      // part moved the gap it left and raised and retracted a gap alarm of its own.
      for (let i = 10; i < 310; i++) {
        now += 40;
        vi.advanceTimersByTime(40);
        engine.ingest(batch('room-s1', series(T0 + i * MIN, [5])));
        if (i === 150) {
          engine.ingest(batch('room-s1', series(T0 + 311 * MIN, [5])));
          expect(engine.recent('room-s1', T0 + 311 * MIN)).toEqual([[T0 + 311 * MIN, 5]]);
        }
      }
      vi.advanceTimersByTime(300);
      const silent = of(changes, 'device_silent');
      expect(silent.map((c) => c.state)).toEqual(['cleared', 'retracted']);
      expect(new Set(silent.map((c) => c.id)).size).toBe(1);
      expect(engine.recent('room-s1', T0)).toHaveLength(312);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a device-time gap beyond 3 intervals is a device_silent episode over the gap', () => {
    const readings = [...series(T0, steady(10)), ...series(T0 + 40 * MIN, steady(5))];
    const [silent] = of(run([{ readings }]), 'device_silent');
    expect(silent).toMatchObject({ state: 'cleared', occurredAt: T0 + 12 * MIN, clearedAt: T0 + 40 * MIN, peak: 31 * MIN, threshold: 3 * MIN });
  });

  it('live silence: no data for 3 intervals raises device_silent; the next reading clears the same alert', () => {
    let now = T0;
    const engine = new AlertEngine(() => registry, { now: () => now });
    const changes: AlertChange[] = [];
    engine.on('change', (c) => changes.push(c));
    engine.ingest(batch('room-s1', series(T0 - 5 * MIN, steady(5))));
    now = T0 + 2 * MIN;
    engine.checkSilence();
    expect(changes).toEqual([]);
    now = T0 + 4 * MIN;
    engine.checkSilence();
    engine.checkSilence();
    expect(changes.map((c) => [c.kind, c.state, c.occurredAt])).toEqual([['device_silent', 'active', T0 - MIN + 3 * MIN]]);
    now = T0 + 10 * MIN;
    engine.ingest(batch('room-s1', series(T0 + 9 * MIN, [5])));
    expect(changes.map((c) => [c.id, c.state])).toEqual([
      [changes[0]!.id, 'active'],
      [changes[0]!.id, 'cleared'],
    ]);
  });

  it('door open longer than doorOpenMax, and a low battery', () => {
    const readings = series(T0, steady(20), { battery: 50 }).map((r, i) => ({ ...r, door: i >= 5 && i < 12, battery: i >= 15 ? 12 : 50 }));
    const changes = run([{ readings }]);
    expect(of(changes, 'door_open').map((c) => [c.state, c.occurredAt, c.activatedAt])).toEqual([
      ['pending', T0 + 5 * MIN, undefined],
      ['active', T0 + 5 * MIN, T0 + 10 * MIN],
      ['cleared', T0 + 5 * MIN, T0 + 10 * MIN],
    ]);
    expect(of(changes, 'battery_low')[0]).toMatchObject({ state: 'active', peak: 12, threshold: 20 });
  });
});

describe('memory stays bounded (issue 12, item 7)', () => {
  it('finished alerts leave the book after the retention, open ones never; a never-active (discarded) one after an hour', async () => {
    const { AlertBook } = await import('../alerts/book.js');
    const book = new AlertBook();
    const base = {
      kind: 'temperature_high',
      severity: 'major',
      siteId: 's',
      locationId: 'l',
      deviceId: 'd',
      occurredAt: T0,
      activatedAt: T0,
      detectedAt: T0,
      threshold: 8,
      peak: 9,
      incidentId: null,
      tier: 0,
    } as const;
    book.set(testAlert({ ...base, id: 'open', state: 'active' }));
    book.set(testAlert({ ...base, id: 'closed-old', state: 'closed', closed: { by: 'q', printedName: 'Q', at: T0 + MIN, meaning: 'closed', comment: 'ok' } }));
    book.set(
      testAlert({
        ...base,
        id: 'closed-new',
        state: 'closed',
        closed: { by: 'q', printedName: 'Q', at: T0 + 10 * 86_400_000, meaning: 'closed', comment: 'ok' },
      }),
    );
    book.set(testAlert({ ...base, id: 'discarded', state: 'discarded', activatedAt: null }));
    expect(book.evict(T0 + 7 * 86_400_000, T0 + 30 * MIN)).toBe(2);
    expect(
      book
        .list()
        .map((a) => a.id)
        .sort(),
    ).toEqual(['closed-new', 'open']);
  });
});

describe('the trend an alarm text shows', () => {
  /** Two hours of a wandering temperature (ties included), one reading a minute, and the readings of a window of it. */
  function wandering(temperature: (i: number) => number, since: number, until: number) {
    const engine = new AlertEngine(() => registry, { now: () => T0 + 200 * MIN });
    const temperatures = Array.from({ length: 120 }, (_, i) => temperature(i));
    engine.ingest(batch('room-s1', series(T0, temperatures)));
    return { engine, temperatures, hour: engine.recent('room-s1', since).filter(([ts]) => ts <= until) };
  }

  it("trendPoints gives the hour's first, lowest, highest and last readings in time order, as the whole hour would", () => {
    const since = T0 + 60 * MIN;
    const until = T0 + 110 * MIN;
    const { engine, temperatures, hour } = wandering((i) => 5 + Math.round(Math.sin(i / 7) * 10 + ((i * 37) % 11) / 10) / 10, since, until);
    const points = engine.trendPoints('room-s1', since, until);
    const values = hour.map(([, t]) => t);
    expect(points.length).toBeLessThanOrEqual(4);
    expect(points[0]).toEqual(hour[0]);
    expect(points.at(-1)).toEqual(hour.at(-1));
    expect(Math.min(...points.map(([, t]) => t))).toBe(Math.min(...values));
    expect(Math.max(...points.map(([, t]) => t))).toBe(Math.max(...values));
    expect(points.map(([ts]) => ts)).toEqual([...points.map(([ts]) => ts)].sort((a, b) => a - b));
    // One reading is one point; none, none.
    expect(engine.trendPoints('room-s1', T0 + 119 * MIN, T0 + 119 * MIN)).toEqual([[T0 + 119 * MIN, temperatures[119]]]);
    expect(engine.trendPoints('room-s1', T0 + 500 * MIN, T0 + 600 * MIN)).toEqual([]);
    expect(engine.trendPoints('nobody', since, until)).toEqual([]);
  });

  it("trendPoints in slices keeps each slice's lowest and highest, the first and the last, and every reading when slices are finer", () => {
    const since = T0 + 3 * MIN;
    const until = T0 + 116 * MIN;
    const { engine, hour } = wandering((i) => 5 + Math.round(Math.sin(i / 5) * 30 + ((i * 53) % 17) / 10) / 10, since, until);
    const slices = 10;
    const points = engine.trendPoints('room-s1', since, until, slices);
    expect(points.length).toBeLessThanOrEqual(2 + 2 * slices);
    expect(points.length).toBeLessThan(hour.length);
    expect(points[0]).toEqual(hour[0]);
    expect(points.at(-1)).toEqual(hour.at(-1));
    expect(points.map(([ts]) => ts)).toEqual([...new Set(points.map(([ts]) => ts))].sort((a, b) => a - b));
    const width = (until - since + 1) / slices;
    for (let k = 0; k < slices; k++) {
      const inSlice = ([ts]: [number, number]) => Math.min(slices - 1, Math.floor((ts - since) / width)) === k;
      const all = hour.filter(inSlice).map(([, t]) => t);
      const kept = points.filter(inSlice).map(([, t]) => t);
      expect(Math.min(...kept)).toBe(Math.min(...all));
      expect(Math.max(...kept)).toBe(Math.max(...all));
    }
    // Slices finer than the readings: every reading, as the whole hour.
    expect(engine.trendPoints('room-s1', since, until, 1000)).toEqual(hour);
  });
});

describe('checkpoints', () => {
  it('copy the state as structuredClone did: random plain data, and the states a device goes through', () => {
    let seed = 5;
    const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const value = (depth: number): unknown => {
      const roll = random();
      if (depth > 3 || roll < 0.4) return [1.5, -0, Number.NaN, 0, undefined, null, 'text', true, 1_764_000_000_000][Math.floor(random() * 9)];
      if (roll < 0.7) return Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1));
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(random() * 5); i > 0; i--)
        o[['open', 'last', 'ts', 'temperature', 'peak', 'excursion', 'x'][Math.floor(random() * 7)]!] = value(depth + 1);
      return o;
    };
    for (let i = 0; i < 2000; i++) {
      const data = value(0);
      expect(plainCopy(data)).toStrictEqual(structuredClone(data));
      // A copy, not the same objects: a checkpoint must not change with the state it was taken of.
      if (typeof data === 'object' && data !== null) {
        const copy = plainCopy(data);
        expect(copy).not.toBe(data);
        for (const [key, value] of Object.entries(data))
          if (typeof value === 'object' && value !== null) expect((copy as Record<string, unknown>)[key]).not.toBe(value);
      }
    }
    // Every state of a device through excursions, door openings and a gap, as checkpoints copy it.
    const engine = new AlertEngine(() => registry, { now: () => T0 });
    const temperatures = [...steady(20), ...steady(15, 9.2), ...steady(10), ...steady(40, -3), ...steady(12, 1.2), ...steady(30), ...steady(70, 8.4)];
    engine.ingest(batch('room-s1', series(T0, temperatures, { humidity: 50, door: false })));
    engine.ingest(batch('room-s1', series(T0 + 400 * MIN, steady(200, 9), { door: true, battery: 10 })));
    const track = (engine as unknown as { devices: Map<string, { checkpoints: Array<{ state: unknown }> }> }).devices.get('room-s1')!;
    expect(track.checkpoints.length).toBeGreaterThan(4);
    for (const { state } of track.checkpoints) expect(plainCopy(state)).toStrictEqual(structuredClone(state));
  });
});
