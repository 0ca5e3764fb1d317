import type { Gap, LateRun, TimedValue } from './schema.js';
import { isLate, WeightedSums, type Band, type SensorSeries } from './figures.js';

/**
 * Exact aggregates (issue 15, item 2): what one sensor's figures are made of, per clock hour, so
 * a long report composes hours instead of re-reading every reading, and gets the same figures to
 * the last bit.
 *
 * A reading's effects split in two:
 * - those of the reading alone (count, min/max with their times, late marks, which side of the
 *   range it is on, a run's peak): kept in its bucket;
 * - those that need the *next* reading (its time weight in the mean and MKT, its degree-minutes,
 *   a humidity out-of-range interval, a gap, a sequence hole): kept in its bucket for every
 *   reading but the bucket's last, whose next reading is in a later bucket (or is the window's
 *   end). The bucket carries that last reading (`last`) and its first reading's time and
 *   sequence number (`first`), and `composeSensor` settles the last reading of one bucket against
 *   the first of the next.
 *
 * Floating-point sums are not associative, so the composition is the *only* way figures are
 * computed: `analyseSensor` (figures.ts) cuts raw readings into buckets and composes them, in
 * the same order and with the same operations as composing stored buckets. Equal inputs give
 * equal bits (tests/report-aggregates.test.ts compares both on random data).
 *
 * A bucket depends on what its readings are judged by: the device's interval (gaps, late marks),
 * the activation energy (MKT) and the range in force at each reading (range-versions.ts). Whoever
 * keeps buckets keys them by those (`bucketKey`).
 */

export const BUCKET_MS = 3_600_000;

/** The clock hour holding `t`. */
export const bucketStart = (t: number) => Math.floor(t / BUCKET_MS) * BUCKET_MS;

/** The weighted sums as plain numbers (a stored bucket is JSON). */
export interface SumsData {
  weight: number;
  weightedTemperature: number;
  weightedArrhenius: number;
}

type Side = 'above' | 'below';

/** Part of an out-of-range run that lies in one bucket. */
export interface RunPiece {
  side: Side;
  start: number;
  /** The time of the reading that ended it, in this bucket; null: it goes on past the bucket's last reading. */
  end: number | null;
  peak: number;
  peakAt: number;
  /** Degree-minutes of its readings in this bucket, the bucket's last reading's excepted (it needs the next reading). */
  degreeMinutes: number;
  limit: number;
  /** It begins at the bucket's first reading (and may continue a run of the bucket before). */
  atFirst: boolean;
}

export interface LatePiece extends LateRun {
  atFirst: boolean;
}

/** One sensor's readings in one bucket (or the part of a bucket inside a report window). */
export interface SensorBucket {
  start: number;
  readings: number;
  first: { t: number; seq: number | null };
  /** The last reading, whose weight, degree-minutes, humidity interval, gap and sequence step need the next one. */
  last: {
    t: number;
    temperature: number;
    humidity: number | null;
    seq: number | null;
    side: Side | null;
    limit: number | null;
    humidityOut: boolean;
    late: boolean;
  };
  sums: SumsData;
  humiditySums: SumsData;
  min: TimedValue | null;
  max: TimedValue | null;
  humidityMin: TimedValue | null;
  humidityMax: TimedValue | null;
  missingBySequence: number;
  gaps: Gap[];
  late: number;
  latestArrivalDelayMs: number | null;
  lateRuns: LatePiece[];
  humidityOut: Array<{ start: number; end: number }>;
  runs: RunPiece[];
}

export interface BucketJudging {
  intervalMs: number;
  activationEnergyKJ: number;
  band: Band;
  humidityBand: Band | undefined;
  rangeAt?: ((t: number) => { temperature: Band; humidity?: Band }) | undefined;
}

const plain = (s: WeightedSums): SumsData => ({ weight: s.weight, weightedTemperature: s.weightedTemperature, weightedArrhenius: s.weightedArrhenius });
const orNull = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? null : v);

function extreme(current: { min: TimedValue | null; max: TimedValue | null }, value: number, at: number): void {
  if (current.min === null || value < current.min.value) current.min = { value, at };
  if (current.max === null || value > current.max.value) current.max = { value, at };
}

