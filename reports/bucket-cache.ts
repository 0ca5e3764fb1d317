import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SensorSeries } from './figures.js';
import { digestLines, type ReadingsDigest } from './digest.js';
import { BUCKET_MS, buildBucket, type BucketJudging, type SensorBucket } from './buckets.js';

/**
 * Where report buckets live (issue 15, item 2): on the node's disk (`<dataDir>/report-buckets`),
 * one file per place, sensor and UTC day, an entry per whole clock hour. An entry holds the
 * hour's readings as the report query returned them (device time, temperature, humidity,
 * sequence number, arrival time; the digest, chart, calibration and signed-version sections
 * need them) and the hour's aggregates (buckets.ts) per way of judging them.
 *
 * The invariant (reports/README.md): an entry is used only if the fingerprint it was stored
 * with equals InfluxDB's fingerprint of that hour *now* (the count of its readings and the sums
 * of their temperature, humidity, sequence number and arrival time, asked of InfluxDB at the
 * start of every report). Every reading the service writes — late, a conflicting revision (a
 * point of its own, `revision` tag), a spool drained by another node — adds a point and changes
 * the count; a point overwritten in place (by hand, in InfluxDB) changes a sum; retention drops
 * points. The hour is then read again from InfluxDB and stored anew. The fingerprint is asked
 * *before* the readings are read, so an entry
 * is never stored with a fingerprint newer than its readings. Whatever the cache holds, a
 * report's figures are those of the raw readings: a wrong or torn entry is only ever a miss.
 */

/** One whole hour of one sensor at one place. Columns are JSON: NaN is stored as null. */
export interface HourEntry {
  fp: string;
  ts: number[];
  temperature: number[];
  humidity: Array<number | null>;
  seq: Array<number | null>;
  receivedAt: Array<number | null>;
  /** The hour's lines of the report digest (digest.ts), formatted once. */
  lines: string;
  /** Aggregates by `judgingKey`. */
  aggs: Record<string, SensorBucket>;
}

interface DayFile {
  v: 1;
  hours: Record<string, HourEntry>;
}

const DAY_MS = 86_400_000;
const name = (id: string) => encodeURIComponent(id).replace(/\./g, '%2E');

export class BucketCache {
  /** Whole hours the last finished report found valid / had to read (for the bench and logs). */
  last = { hits: 0, misses: 0 };

  constructor(readonly dir: string) {}

  private file(locationId: string, deviceId: string, day: number): string {
    return path.join(this.dir, name(locationId), name(deviceId), `${day}.json`);
  }

  /** One report's view: the entries it found valid, the hours it filled, what to save after. */
  session(): BucketSession {
    return new BucketSession(this);
  }

  /** @internal */
  load(locationId: string, deviceId: string, day: number): DayFile {
    try {
      const parsed = JSON.parse(readFileSync(this.file(locationId, deviceId, day), 'utf8')) as DayFile;
      if (parsed?.v === 1 && parsed.hours && typeof parsed.hours === 'object') return parsed;
    } catch {
      // absent or unreadable: a miss, read from InfluxDB
    }
    return { v: 1, hours: {} };
  }

  /** @internal Written whole to a temporary name and renamed: a crash leaves the old file or the new one, never half of one. */
  save(locationId: string, deviceId: string, day: number, content: DayFile): void {
    const file = this.file(locationId, deviceId, day);
    mkdirSync(path.dirname(file), { recursive: true });
    const temporary = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    writeFileSync(temporary, JSON.stringify(content));
    renameSync(temporary, file);
  }
}

const fromJson = (values: Array<number | null>) => values.map((v) => (v === null ? Number.NaN : v));
const toJson = (values: ArrayLike<number>, from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => (Number.isNaN(values[from + i]!) ? null : values[from + i]!));

export class BucketSession {
  private readonly days = new Map<string, { locationId: string; deviceId: string; day: number; file: DayFile; dirty: boolean }>();
  /** Valid whole hours of the series this session read (a filtered copy of a series is not in it: it is judged raw). */
  private readonly hours = new WeakMap<SensorSeries, Map<number, HourEntry>>();
  hits = 0;
  misses = 0;

  constructor(private readonly cache: BucketCache) {}

  private day(locationId: string, deviceId: string, hour: number) {
    const day = Math.floor(hour / DAY_MS) * DAY_MS;
    const key = `${locationId}\n${deviceId}\n${day}`;
    let entry = this.days.get(key);
    if (!entry) this.days.set(key, (entry = { locationId, deviceId, day, file: this.cache.load(locationId, deviceId, day), dirty: false }));
    return entry;
  }

  /** The stored hour if its fingerprint is InfluxDB's now. */
  valid(locationId: string, deviceId: string, hour: number, fp: string): HourEntry | undefined {
    const entry = this.day(locationId, deviceId, hour).file.hours[hour];
    if (entry && entry.fp === fp && entry.ts.length === entry.temperature.length && typeof entry.lines === 'string') {
      this.hits++;
      return entry;
    }
    this.misses++;
    return undefined;
  }

