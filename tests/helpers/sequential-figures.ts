import { completenessOf, Extremes, isLate, WeightedSums, type Band, type SensorAnalysis, type SensorSeries } from '../../reports/figures.js';
import type { Gap, LateRun } from '../../reports/schema.js';

/**
 * The figures as reports computed them before issue 15 (item 2): one pass over the readings in
 * time order, each sum added to reading by reading. Kept as the reference the bucketed
 * computation (reports/buckets.ts) is compared with in tests/report-aggregates.test.ts; only the
 * late runs are found another way, in a pass of their own over whole stretches of late readings,
 * so that they are not the bucketed code's own steps again. The min/max holder and the
 * completeness formula are the reports' own: they are not what the comparison is about.
 */

interface Interval {
  start: number;
  end: number;
}

type OutOfRangeRun = SensorAnalysis['above'][number];

/**
 * The late runs of a series: each longest stretch of consecutive readings that arrived late, with
 * its first and last arrival and its longest delay.
 */
function lateRunsOf(series: SensorSeries): LateRun[] {
  const { ts, receivedAt, intervalMs } = series;
  const lateAt = (i: number) => i < ts.length && isLate(ts[i]!, receivedAt?.[i], intervalMs);
  const runs: LateRun[] = [];
  for (let first = 0; first < ts.length; first++) {
    if (!lateAt(first)) continue;
    let last = first;
    while (lateAt(last + 1)) last++;
    const arrivals = Array.from(receivedAt!).slice(first, last + 1);
    const delays = arrivals.map((arrived, k) => arrived - ts[first + k]!);
    runs.push({
      deviceId: series.deviceId,
      locationId: series.locationId,
      start: ts[first]!,
      end: ts[last]!,
      readings: last - first + 1,
      late: true,
      receivedAt: arrivals.reduce((a, b) => Math.min(a, b)),
      lastReceivedAt: arrivals.reduce((a, b) => Math.max(a, b)),
      maxDelayMs: delays.reduce((a, b) => Math.max(a, b)),
    });
    first = last;
  }
  return runs;
}

/**
 * `rangeAt`, when given, is the range in force at each reading's device time (range-versions.ts):
 * every reading is judged by it instead of `band`/`humidityBand`, so a range edited later never
 * re-judges earlier readings.
 */
export function analyseSensorSequential(
  series: SensorSeries,
  window: Interval,
  band: Band,
  humidityBand: Band | undefined,
  activationEnergyKJ: number,
  rangeAt?: (t: number) => { temperature: Band; humidity?: Band },
): SensorAnalysis {
  const { ts, temperature, humidity, seq, intervalMs } = series;
  const gapAfter = 2 * intervalMs;
  const sums = new WeightedSums(activationEnergyKJ);
  const humiditySums = new WeightedSums(activationEnergyKJ);
  const extremes = new Extremes();
  const humidityExtremes = new Extremes();
  const above: OutOfRangeRun[] = [];
  const below: OutOfRangeRun[] = [];
  const humidityOut: Interval[] = [];
  const gaps: Gap[] = [];
  let current: (OutOfRangeRun & { band: 'above' | 'below' }) | undefined;
  let missingBySequence = 0;

  const closeRun = (end: number, ongoing: boolean) => {
    if (!current) return;
    const { band: which, ...run } = current;
    (which === 'above' ? above : below).push({ ...run, end, ongoing });
    current = undefined;
  };
  const gap = (start: number, end: number, seqHole: number) => {
    const missingByTime = Math.max(0, Math.round((end - start) / intervalMs) - 1);
    gaps.push({
      deviceId: series.deviceId,
      locationId: series.locationId,
      start,
      end,
      durationMs: end - start,
      missingReadings: Math.max(missingByTime, seqHole),
    });
  };

  const n = ts.length;
  if (n === 0) gap(window.start, window.end, 0);
  else if (ts[0]! - window.start > gapAfter) gap(window.start, ts[0]!, 0);
  for (let i = 0; i < n; i++) {
    const t = ts[i]!;
    const value = temperature[i]!;
    const next = i + 1 < n ? ts[i + 1]! : window.end;
    const held = next - t;
    const weight = Math.min(held, gapAfter);
    sums.add(value, weight);
    extremes.add(value, t);

    const inForce = rangeAt?.(t);
    const tBand = inForce ? inForce.temperature : band;
    const hBand = inForce ? inForce.humidity : humidityBand;
    const h = humidity[i]!;
    if (!Number.isNaN(h)) {
      humiditySums.add(h, weight);
      humidityExtremes.add(h, t);
      if (hBand && (h > hBand.max || h < hBand.min)) humidityOut.push({ start: t, end: next });
    }

    const side = value > tBand.max ? 'above' : value < tBand.min ? 'below' : undefined;
    if (current && current.band !== side) closeRun(t, false);
    if (side) {
      const limit = side === 'above' ? tBand.max : tBand.min;
      current ??= { band: side, deviceId: series.deviceId, start: t, end: t, peak: value, peakAt: t, degreeMinutes: 0, ongoing: false, limit };
      if (side === 'above' ? value > current.peak : value < current.peak) {
        current.peak = value;
        current.peakAt = t;
      }
      current.degreeMinutes += (Math.abs(value - limit) * held) / 60_000;
    }

    let seqHole = 0;
    if (i + 1 < n) {
      const step = seq[i + 1]! - seq[i]!;
      // A step of 0 or below is a device restart or a duplicate, not lost data.
      if (step > 1) seqHole = step - 1;
      missingBySequence += seqHole;
    }
    if (held > gapAfter) gap(t, next, seqHole);
  }
  closeRun(window.end, true);

  const lateData = lateRunsOf(series);
  const late = lateData.reduce((sum, run) => sum + run.readings, 0);
  const latestArrivalDelayMs = lateData.length ? lateData.reduce((most, run) => Math.max(most, run.maxDelayMs), 0) : null;
  const expected = Math.max(0, Math.floor((window.end - window.start) / intervalMs));
  const completeness = completenessOf(expected, n, missingBySequence, late, latestArrivalDelayMs);
  return {
    figures: {
      deviceId: series.deviceId,
      ...(series.name ? { name: series.name } : {}),
      intervalMs,
      readings: n,
      min: extremes.min,
      max: extremes.max,
      mean: sums.mean,
      mkt: sums.mkt,
    },
    sums,
    above,
    below,
    humidity: { sums: humiditySums, min: humidityExtremes.min, max: humidityExtremes.max, outOfRange: humidityOut },
    completeness,
    gaps,
    lateData,
  };
}
