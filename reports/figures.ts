import type { Completeness, Excursion, Figures, Gap, LateRun, SensorFigures, TimedValue } from './schema.js';
import { bucketsOf, composeSensor, type BucketJudging, type ComposedSensor, type SensorBucket } from './buckets.js';

/**
 * The figures QA decisions rest on, computed from raw readings.
 *
 * Time weighting (the rules reviewers ask about):
 * - each reading stands for the time until the next one, but for at most `2 × interval` in the
 *   mean and MKT: a longer silence is a data gap, and we do not know the temperature in it;
 * - time out of range is counted conservatively: an out-of-range reading stays out until the next
 *   reading (however late) or the end of the window — the product is not presumed back in range
 *   before a reading shows it;
 * - the window is the custody segment; the last reading holds until its end (same caps).
 *
 * Late data: a reading that arrived (`receivedAt`, server time) more than
 * max(2 × the device's interval, `LATE_MIN_DELAY_MS`) after its device time is marked late and
 * counted; it stays in every figure exactly as any other reading (late is not wrong: it is a
 * store-and-forward backlog or a back-dated upload, and a reviewer should see which).
 */

/** The least delay that makes a reading late, whatever the device's interval. */
export const LATE_MIN_DELAY_MS = 15 * 60_000;

/** How long after its device time a reading of a device with this interval may arrive and still be on time. */
export const lateThresholdMs = (intervalMs: number) => Math.max(2 * intervalMs, LATE_MIN_DELAY_MS);

/** Late: arrived more than the threshold after it was taken. No arrival time (readings stored before it was kept) is never late. */
export const isLate = (ts: number, receivedAt: number | undefined, intervalMs: number) =>
  receivedAt !== undefined && !Number.isNaN(receivedAt) && receivedAt - ts > lateThresholdMs(intervalMs);

/**
 * A column of readings, only ever read by index: a plain array (readings just read from InfluxDB)
 * or a Float64Array (a report through the bucket cache copies its cached hours into one, off the
 * JavaScript heap: bucket-cache.ts).
 */
export type Column = ArrayLike<number>;

/** Readings of one sensor in one window, in time order, as columns (350k readings stay cheap). */
export interface SensorSeries {
  deviceId: string;
  locationId: string;
  name?: string;
  intervalMs: number;
  ts: Column;
  temperature: Column;
  /** NaN where the reading had no humidity. */
  humidity: Column;
  /** NaN where the reading had no sequence number. */
  seq: Column;
  /** Server time each reading arrived; NaN where it was stored before arrival times were kept (absent: none known). */
  receivedAt?: Column;
}

export interface Band {
  min: number;
  max: number;
}

const GAS_CONSTANT = 8.3144; // J/(mol·K), as USP <1160> states it
const KELVIN = 273.15;

/**
 * Running sums for the time-weighted mean and the mean kinetic temperature, so segments and
 * sensors combine without re-reading. exp(−ΔH/RT) is taken relative to 0 °C to keep the sums in
 * a comfortable floating-point range for any temperature a cold chain sees.
 */
export class WeightedSums {
  weight = 0;
  weightedTemperature = 0;
  weightedArrhenius = 0;

  constructor(private readonly activationEnergyKJ: number) {}

  add(temperature: number, weight: number): void {
    if (weight <= 0) return;
    const hOverR = (this.activationEnergyKJ * 1000) / GAS_CONSTANT;
    this.weight += weight;
    this.weightedTemperature += weight * temperature;
    this.weightedArrhenius += weight * Math.exp(-hOverR * (1 / (temperature + KELVIN) - 1 / KELVIN));
  }

  merge(other: WeightedSums): void {
    this.weight += other.weight;
    this.weightedTemperature += other.weightedTemperature;
    this.weightedArrhenius += other.weightedArrhenius;
  }

  get mean(): number | null {
    return this.weight > 0 ? this.weightedTemperature / this.weight : null;
  }