  /** An hour just read from InfluxDB, stored with the fingerprint asked before it was read. */
  store(
    locationId: string,
    deviceId: string,
    hour: number,
    fp: string,
    columns: Required<Pick<SensorSeries, 'ts' | 'temperature' | 'humidity' | 'seq' | 'receivedAt'>>,
    from: number,
    to: number,
  ): HourEntry {
    const entry: HourEntry = {
      fp,
      ts: columns.ts.slice(from, to),
      temperature: columns.temperature.slice(from, to),
      humidity: toJson(columns.humidity, from, to),
      seq: toJson(columns.seq, from, to),
      receivedAt: toJson(columns.receivedAt, from, to),
      lines: digestLines({ deviceId, ts: columns.ts, temperature: columns.temperature, humidity: columns.humidity }, from, to),
      aggs: {},
    };
    const day = this.day(locationId, deviceId, hour);
    day.file.hours[hour] = entry;
    day.dirty = true;
    return entry;
  }

  /** Appends a stored hour's readings to a sensor's columns. */
  static append(columns: Required<Pick<SensorSeries, 'ts' | 'temperature' | 'humidity' | 'seq' | 'receivedAt'>>, entry: HourEntry): void {
    for (const t of entry.ts) columns.ts.push(t);
    for (const v of entry.temperature) columns.temperature.push(v);
    for (const v of fromJson(entry.humidity)) columns.humidity.push(v);
    for (const v of fromJson(entry.seq)) columns.seq.push(v);
    for (const v of fromJson(entry.receivedAt)) columns.receivedAt.push(v);
  }

  /** Remembers which whole hours of a series came from (or went into) the cache. */
  attach(series: SensorSeries, hours: Map<number, HourEntry>): void {
    this.hours.set(series, hours);
  }

  /**
   * The series' buckets: a whole cached hour's aggregate when one is kept for this way of judging
   * (computed and kept otherwise), else built from the readings. Either way the same bits.
   */
  bucketsOf(series: SensorSeries, judging: BucketJudging): SensorBucket[] {
    const hours = this.hours.get(series);
    const buckets: SensorBucket[] = [];
    const n = series.ts.length;
    for (let from = 0; from < n; ) {
      const hour = Math.floor(series.ts[from]! / BUCKET_MS) * BUCKET_MS;
      let to = from + 1;
      while (to < n && series.ts[to]! < hour + BUCKET_MS) to++;
      const entry = hours?.get(hour);
      const key = entry && entry.ts.length === to - from ? judgingKey(judging, hour) : undefined;
      if (entry && key) {
        let agg = entry.aggs[key];
        if (!agg) {
          agg = entry.aggs[key] = buildBucket(series, from, to, judging);
          this.day(series.locationId, series.deviceId, hour).dirty = true;
        }
        buckets.push(agg);
      } else buckets.push(buildBucket(series, from, to, judging));
      from = to;
    }
    return buckets;
  }

  /** Adds a series to the report digest: a cached hour's lines as stored, other readings formatted. */
  digestInto(series: SensorSeries, digest: ReadingsDigest): void {
    const hours = this.hours.get(series);
    if (!hours) return digest.add(series);
    const n = series.ts.length;
    for (let from = 0; from < n; ) {
      const hour = Math.floor(series.ts[from]! / BUCKET_MS) * BUCKET_MS;
      let to = from + 1;
      while (to < n && series.ts[to]! < hour + BUCKET_MS) to++;
      const entry = hours.get(hour);
      if (entry && entry.ts.length === to - from) digest.addLines(entry.lines, to - from);
      else digest.add(series, from, to);
      from = to;
    }
  }

  /** Writes the day files this report changed. A failure costs only speed (the next report reads InfluxDB again). */
  save(onError?: (err: Error) => void): void {
    this.cache.last = { hits: this.hits, misses: this.misses };
    for (const day of this.days.values()) {
      if (!day.dirty) continue;
      try {
        this.cache.save(day.locationId, day.deviceId, day.day, day.file);
        day.dirty = false;
      } catch (err) {
        onError?.(err as Error);
      }
    }
  }
}

/**
 * What an hour's aggregate depends on besides its readings: the interval, the activation
 * energy, and the range in force — one version over the whole hour (the versions at its first
 * and last millisecond are the same one), else none is kept and the hour is judged raw.
 */
export function judgingKey(judging: BucketJudging, hour: number): string | undefined {
  const { intervalMs, activationEnergyKJ, band, humidityBand, rangeAt } = judging;
  if (!rangeAt) return JSON.stringify([intervalMs, activationEnergyKJ, band, humidityBand ?? null]);
  const a = rangeAt(hour) as ReturnType<typeof rangeAt> & { version?: number | null };
  const b = rangeAt(hour + BUCKET_MS - 1) as typeof a;
  if (a !== b && JSON.stringify(a) !== JSON.stringify(b)) return undefined;
  return JSON.stringify([intervalMs, activationEnergyKJ, a.temperature, a.humidity ?? null, a.version ?? null]);
}
