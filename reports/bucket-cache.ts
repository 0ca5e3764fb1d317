import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SensorSeries } from './figures.js';
import { digestLines, type ReadingsDigest } from './digest.js';
import { BUCKET_MS, buildBucket, type BucketJudging, type SensorBucket } from './buckets.js';
import type { HourMarks, MarkStamp } from './hour-marks.js';

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

/**
 * A place's whole hour as a report last saw it (hour-marks.ts): the sensors with readings in it
 * and their entries' fingerprints, when the writer's generation was `gen` in process `run`.
 * Trusted without asking InfluxDB while the writer has not marked the hour since.
 */
interface PlaceHour {
  run: string;
  gen: number;
  sensors: Record<string, string>;
}

interface PlaceDayFile {
  v: 1;
  hours: Record<string, PlaceHour>;
}

const DAY_MS = 86_400_000;
const name = (id: string) => encodeURIComponent(id).replace(/\./g, '%2E');

export class BucketCache {
  /** Whole hours the last finished report found valid / had to read (for the bench and logs). */
  last = { hits: 0, misses: 0 };

  /**
   * Column buffers of finished reports, for the next ones. Fresh memory for a warm report's
   * columns (14 MB for 345,600 readings) cost more than copying into it: every page of it was
   * faulted in anew, which on a loaded machine took up to 100+ ms.
   */
  private readonly spare: ArrayBuffer[] = [];
  private spareBytes = 0;

  /** @internal A buffer of at least `bytes` (the smallest spare one that fits, else a new one). */
  takeBuffer(bytes: number): ArrayBuffer {
    let best = -1;
    for (let i = 0; i < this.spare.length; i++)
      if (this.spare[i]!.byteLength >= bytes && (best < 0 || this.spare[i]!.byteLength < this.spare[best]!.byteLength)) best = i;
    if (best < 0) return new ArrayBuffer(bytes);
    const [buffer] = this.spare.splice(best, 1);
    this.spareBytes -= buffer!.byteLength;
    return buffer!;
  }

  /** @internal Buffers no report reads any more. */
  giveBack(buffers: readonly ArrayBuffer[]): void {
    for (const buffer of buffers) {
      if (this.spareBytes + buffer.byteLength > SPARE_BYTES) continue;
      this.spare.push(buffer);
      this.spareBytes += buffer.byteLength;
    }
  }

  /** Without marks (a cluster, or a cache used outside the service) every report asks InfluxDB for the fingerprints. */
  constructor(
    readonly dir: string,
    readonly marks?: HourMarks,
  ) {}

  private file(locationId: string, deviceId: string, day: number): string {
    return path.join(this.dir, name(locationId), name(deviceId), `${day}.json`);
  }

  /** Beside the place's sensor folders; no encoded sensor name ends in `.hours.json` (dots are encoded). */
  private placeFile(locationId: string, day: number): string {
    return path.join(this.dir, name(locationId), `${day}.hours.json`);
  }

  /**
   * One report's view: the entries it found valid, the hours it filled, what to save after.
   * `trustMarks: false` asks InfluxDB's fingerprint of every hour even where marks would do
   * (reports whose digest is compared with a signed one: see reports/README.md).
   */
  session(options: { trustMarks?: boolean } = {}): BucketSession {
    return new BucketSession(this, this.marks?.stamp(), options.trustMarks !== false);
  }

  /** @internal */
  load(locationId: string, deviceId: string, day: number): DayFile {
    return this.remembered(this.file(locationId, deviceId, day), (f) => Object.values(f.hours).reduce((n, h) => n + (h.ts?.length ?? 0), 0));
  }

  /** @internal */
  loadPlace(locationId: string, day: number): PlaceDayFile {
    return this.remembered(this.placeFile(locationId, day), (f) => Object.keys(f.hours).length);
  }

  /** @internal */
  savePlace(locationId: string, day: number, content: PlaceDayFile): void {
    this.write(this.placeFile(locationId, day), content, Object.keys(content.hours).length);
  }

  /** @internal Written whole to a temporary name and renamed: a crash leaves the old file or the new one, never half of one. */
  save(locationId: string, deviceId: string, day: number, content: DayFile): void {
    this.write(
      this.file(locationId, deviceId, day),
      content,
      Object.values(content.hours).reduce((n, h) => n + h.ts.length, 0),
    );
  }

  /**
   * Parsing the day files was most of a warm report (≈ 28 MB of JSON for a 30-day, 32-sensor
   * shipment): files this process read or wrote last are kept parsed, up to `MEMO_READINGS`
   * readings, and used while the file on disk is the same one (inode, size and modification time:
   * every write is a rename of a new file, by this thread or another worker).
   */
  private readonly memo = new Map<string, { id: string; content: DayFile | PlaceDayFile; weight: number }>();
  private memoWeight = 0;