/** What a missing reading count a gap stands for: by time, or by the sequence hole if that says more. */
function gapOf(series: Pick<SensorSeries, 'deviceId' | 'locationId' | 'intervalMs'>, start: number, end: number, seqHole: number): Gap {
  const missingByTime = Math.max(0, Math.round((end - start) / series.intervalMs) - 1);
  return { deviceId: series.deviceId, locationId: series.locationId, start, end, durationMs: end - start, missingReadings: Math.max(missingByTime, seqHole) };
}

/** A positive step of more than one is lost readings; 0 or below is a restart or a duplicate. NaN (no sequence number) is none. */
const holeOf = (from: number | null, to: number | null) => {
  const step = (to ?? Number.NaN) - (from ?? Number.NaN);
  return step > 1 ? step - 1 : 0;
};

/** The bucket of readings `from`..`to` − 1 of a series (all in one bucket, in time order). */
export function buildBucket(series: SensorSeries, from: number, to: number, judging: BucketJudging): SensorBucket {
  const { ts, temperature, humidity, seq, receivedAt } = series;
  const { intervalMs, activationEnergyKJ, rangeAt } = judging;
  const gapAfter = 2 * intervalMs;
  const sums = new WeightedSums(activationEnergyKJ);
  const humiditySums = new WeightedSums(activationEnergyKJ);
  const ext = { min: null as TimedValue | null, max: null as TimedValue | null };
  const hExt = { min: null as TimedValue | null, max: null as TimedValue | null };
  const gaps: Gap[] = [];
  const lateRuns: LatePiece[] = [];
  const humidityOut: Array<{ start: number; end: number }> = [];
  const runs: RunPiece[] = [];
  let lateRun: LatePiece | undefined;
  let late = 0;
  let latestArrivalDelayMs: number | null = null;
  let missingBySequence = 0;
  let current: RunPiece | undefined;
  let lastSide: Side | null = null;
  let lastLimit: number | null = null;
  let lastHumidityOut = false;
  let lastLate = false;

  for (let i = from; i < to; i++) {
    const t = ts[i]!;
    const value = temperature[i]!;
    const hasNext = i + 1 < to;
    const next = hasNext ? ts[i + 1]! : Number.NaN;
    const held = next - t;
    if (hasNext) sums.add(value, Math.min(held, gapAfter));
    extreme(ext, value, t);

    const arrived = receivedAt?.[i];
    lastLate = isLate(t, arrived, intervalMs);
    if (lastLate) {
      const delay = arrived! - t;
      late++;
      latestArrivalDelayMs = Math.max(latestArrivalDelayMs ?? 0, delay);
      if (!lateRun) {
        lateRun = {
          deviceId: series.deviceId,
          locationId: series.locationId,
          start: t,
          end: t,
          readings: 0,
          late: true,
          receivedAt: arrived!,
          lastReceivedAt: arrived!,
          maxDelayMs: delay,
          atFirst: i === from,
        };
        lateRuns.push(lateRun);
      }
      lateRun.end = t;
      lateRun.readings++;
      lateRun.receivedAt = Math.min(lateRun.receivedAt, arrived!);
      lateRun.lastReceivedAt = Math.max(lateRun.lastReceivedAt, arrived!);
      lateRun.maxDelayMs = Math.max(lateRun.maxDelayMs, delay);
    } else lateRun = undefined;

    const inForce = rangeAt?.(t);
    const tBand = inForce ? inForce.temperature : judging.band;
    const hBand = inForce ? inForce.humidity : judging.humidityBand;
    const h = humidity[i]!;
    lastHumidityOut = false;
    if (!Number.isNaN(h)) {
      if (hasNext) humiditySums.add(h, Math.min(held, gapAfter));
      extreme(hExt, h, t);
      lastHumidityOut = hBand !== undefined && (h > hBand.max || h < hBand.min);
      if (lastHumidityOut && hasNext) humidityOut.push({ start: t, end: next });
    }

    const side: Side | null = value > tBand.max ? 'above' : value < tBand.min ? 'below' : null;
    if (current && current.side !== side) {
      current.end = t;
      current = undefined;
    }
    lastSide = side;
    lastLimit = null;
    if (side) {
      const limit = side === 'above' ? tBand.max : tBand.min;
      lastLimit = limit;
      if (!current) {
        current = { side, start: t, end: null, peak: value, peakAt: t, degreeMinutes: 0, limit, atFirst: i === from };
        runs.push(current);
      }
      if (side === 'above' ? value > current.peak : value < current.peak) {
        current.peak = value;
        current.peakAt = t;
      }
      if (hasNext) current.degreeMinutes += (Math.abs(value - limit) * held) / 60_000;
    }

    if (hasNext) {
      const seqHole = holeOf(orNull(seq[i]), orNull(seq[i + 1]));
      missingBySequence += seqHole;
      if (held > gapAfter) gaps.push(gapOf(series, t, next, seqHole));
    }
  }
  const l = to - 1;
  return {
    start: bucketStart(ts[from]!),
    readings: to - from,
    first: { t: ts[from]!, seq: orNull(seq[from]) },
    last: {
      t: ts[l]!,
      temperature: temperature[l]!,
      humidity: orNull(humidity[l]),
      seq: orNull(seq[l]),
      side: lastSide,
      limit: lastLimit,
      humidityOut: lastHumidityOut,
      late: lastLate,
    },
    sums: plain(sums),
    humiditySums: plain(humiditySums),
    min: ext.min,
    max: ext.max,
    humidityMin: hExt.min,
    humidityMax: hExt.max,
    missingBySequence,
    gaps,
    late,
    latestArrivalDelayMs,
    lateRuns,
    humidityOut,
    runs,
  };
}

