import { describe, expect, it } from 'vitest';
import { analyseSensor, analysisOf, combineFigures, placeFigures, publicFigures, type Band, type SensorSeries } from '../reports/figures.js';
import { BUCKET_MS, bucketStart, buildBucket, composeSensor, type BucketJudging, type SensorBucket } from '../reports/buckets.js';
import { analyseSensorSequential } from './helpers/sequential-figures.js';

/**
 * Issue 15, item 2: figures composed from stored hour buckets are the figures computed from the
 * raw readings, to the last bit — on random data with gaps, sequence holes and restarts, missing
 * humidity, late arrivals, conflicting revisions (two readings at one device time), a range
 * version changing inside an hour, and windows that cut hours in two.
 */

const MIN = 60_000;
const ENERGY = 83.144;

/** A small seeded generator (mulberry32), so a failure can be replayed from its seed. */
function random(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Reading {
  t: number;
  temperature: number;
  humidity: number;
  seq: number;
  receivedAt: number;
}

/** Readings of one device every ~interval, with what goes wrong in the field. */
function randomReadings(rand: () => number, start: number, hours: number, intervalMs: number): Reading[] {
  const readings: Reading[] = [];
  let seq = 0;
  let temperature = 5;
  for (let t = start + Math.floor(rand() * intervalMs); t < start + hours * BUCKET_MS; ) {
    temperature += (rand() - 0.5) * 1.5;
    // Door openings and defrosts: excursions both ways, some across an hour's edge.
    if (rand() < 0.02) temperature = rand() < 0.5 ? 9.5 + rand() * 3 : 1 - rand() * 2;
    const value = Math.round(temperature * 100) / 100;
    const late = rand() < 0.1;
    const receivedAt = rand() < 0.05 ? Number.NaN : t + (late ? 20 * MIN + Math.floor(rand() * 6 * BUCKET_MS) : 1000);
    readings.push({ t, temperature: value, humidity: rand() < 0.1 ? Number.NaN : Math.round((50 + rand() * 35) * 10) / 10, seq, receivedAt });
    // A conflicting revision: a different reading at the same device time, arriving late.
    if (rand() < 0.03) readings.push({ t, temperature: value + 0.4, humidity: Number.NaN, seq, receivedAt: t + 3 * BUCKET_MS });
    seq += rand() < 0.03 ? 2 + Math.floor(rand() * 5) : 1;
    if (rand() < 0.01) seq = 0; // a restart
    // Gaps: now and then a silence of minutes to hours.
    t += rand() < 0.02 ? Math.floor(rand() * 3 * BUCKET_MS) : intervalMs + Math.floor((rand() - 0.5) * 0.2 * intervalMs);
  }
  return readings;
}

function seriesOf(deviceId: string, intervalMs: number, readings: readonly Reading[]): SensorSeries {
  const sorted = [...readings].sort((a, b) => a.t - b.t);
  return {
    deviceId,
    locationId: 'room-1',
    intervalMs,
    ts: sorted.map((r) => r.t),
    temperature: sorted.map((r) => r.temperature),
    humidity: sorted.map((r) => r.humidity),
    seq: sorted.map((r) => r.seq),
    receivedAt: sorted.map((r) => r.receivedAt),
  };
}

const inWindow = (s: SensorSeries, w: { start: number; end: number }): SensorSeries => {
  const keep = Array.from(s.ts).flatMap((t, i) => (t >= w.start && t < w.end ? [i] : []));
  const pick = (c: ArrayLike<number>) => keep.map((i) => c[i]!);
  return { ...s, ts: pick(s.ts), temperature: pick(s.temperature), humidity: pick(s.humidity), seq: pick(s.seq), receivedAt: pick(s.receivedAt!) };
};

/**
 * A bucket store as a service keeps it: whole hours, each built from that hour's readings alone
 * and kept as JSON; a late or conflicting reading rebuilds the hour it lands in.
 */
class Store {
  readonly hours = new Map<number, string>();
  rebuilt = 0;
  constructor(
    private readonly series: () => SensorSeries,
    private readonly judging: BucketJudging,
  ) {}

  rebuild(hour: number): void {
    const s = inWindow(this.series(), { start: hour, end: hour + BUCKET_MS });
    if (s.ts.length) this.hours.set(hour, JSON.stringify(buildBucket(s, 0, s.ts.length, this.judging)));
    else this.hours.delete(hour);
    this.rebuilt++;
  }

  /** The window's buckets: stored whole hours, the partial hours at its edges from raw readings. */
  buckets(window: { start: number; end: number }): SensorBucket[] {
    const out: SensorBucket[] = [];
    const firstWhole = Math.ceil(window.start / BUCKET_MS) * BUCKET_MS;
    const lastWhole = bucketStart(window.end);
    const edge = (w: { start: number; end: number }) => {
      const s = inWindow(this.series(), w);
      if (s.ts.length) out.push(buildBucket(s, 0, s.ts.length, this.judging));
    };
    if (firstWhole > lastWhole) {
      edge(window);
      return out;
    }
    edge({ start: window.start, end: firstWhole });
    for (let h = firstWhole; h < lastWhole; h += BUCKET_MS) {
      const stored = this.hours.get(h);
      if (stored) out.push(JSON.parse(stored) as SensorBucket);
    }
    edge({ start: lastWhole, end: window.end });
    return out;
  }
}

describe('reports from exact aggregates (issue 15, item 2)', () => {
  const band: Band = { min: 2, max: 8 };
  const humidityBand: Band = { min: 35, max: 75 };

  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`composes stored hours into the raw computation's figures, bit for bit (seed ${seed})`, () => {
      const rand = random(seed);
      const intervalMs = [MIN, 5 * MIN, 2 * MIN][seed % 3]!;
      const start = Date.UTC(2026, 0, 1) + Math.floor(rand() * 10) * BUCKET_MS;
      const hours = 36 + Math.floor(rand() * 24);
      let readings = randomReadings(rand, start, hours, intervalMs);
      // A range version in force from the middle of an hour: readings before and after it are judged differently.
      const changeAt = start + Math.floor(hours / 2) * BUCKET_MS + 17 * MIN;
      const rangeAt = (t: number) =>
        t < changeAt ? { temperature: band, humidity: humidityBand } : { temperature: { min: 2.5, max: 7.5 }, humidity: humidityBand };
      const judging: BucketJudging = { intervalMs, activationEnergyKJ: ENERGY, band, humidityBand, rangeAt };
      const series = () => seriesOf(`s${seed}`, intervalMs, readings);
      const store = new Store(series, judging);
      for (let h = bucketStart(start); h < start + hours * BUCKET_MS; h += BUCKET_MS) store.rebuild(h);

      const check = () => {
        for (let k = 0; k < 4; k++) {
          // Windows cutting hours at odd minutes, also one inside a single hour.
          const from = start + Math.floor(rand() * hours * 0.4) * BUCKET_MS + Math.floor(rand() * 59) * MIN + 7_000;
          const to = k === 3 ? from + 20 * MIN : from + Math.floor(((hours * BUCKET_MS) / 2) * (0.2 + rand()));
          const window = { start: from, end: to };
          const raw = analyseSensor(inWindow(series(), window), window, band, humidityBand, ENERGY, rangeAt);
          const composed = analysisOf(series(), window, composeSensor(series(), window, store.buckets(window), ENERGY));
          expect(composed).toEqual(raw);
          // Bit for bit, not merely close.
          expect(Object.is(composed.sums.weightedArrhenius, raw.sums.weightedArrhenius)).toBe(true);
          expect(Object.is(composed.figures.mkt, raw.figures.mkt)).toBe(true);
          expect(placeFigures([composed], window, band, 'room-1', ENERGY)).toEqual(placeFigures([raw], window, band, 'room-1', ENERGY));

          // And the figures a report shows are today's (one pass, reading by reading), rounded as reported.
          const before = analyseSensorSequential(inWindow(series(), window), window, band, humidityBand, ENERGY, rangeAt);
          const shown = (a: typeof raw) => publicFigures(combineFigures([placeFigures([a], window, band, 'room-1', ENERGY)], ENERGY));
          expect(shown(composed)).toEqual(shown(before));
          expect(composed.completeness).toEqual(before.completeness);
          expect(composed.gaps).toEqual(before.gaps);
          expect(composed.lateData).toEqual(before.lateData);
          expect(composed.humidity.outOfRange).toEqual(before.humidity.outOfRange);
          // Degree-minutes add up per hour now: the same runs, the sums within a few ulps.
          for (const side of ['above', 'below'] as const) {
            const runs = composed[side];
            expect(runs.map((r) => ({ ...r, degreeMinutes: 0 }))).toEqual(before[side].map((r) => ({ ...r, degreeMinutes: 0 })));
            runs.forEach((r, i) => expect(Math.abs(r.degreeMinutes - before[side][i]!.degreeMinutes)).toBeLessThanOrEqual(1e-9 * r.degreeMinutes));
          }
          expect(Math.abs(composed.sums.weightedArrhenius - before.sums.weightedArrhenius)).toBeLessThanOrEqual(1e-9 * before.sums.weightedArrhenius);
        }
      };
      check();

      // Late arrivals and conflicting revisions land in old hours: only those hours are rebuilt.
      const landed = new Set<number>();
      for (let i = 0; i < 40; i++) {
        const t = start + Math.floor(rand() * hours * BUCKET_MS);
        const existing = readings[Math.floor(rand() * readings.length)]!;
        const revision = rand() < 0.5;
        const late: Reading = revision
          ? { ...existing, temperature: existing.temperature + (rand() < 0.5 ? 4 : -4), receivedAt: start + (hours + 5) * BUCKET_MS }
          : {
              t,
              temperature: Math.round((rand() * 14 - 2) * 100) / 100,
              humidity: 60,
              seq: Math.floor(rand() * 1000),
              receivedAt: start + (hours + 5) * BUCKET_MS,
            };
        readings = [...readings, late];
        landed.add(bucketStart(late.t));
      }
      const before = store.rebuilt;
      for (const h of landed) store.rebuild(h);
      expect(store.rebuilt - before).toBe(landed.size);
      check();
    });
  }

  it('an empty window and a window with one reading compose as the raw computation does', () => {
    const window = { start: 10 * MIN, end: 200 * MIN };
    const judging: BucketJudging = { intervalMs: 10 * MIN, activationEnergyKJ: ENERGY, band, humidityBand: undefined };
    for (const points of [[], [[95 * MIN, 9.2]]] as Array<Array<[number, number]>>) {
      const s: SensorSeries = {
        deviceId: 'd',
        locationId: 'room-1',
        intervalMs: 10 * MIN,
        ts: points.map(([t]) => t),
        temperature: points.map(([, v]) => v),
        humidity: points.map(() => Number.NaN),
        seq: points.map((_, i) => i),
      };
      const buckets = s.ts.length ? [buildBucket(s, 0, s.ts.length, judging)] : [];
      const composed = analysisOf(s, window, composeSensor(s, window, buckets, ENERGY));
      expect(composed).toEqual(analyseSensor(s, window, band, undefined, ENERGY));
      expect(composed).toEqual(analyseSensorSequential(s, window, band, undefined, ENERGY));
    }
  });
});