  private remembered<T extends DayFile | PlaceDayFile>(file: string, weigh: (content: T) => number): T {
    const id = fileId(file);
    const known = this.memo.get(file);
    if (known && known.id === id) {
      // Most recently used last.
      this.memo.delete(file);
      this.memo.set(file, known);
      return known.content as T;
    }
    const content = id === undefined ? ({ v: 1, hours: {} } as T) : readDay<T>(file);
    if (id !== undefined) this.remember(file, id, content, weigh(content));
    else this.forget(file);
    return content;
  }

  private write(file: string, content: DayFile | PlaceDayFile, weight: number): void {
    writeWhole(file, content);
    const id = fileId(file);
    if (id !== undefined) this.remember(file, id, content, weight);
  }

  private remember(file: string, id: string, content: DayFile | PlaceDayFile, weight: number): void {
    this.forget(file);
    this.memo.set(file, { id, content, weight });
    this.memoWeight += weight;
    for (const [oldest, entry] of this.memo) {
      if (this.memoWeight <= MEMO_READINGS) break;
      this.memo.delete(oldest);
      this.memoWeight -= entry.weight;
    }
  }

  private forget(file: string): void {
    const known = this.memo.get(file);
    if (!known) return;
    this.memo.delete(file);
    this.memoWeight -= known.weight;
  }
}

/** Readings kept parsed per process (or worker): ≈ 100 B each, so ≈ 60 MB at most. */
const MEMO_READINGS = 600_000;

/** Which file is at `file` now (undefined: none). */
function fileId(file: string): string | undefined {
  const stat = statSync(file, { bigint: true, throwIfNoEntry: false });
  return stat ? `${stat.ino}:${stat.size}:${stat.mtimeNs}` : undefined;
}

function readDay<T extends { v: 1; hours: object }>(file: string): T {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as T;
    if (parsed?.v === 1 && parsed.hours && typeof parsed.hours === 'object') return parsed;
  } catch {
    // absent or unreadable: a miss, read from InfluxDB
  }
  return { v: 1, hours: {} } as T;
}

function writeWhole(file: string, content: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(temporary, JSON.stringify(content));
  renameSync(temporary, file);
}

const toJson = (values: ArrayLike<number>, from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => (Number.isNaN(values[from + i]!) ? null : values[from + i]!));

/** A series' columns as a report through the cache builds them: one buffer, off the JavaScript heap. */
export interface PackedColumns {
  ts: Float64Array;
  temperature: Float64Array;
  humidity: Float64Array;
  seq: Float64Array;
  receivedAt: Float64Array;
}

/** The five columns of `length` readings in `buffer` (every element is written before it is read). */
function packedIn(buffer: ArrayBuffer, length: number): PackedColumns {
  const column = (k: number) => new Float64Array(buffer, k * 8 * length, length);
  return { ts: column(0), temperature: column(1), humidity: column(2), seq: column(3), receivedAt: column(4) };
}

/** Column buffers kept for the next report when one is done (`BucketSession.release`): ≈ 14 MB for a 345,600-reading report. */
const SPARE_BYTES = 64 * 1024 * 1024;

export class BucketSession {
  private readonly days = new Map<string, { locationId: string; deviceId: string; day: number; file: DayFile; dirty: boolean }>();
  /** Valid whole hours of the series this session read (a filtered copy of a series is not in it: it is judged raw). */
  private readonly hours = new WeakMap<SensorSeries, Map<number, HourEntry>>();
  private readonly places = new Map<string, { locationId: string; day: number; file: PlaceDayFile; dirty: boolean }>();
  /** The column buffers this report's series are in (`columns`), until `release`. */
  private readonly buffers: ArrayBuffer[] = [];
  hits = 0;
  misses = 0;

  constructor(
    private readonly cache: BucketCache,
    /** The writer's generation when this report started, before it read anything (hour-marks.ts). */
    private readonly stamp: MarkStamp | undefined,
    private readonly trustMarks: boolean,
  ) {}

  private place(locationId: string, hour: number) {
    const day = Math.floor(hour / DAY_MS) * DAY_MS;
    const key = `${locationId}\n${day}`;
    let entry = this.places.get(key);
    if (!entry) this.places.set(key, (entry = { locationId, day, file: this.cache.loadPlace(locationId, day), dirty: false }));
    return entry;
  }

  /**
   * The place's sensors and their fingerprints in a whole hour, without asking InfluxDB: known when
   * a report of this process saw the hour and the writer has not written it since. Else undefined
   * (the hour's fingerprint is asked).
   */
  trusted(locationId: string, hour: number): Record<string, string> | undefined {
    const marks = this.cache.marks;
    if (!marks || !this.trustMarks) return undefined;
    const seen = this.place(locationId, hour).file.hours[hour];
    if (!seen || typeof seen.sensors !== 'object' || marks.changedSince(locationId, hour, seen)) return undefined;
    return seen.sensors;
  }