/** A series cut into clock-hour buckets (readings in time order); empty hours have no bucket. */
export function bucketsOf(series: SensorSeries, judging: BucketJudging): SensorBucket[] {
  const buckets: SensorBucket[] = [];
  const n = series.ts.length;
  for (let from = 0; from < n; ) {
    const end = bucketStart(series.ts[from]!) + BUCKET_MS;
    let to = from + 1;
    while (to < n && series.ts[to]! < end) to++;
    buckets.push(buildBucket(series, from, to, judging));
    from = to;
  }
  return buckets;
}

/** An out-of-range run of one sensor as the place's figures take it (figures.ts). */
export interface ComposedRun {
  deviceId: string;
  start: number;
  end: number;
  peak: number;
  peakAt: number;
  degreeMinutes: number;
  ongoing: boolean;
  limit?: number;
}

export interface ComposedSensor {
  readings: number;
  sums: WeightedSums;
  humiditySums: WeightedSums;
  min: TimedValue | null;
  max: TimedValue | null;
  humidityMin: TimedValue | null;
  humidityMax: TimedValue | null;
  above: ComposedRun[];
  below: ComposedRun[];
  humidityOut: Array<{ start: number; end: number }>;
  gaps: Gap[];
  missingBySequence: number;
  late: number;
  latestArrivalDelayMs: number | null;
  lateData: LateRun[];
}

const addSums = (into: WeightedSums, from: SumsData) => {
  into.weight += from.weight;
  into.weightedTemperature += from.weightedTemperature;
  into.weightedArrhenius += from.weightedArrhenius;
};

/**
 * One sensor's figures over a window from its buckets (in time order, all inside the window):
 * every bucket's own part, and each bucket's last reading settled against the next bucket's
 * first reading (or the window's end).
 */