  /** T_mk = (ΔH/R) / −ln(Σwᵢe^(−ΔH/RTᵢ) / Σwᵢ), here with the 0 °C reference folded back in. */
  get mkt(): number | null {
    if (this.weight <= 0) return null;
    const hOverR = (this.activationEnergyKJ * 1000) / GAS_CONSTANT;
    const reciprocal = 1 / KELVIN - Math.log(this.weightedArrhenius / this.weight) / hOverR;
    return 1 / reciprocal - KELVIN;
  }
}

/** Mean kinetic temperature of a series with explicit time weights (equal weights for equal intervals). */
export function meanKineticTemperature(temperatures: readonly number[], weights: readonly number[], activationEnergyKJ = 83.144): number | null {
  const sums = new WeightedSums(activationEnergyKJ);
  temperatures.forEach((t, i) => sums.add(t, weights[i] ?? 0));
  return sums.mkt;
}

interface Interval {
  start: number;
  end: number;
}

interface OutOfRangeRun extends Interval {
  deviceId: string;
  peak: number;
  peakAt: number;
  degreeMinutes: number;
  ongoing: boolean;
  /** The limit crossed, from the range in force when the run began (range-versions.ts). */
  limit?: number;
}

/** What one sensor contributes to a place's figures. */
export interface SensorAnalysis {
  figures: SensorFigures;
  sums: WeightedSums;
  above: OutOfRangeRun[];
  below: OutOfRangeRun[];
  humidity: { sums: WeightedSums; min: TimedValue | null; max: TimedValue | null; outOfRange: Interval[] };
  completeness: Completeness;
  gaps: Gap[];
  lateData: LateRun[];
}

/** The lowest and highest value seen, each with when it was seen. */
export class Extremes {
  min: TimedValue | null = null;
  max: TimedValue | null = null;

  add(value: number, at: number): void {
    if (this.min === null || value < this.min.value) this.min = { value, at };
    if (this.max === null || value > this.max.value) this.max = { value, at };
  }

  /** Another set's extremes: its min and max are values of that set, so adding both is exact. */
  merge(other: { min: TimedValue | null; max: TimedValue | null } | null | undefined): void {
    if (other?.min) this.add(other.min.value, other.min.at);
    if (other?.max) this.add(other.max.value, other.max.at);
  }
}

/**
 * `rangeAt`, when given, is the range in force at each reading's device time (range-versions.ts):
 * every reading is judged by it instead of `band`/`humidityBand`, so a range edited later never
 * re-judges earlier readings.
 *
 * Computed as clock-hour buckets composed in time order (buckets.ts), exactly as figures from
 * stored buckets are: the two ways give the same bits.
 */
export function analyseSensor(
  series: SensorSeries,
  window: Interval,
  band: Band,
  humidityBand: Band | undefined,
  activationEnergyKJ: number,
  rangeAt?: (t: number) => { temperature: Band; humidity?: Band },
  /** Where the buckets come from (a report's bucket cache, bucket-cache.ts); by default built from the readings. */
  buckets: (series: SensorSeries, judging: BucketJudging) => SensorBucket[] = bucketsOf,
): SensorAnalysis {
  const judging: BucketJudging = { intervalMs: series.intervalMs, activationEnergyKJ, band, humidityBand, rangeAt };
  return analysisOf(series, window, composeSensor(series, window, buckets(series, judging), activationEnergyKJ));
}

/** A sensor's analysis from its composed buckets. */
export function analysisOf(
  series: Pick<SensorSeries, 'deviceId' | 'locationId' | 'intervalMs' | 'name'>,
  window: Interval,
  composed: ComposedSensor,
): SensorAnalysis {
  const { intervalMs } = series;
  const expected = Math.max(0, Math.floor((window.end - window.start) / intervalMs));
  const completeness = completenessOf(expected, composed.readings, composed.missingBySequence, composed.late, composed.latestArrivalDelayMs);
  return {
    figures: {
      deviceId: series.deviceId,
      ...(series.name ? { name: series.name } : {}),
      intervalMs,
      readings: composed.readings,
      min: composed.min,
      max: composed.max,
      mean: composed.sums.mean,
      mkt: composed.sums.mkt,
    },
    sums: composed.sums,
    above: composed.above,
    below: composed.below,
    humidity: { sums: composed.humiditySums, min: composed.humidityMin, max: composed.humidityMax, outOfRange: composed.humidityOut },
    completeness,
    gaps: composed.gaps,
    lateData: composed.lateData,
  };
}