  /** Remembers a whole hour whose every sensor's entry now holds what InfluxDB held after this report's stamp. */
  saw(locationId: string, hour: number, sensors: Record<string, string>): void {
    if (!this.stamp) return;
    const place = this.place(locationId, hour);
    place.file.hours[hour] = { ...this.stamp, sensors };
    place.dirty = true;
  }

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
      ts: Array.from({ length: to - from }, (_, i) => columns.ts[from + i]!),
      temperature: Array.from({ length: to - from }, (_, i) => columns.temperature[from + i]!),
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

  /**
   * Copies a stored hour's readings into a sensor's columns at `at`; returns where the next
   * reading goes. The columns are Float64Arrays the size of the whole series (readings-source.ts):
   * a warm report copied 345,600 cached readings with push() into growing arrays, whose copies
   * and garbage (scavenges moving 14 MB of live columns) were most of its time.
   */
  static copy(columns: PackedColumns, at: number, entry: HourEntry): number {
    const { ts, temperature, humidity, seq, receivedAt } = entry;
    const n = ts.length;
    for (let i = 0; i < n; i++) {
      const h = humidity[i];
      const q = seq[i];
      const r = receivedAt[i];
      columns.ts[at + i] = ts[i]!;
      columns.temperature[at + i] = temperature[i]!;
      // Stored as JSON: null (or a missing value in a torn entry) is NaN, as it was read.
      columns.humidity[at + i] = h === null || h === undefined ? Number.NaN : h;
      columns.seq[at + i] = q === null || q === undefined ? Number.NaN : q;
      columns.receivedAt[at + i] = r === null || r === undefined ? Number.NaN : r;
    }
    return at + n;
  }

  /** Columns for a series of `length` readings, in a buffer of an earlier report when one is spare. */
  columns(length: number): PackedColumns {
    const buffer = this.cache.takeBuffer(5 * 8 * length);
    this.buffers.push(buffer);
    return packedIn(buffer, length);
  }

  /**
   * The report is built and holds none of its series' columns (they were all copied into its
   * figures, chart and digest): their buffers go to the next report. Call it last, once; reading
   * the series after it reads another report's readings.
   */
  release(): void {
    this.cache.giveBack(this.buffers.splice(0));
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
    const keyOf = judgingKeys(judging);
    for (let from = 0; from < n; ) {
      const hour = Math.floor(series.ts[from]! / BUCKET_MS) * BUCKET_MS;
      const entry = hours?.get(hour);
      const to = hourEnd(series.ts, from, hour, entry?.ts.length);
      const key = entry && entry.ts.length === to - from ? keyOf(hour) : undefined;
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
      const entry = hours.get(hour);
      const to = hourEnd(series.ts, from, hour, entry?.ts.length);
      if (entry && entry.ts.length === to - from) digest.addLines(entry.lines, to - from);
      else digest.add(series, from, to);
      from = to;
    }
  }

  /** Writes the day files this report changed. A failure costs only speed (the next report reads InfluxDB again). */
  save(onError?: (err: Error) => void): void {
    this.cache.last = { hits: this.hits, misses: this.misses };
    // Sensors' entries first: a place's hour names only entries already on disk.
    for (const day of this.days.values()) {
      if (!day.dirty) continue;
      try {
        this.cache.save(day.locationId, day.deviceId, day.day, day.file);
        day.dirty = false;
      } catch (err) {
        onError?.(err as Error);
      }
    }
    for (const place of this.places.values()) {
      if (!place.dirty) continue;
      try {
        this.cache.savePlace(place.locationId, place.day, place.file);
        place.dirty = false;
      } catch (err) {
        onError?.(err as Error);
      }
    }
  }
}

/**
 * Where the readings of the clock hour that holds reading `from` end (the series is in time
 * order). For a cached hour of `known` readings, its two ends are checked instead of scanning
 * each reading: the answer is the same, found in two comparisons.
 */
function hourEnd(ts: ArrayLike<number>, from: number, hour: number, known: number | undefined): number {
  const n = ts.length;
  const end = hour + BUCKET_MS;
  if (known !== undefined && known > 0 && from + known <= n && ts[from + known - 1]! < end && (from + known === n || ts[from + known]! >= end))
    return from + known;
  let to = from + 1;
  while (to < n && ts[to]! < end) to++;
  return to;
}

/**
 * `judgingKey` for every hour of one sensor's buckets: an hour wholly inside one range version
 * takes that version's key, made once (the key is a JSON string: making it for each of 5,000+
 * hours was a visible part of a warm report).
 */
export function judgingKeys(judging: BucketJudging): (hour: number) => string | undefined {
  const { rangeAt } = judging;
  if (!rangeAt) {
    const key = judgingKey(judging, 0);
    return () => key;
  }
  const known = new Map<object, string | undefined>();
  return (hour) => {
    const a = rangeAt(hour);
    if (a !== rangeAt(hour + BUCKET_MS - 1)) return judgingKey(judging, hour);
    if (!known.has(a)) known.set(a, judgingKey(judging, hour));
    return known.get(a);
  };
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