export function composeSensor(
  series: Pick<SensorSeries, 'deviceId' | 'locationId' | 'intervalMs'>,
  window: { start: number; end: number },
  buckets: readonly SensorBucket[],
  activationEnergyKJ: number,
): ComposedSensor {
  const gapAfter = 2 * series.intervalMs;
  const sums = new WeightedSums(activationEnergyKJ);
  const humiditySums = new WeightedSums(activationEnergyKJ);
  const ext = { min: null as TimedValue | null, max: null as TimedValue | null };
  const hExt = { min: null as TimedValue | null, max: null as TimedValue | null };
  const above: ComposedRun[] = [];
  const below: ComposedRun[] = [];
  const humidityOut: Array<{ start: number; end: number }> = [];
  const gaps: Gap[] = [];
  const lateData: LateRun[] = [];
  let openLate: LateRun | undefined;
  let readings = 0;
  let missingBySequence = 0;
  let late = 0;
  let latestArrivalDelayMs: number | null = null;
  let current: (Omit<ComposedRun, 'end' | 'ongoing'> & { side: Side }) | undefined;

  const closeRun = (end: number, ongoing: boolean) => {
    if (!current) return;
    const { side, ...run } = current;
    (side === 'above' ? above : below).push({ ...run, end, ongoing });
    current = undefined;
  };
  // The previous bucket's last reading against the next reading's time (and sequence number).
  const settle = (last: SensorBucket['last'], next: number, nextSeq: number | null | undefined) => {
    const held = next - last.t;
    const weight = Math.min(held, gapAfter);
    sums.add(last.temperature, weight);
    if (last.humidity !== null) {
      humiditySums.add(last.humidity, weight);
      if (last.humidityOut) humidityOut.push({ start: last.t, end: next });
    }
    if (current && last.limit !== null) current.degreeMinutes += (Math.abs(last.temperature - last.limit) * held) / 60_000;
    const seqHole = nextSeq === undefined ? 0 : holeOf(last.seq, nextSeq);
    missingBySequence += seqHole;
    if (held > gapAfter) gaps.push(gapOf(series, last.t, next, seqHole));
  };

  if (buckets.length === 0) gaps.push(gapOf(series, window.start, window.end, 0));
  else if (buckets[0]!.first.t - window.start > gapAfter) gaps.push(gapOf(series, window.start, buckets[0]!.first.t, 0));

  let previous: SensorBucket | undefined;
  for (const b of buckets) {
    if (previous) settle(previous.last, b.first.t, b.first.seq);
    readings += b.readings;
    addSums(sums, b.sums);
    addSums(humiditySums, b.humiditySums);
    if (b.min) extreme(ext, b.min.value, b.min.at);
    if (b.max) extreme(ext, b.max.value, b.max.at);
    if (b.humidityMin) extreme(hExt, b.humidityMin.value, b.humidityMin.at);
    if (b.humidityMax) extreme(hExt, b.humidityMax.value, b.humidityMax.at);

    late += b.late;
    if (b.latestArrivalDelayMs !== null) latestArrivalDelayMs = Math.max(latestArrivalDelayMs ?? 0, b.latestArrivalDelayMs);
    b.lateRuns.forEach((piece, i) => {
      const { atFirst, ...run } = piece;
      if (i === 0 && atFirst && openLate) {
        openLate.end = run.end;
        openLate.readings += run.readings;
        openLate.receivedAt = Math.min(openLate.receivedAt, run.receivedAt);
        openLate.lastReceivedAt = Math.max(openLate.lastReceivedAt, run.lastReceivedAt);
        openLate.maxDelayMs = Math.max(openLate.maxDelayMs, run.maxDelayMs);
      } else {
        openLate = { ...run };
        lateData.push(openLate);
      }
    });
    if (!b.last.late) openLate = undefined;

    humidityOut.push(...b.humidityOut);
    // The first reading ends a run of another side (or in range) right where it is.
    const firstPiece = b.runs[0];
    if (current && !(firstPiece?.atFirst && firstPiece.side === current.side)) closeRun(b.first.t, false);
    b.runs.forEach((piece, i) => {
      if (i === 0 && current) {
        if (piece.side === 'above' ? piece.peak > current.peak : piece.peak < current.peak) {
          current.peak = piece.peak;
          current.peakAt = piece.peakAt;
        }
        current.degreeMinutes += piece.degreeMinutes;
      } else {
        current = {
          side: piece.side,
          deviceId: series.deviceId,
          start: piece.start,
          peak: piece.peak,
          peakAt: piece.peakAt,
          degreeMinutes: piece.degreeMinutes,
          limit: piece.limit,
        };
      }
      if (piece.end !== null) closeRun(piece.end, false);
    });
    missingBySequence += b.missingBySequence;
    gaps.push(...b.gaps);
    previous = b;
  }
  if (previous) settle(previous.last, window.end, undefined);
  closeRun(window.end, true);

  return {
    readings,
    sums,
    humiditySums,
    min: ext.min,
    max: ext.max,
    humidityMin: hExt.min,
    humidityMax: hExt.max,
    above,
    below,
    humidityOut,
    gaps,
    missingBySequence,
    late,
    latestArrivalDelayMs,
    lateData,
  };
}