/** Completeness from the counts of one sensor, segment or sum of them: the share of readings there, out of those expected by time or by sequence. */
export function completenessOf(
  expected: number,
  present: number,
  missingBySequence: number,
  late = 0,
  latestArrivalDelayMs: number | null = null,
): Completeness {
  const denominator = Math.max(expected, present + missingBySequence);
  // Conservative: whichever of the two counts says more is missing wins, and never above 100 %.
  const percent = denominator === 0 ? 100 : Math.min(100, (present / denominator) * 100);
  return { expected, present, missingBySequence, percent: Math.round(percent * 100) / 100, late, latestArrivalDelayMs };
}

/** Completeness of several sensors or segments: counts add up, the longest delay is the longest of all. */
export function combineCompleteness(parts: Completeness[]): Completeness {
  const delays = parts.map((c) => c.latestArrivalDelayMs).filter((d): d is number => d !== null);
  return completenessOf(
    sum(parts.map((c) => c.expected)),
    sum(parts.map((c) => c.present)),
    sum(parts.map((c) => c.missingBySequence)),
    sum(parts.map((c) => c.late)),
    delays.length ? Math.max(...delays) : null,
  );
}

/** Completeness of a place from its sensors' analyses. No sensor at all: the whole window is missing data, one interval's worth of expected readings at least. */
export function placeCompleteness(analyses: SensorAnalysis[]): Completeness {
  return analyses.length ? combineCompleteness(analyses.map((a) => a.completeness)) : completenessOf(1, 0, 0);
}

/** Union of intervals, merging those that touch. */
function union(intervals: Interval[]): Interval[] {
  const sorted = [...intervals].sort((a, b) => a.start - b.start);
  const merged: Interval[] = [];
  for (const interval of sorted) {
    const last = merged[merged.length - 1];
    if (last && interval.start <= last.end) last.end = Math.max(last.end, interval.end);
    else merged.push({ ...interval });
  }
  return merged;
}

const totalLength = (intervals: Interval[]) => intervals.reduce((sum, i) => sum + (i.end - i.start), 0);

/** Runs of several sensors merged into excursions of the place: any sensor out of range counts. */
function excursionsOf(runs: OutOfRangeRun[], band: 'above' | 'below', limit: number, locationId: string): Excursion[] {
  return union(runs).map((interval) => {
    // Each run lies wholly inside the merged interval it helped to form.
    const inside = runs.filter((r) => r.start >= interval.start && r.end <= interval.end);
    const worst = inside.reduce((a, b) => (band === 'above' ? (b.peak > a.peak ? b : a) : b.peak < a.peak ? b : a));
    const degreeMinutesBySensor = new Map<string, number>();
    for (const run of inside) degreeMinutesBySensor.set(run.deviceId, (degreeMinutesBySensor.get(run.deviceId) ?? 0) + run.degreeMinutes);
    return {
      band,
      // Of the worst sensor's run: with range versions, the limit in force when it began.
      limit: worst.limit ?? limit,
      start: interval.start,
      end: interval.end,
      durationMs: interval.end - interval.start,
      peak: worst.peak,
      peakAt: worst.peakAt,
      degreeMinutes: round(Math.max(...degreeMinutesBySensor.values()), 2),
      ongoing: inside.some((r) => r.ongoing && r.end === interval.end),
      deviceIds: [...new Set(inside.map((r) => r.deviceId))].sort(),
      locationId,
    };
  });
}

export const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

/** The figures of one place over one window, from its sensors' analyses. */
export function placeFigures(
  analyses: SensorAnalysis[],
  window: Interval,
  band: Band,
  locationId: string,
  activationEnergyKJ: number,
): Figures & { sums: WeightedSums } {
  const sums = new WeightedSums(activationEnergyKJ);
  const humiditySums = new WeightedSums(activationEnergyKJ);
  const extremes = new Extremes();
  const humidityExtremes = new Extremes();
  for (const a of analyses) {
    sums.merge(a.sums);
    humiditySums.merge(a.humidity.sums);
    extremes.merge(a.figures);
    humidityExtremes.merge(a.humidity);
  }
  const aboveRuns = analyses.flatMap((a) => a.above);
  const belowRuns = analyses.flatMap((a) => a.below);
  const timeAboveMs = totalLength(union(aboveRuns));
  const timeBelowMs = totalLength(union(belowRuns));
  const excursions = [...excursionsOf(aboveRuns, 'above', band.max, locationId), ...excursionsOf(belowRuns, 'below', band.min, locationId)].sort(
    (a, b) => a.start - b.start,
  );
  const hasHumidity = analyses.some((a) => a.humidity.min !== null);
  const completeness = placeCompleteness(analyses);
  return {
    readings: sum(analyses.map((a) => a.figures.readings)),
    durationMs: window.end - window.start,
    min: extremes.min,
    max: extremes.max,
    mean: roundOrNull(sums.mean),
    mkt: roundOrNull(sums.mkt),
    timeOutOfRangeMs: totalLength(union([...aboveRuns, ...belowRuns])),
    timeAboveMs,
    timeBelowMs,
    excursions,
    humidity: hasHumidity
      ? {
          min: humidityExtremes.min,
          max: humidityExtremes.max,
          mean: roundOrNull(humiditySums.mean),
          timeOutOfRangeMs: totalLength(union(analyses.flatMap((a) => a.humidity.outOfRange))),
        }
      : null,
    completeness,
    gaps: analyses.flatMap((a) => a.gaps).sort((a, b) => a.start - b.start),
    lateData: analyses.flatMap((a) => a.lateData).sort((a, b) => a.start - b.start || a.deviceId.localeCompare(b.deviceId)),
    sums,
  };
}

/** The whole shipment: segments never overlap, so times add up and the weighted sums merge. */
export function combineFigures(parts: Array<Figures & { sums: WeightedSums }>, activationEnergyKJ: number): Figures {
  const sums = new WeightedSums(activationEnergyKJ);
  const extremes = new Extremes();
  const humidityExtremes = new Extremes();
  let hWeighted = 0;
  let hWeight = 0;
  for (const part of parts) {
    sums.merge(part.sums);
    extremes.merge(part);
    humidityExtremes.merge(part.humidity);
    if (part.humidity?.mean != null) {
      hWeighted += part.humidity.mean * part.durationMs;
      hWeight += part.durationMs;
    }
  }
  const withHumidity = parts.filter((p) => p.humidity);
  return {
    readings: sum(parts.map((p) => p.readings)),
    durationMs: sum(parts.map((p) => p.durationMs)),
    min: extremes.min,
    max: extremes.max,
    mean: roundOrNull(sums.mean),
    mkt: roundOrNull(sums.mkt),
    timeOutOfRangeMs: sum(parts.map((p) => p.timeOutOfRangeMs)),
    timeAboveMs: sum(parts.map((p) => p.timeAboveMs)),
    timeBelowMs: sum(parts.map((p) => p.timeBelowMs)),
    excursions: parts.flatMap((p) => p.excursions),
    humidity: withHumidity.length
      ? {
          min: humidityExtremes.min,
          max: humidityExtremes.max,
          mean: hWeight ? round(hWeighted / hWeight, 2) : null,
          timeOutOfRangeMs: sum(withHumidity.map((p) => p.humidity!.timeOutOfRangeMs)),
        }
      : null,
    completeness: combineCompleteness(parts.map((p) => p.completeness)),
    gaps: parts.flatMap((p) => p.gaps),
    lateData: parts.flatMap((p) => p.lateData),
  };
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
const roundOrNull = (value: number | null) => (value === null ? null : round(value, 2));

/** Strips the running sums from figures headed for a report. */
export function publicFigures({ sums: _sums, ...figures }: Figures & { sums?: WeightedSums }): Figures {
  return figures;
}
