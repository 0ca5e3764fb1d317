import type { Registry } from '../core/registry.js';
import { Refusal } from '../core/refusal.js';
import { quoteString, type InfluxClient } from '../storage/influx.js';
import { READINGS_MEASUREMENT } from '../ingestor/records.js';
import type { SensorSeries } from './figures.js';
import { BUCKET_MS } from './buckets.js';
import { BucketSession, type HourEntry, type PackedColumns } from './bucket-cache.js';

/** Long windows are read a month at a time: InfluxDB 1.x builds each answer whole in memory, and a year at once is a burst on every core. */
export const READ_CHUNK_MS = 31 * 86_400_000;

/**
 * The readings of every sensor that measured a place in a window, as stored (placement is
 * tagged at ingest, so a device moved since still counts where it was), with when each arrived
 * (`receivedAt`, for late-data marks). Intervals come from the
 * registry; for a device no longer registered, from the median spacing of its readings.
 */
export async function readPlace(
  influx: InfluxClient,
  registry: Registry,
  locationId: string,
  window: { start: number; end: number },
  budget?: RowBudget,
  cache?: BucketSession,
): Promise<SensorSeries[]> {
  if (cache) return readPlaceCached(influx, registry, locationId, window, cache, budget);
  const columns = new Map<string, Columns>();
  await readRaw(influx, locationId, window, columns, budget);
  return seriesOf(registry, locationId, columns);
}

type Columns = { ts: number[]; temperature: number[]; humidity: number[]; seq: number[]; receivedAt: number[] };
const emptyColumns = (): Columns => ({ ts: [], temperature: [], humidity: [], seq: [], receivedAt: [] });

async function readRaw(
  influx: InfluxClient,
  locationId: string,
  window: { start: number; end: number },
  columns: Map<string, Columns>,
  budget?: RowBudget,
): Promise<void> {
  for (let start = Math.floor(window.start); start < window.end; start += READ_CHUNK_MS) {
    const end = Math.min(Math.ceil(window.end), start + READ_CHUNK_MS);
    // With a budget, no series may bring more rows than are left (one more tells it would overflow).
    const limit = budget ? ` LIMIT ${budget.left + 1}` : '';
    const series = await influx.query(
      `SELECT "temperature", "humidity", "seq", "receivedAt" FROM "${READINGS_MEASUREMENT}" WHERE "locationId" = ${quoteString(locationId)} AND time >= ${start}ms AND time < ${end}ms GROUP BY "deviceId"${limit}`,
    );
    budget?.take(series.reduce((n, s) => n + s.values.length, 0));
    for (const s of series) {
      const deviceId = s.tags?.deviceId ?? '';
      let c = columns.get(deviceId);
      if (!c) columns.set(deviceId, (c = emptyColumns()));
      for (const row of s.values) {
        if (row[1] === null || row[1] === undefined) continue;
        c.ts.push(row[0] as number);
        c.temperature.push(row[1] as number);
        c.humidity.push(row[2] === null ? Number.NaN : (row[2] as number));
        c.seq.push(row[3] === null ? Number.NaN : (row[3] as number));
        // Readings written before the service kept arrival times have none: never late.
        c.receivedAt.push(row[4] === null || row[4] === undefined ? Number.NaN : (row[4] as number));
      }
    }
  }
}

function seriesOf(registry: Registry, locationId: string, columns: Map<string, Columns | PackedColumns>): SensorSeries[] {
  const result: SensorSeries[] = [];
  for (const [deviceId, c] of columns) {
    const device = registry.device(deviceId)?.device;
    result.push({ deviceId, locationId, ...(device?.name ? { name: device.name } : {}), intervalMs: device?.interval ?? medianSpacing(c.ts), ...c });
  }
  return result.sort((a, b) => a.deviceId.localeCompare(b.deviceId));
}

/**
 * The same readings through the bucket cache (bucket-cache.ts): InfluxDB is asked for each
 * hour's fingerprint first (count, and the sums of every column the report reads: five numbers
 * per sensor and hour), whole hours whose stored fingerprint matches come from the cache, and only the rest
 * (the partial hours at the window's edges, hours that changed, hours never stored) are read
 * from InfluxDB, in runs of consecutive hours.
 */
async function readPlaceCached(
  influx: InfluxClient,
  registry: Registry,
  locationId: string,
  window: { start: number; end: number },
  cache: BucketSession,
  budget?: RowBudget,
): Promise<SensorSeries[]> {
  // The partial hours at the window's edges are never stored: they are read while InfluxDB works out the fingerprints.
  const firstWhole = Math.ceil(window.start / BUCKET_MS) * BUCKET_MS;
  const lastWhole = Math.floor(window.end / BUCKET_MS) * BUCKET_MS;
  const edges =
    firstWhole > lastWhole
      ? [window]
      : [
          { start: window.start, end: firstWhole },
          { start: lastWhole, end: window.end },
        ].filter((e) => e.end > e.start);
  const edgeReads = edges.map((edge) => {
    const columns = new Map<string, Columns>();
    return readRaw(influx, locationId, edge, columns).then(() => columns);
  });
  // A report reads its windows at once (shipment-report.ts): letting the others ask for their
  // edges before this one looks through its cached hours has InfluxDB answer every edge while
  // the hours are checked and copied, not the last windows' edges after all of it.
  await Promise.resolve();
  // Per sensor: hour → fingerprint (hours with readings only). Whole hours the writer has not
  // written since a report of this process saw them are known without asking (hour-marks.ts);
  // InfluxDB is asked for the others' fingerprints, in runs of consecutive hours.
  const fingerprints = new Map<string, Map<number, { fp: string; count: number }>>();
  const asked: number[] = [];
  for (let hour = firstWhole; hour + BUCKET_MS <= lastWhole; hour += BUCKET_MS) {
    const sensors = cache.trusted(locationId, hour);
    if (!sensors) {
      asked.push(hour);
      continue;
    }
    for (const [deviceId, fp] of Object.entries(sensors)) {
      let hours = fingerprints.get(deviceId);
      if (!hours) fingerprints.set(deviceId, (hours = new Map()));
      hours.set(hour, { fp, count: Number.parseInt(fp, 10) });
    }
  }
  for (const run of runsOf(asked))
    for (let start = run.start; start < run.end; start += READ_CHUNK_MS) {
      const end = Math.min(run.end, start + READ_CHUNK_MS);
      const series = await influx.query(
        `SELECT count("temperature"), sum("temperature"), sum("humidity"), sum("seq"), sum("receivedAt") FROM "${READINGS_MEASUREMENT}" WHERE "locationId" = ${quoteString(locationId)} AND time >= ${start}ms AND time < ${end}ms GROUP BY time(1h), "deviceId" fill(none)`,
      );
      for (const s of series) {
        const deviceId = s.tags?.deviceId ?? '';
        let hours = fingerprints.get(deviceId);
        if (!hours) fingerprints.set(deviceId, (hours = new Map()));
        for (const row of s.values) {
          const count = (row[1] as number | null) ?? 0;
          if (count > 0) hours.set(row[0] as number, { fp: `${count}|${row[2]}|${row[3]}|${row[4]}|${row[5]}`, count });
        }
      }
    }
  // The row limit holds as before, counted before a single reading is read (the edges' rows when they are in).
  budget?.take([...fingerprints.values()].reduce((n, hours) => n + [...hours.values()].reduce((m, h) => m + h.count, 0), 0));

  const whole = (hour: number) => hour >= window.start && hour + BUCKET_MS <= window.end;
  const found = new Map<string, Map<number, HourEntry>>();
  const missing = new Set<number>();
  for (const [deviceId, hours] of fingerprints) {
    const valid = new Map<number, HourEntry>();
    found.set(deviceId, valid);
    for (const [hour, { fp }] of hours) {
      if (!whole(hour)) continue;
      const entry = cache.valid(locationId, deviceId, hour, fp);
      if (entry) valid.set(hour, entry);
      else missing.add(hour);
    }
  }

  // The missing whole hours, read in runs of consecutive hours (all sensors of the place at once).
  const middle = new Map<string, Columns>();
  const sorted = [...missing].sort((a, b) => a - b);
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + BUCKET_MS) j++;
    await readRaw(influx, locationId, { start: sorted[i]!, end: sorted[j]! + BUCKET_MS }, middle);
    i = j + 1;
  }
  // Everything read from InfluxDB, in time order: the first edge, the missing hours, the last edge.
  const edgeColumns = await Promise.all(edgeReads);
  budget?.take(edgeColumns.reduce((n, part) => n + [...part.values()].reduce((m, c) => m + c.ts.length, 0), 0));
  const parts = [...edges.map((e, i) => ({ start: e.start, columns: edgeColumns[i]! })), { start: sorted[0] ?? window.start, columns: middle }]
    .sort((x, y) => x.start - y.start)
    .map((p) => p.columns);
  const raw = new Map<string, Columns>();
  for (const part of parts)
    for (const [deviceId, c] of part) {
      let into = raw.get(deviceId);
      if (!into) raw.set(deviceId, (into = emptyColumns()));
      for (let k = 0; k < c.ts.length; k++) {
        into.ts.push(c.ts[k]!);
        into.temperature.push(c.temperature[k]!);
        into.humidity.push(c.humidity[k]!);
        into.seq.push(c.seq[k]!);
        into.receivedAt.push(c.receivedAt[k]!);
      }
    }

  const columns = new Map<string, PackedColumns>();
  const attached = new Map<string, Map<number, HourEntry>>();
  for (const deviceId of new Set([...fingerprints.keys(), ...raw.keys()])) {
    const valid = found.get(deviceId) ?? new Map<number, HourEntry>();
    const read = raw.get(deviceId) ?? emptyColumns();
    const hours = new Map<number, HourEntry>();
    // Hours in time order, each from the cache or from what was just read: first where each
    // comes from and how many readings there are in all, then one copy into columns of that size.
    const all = [...new Set([...valid.keys(), ...read.ts.map((t) => Math.floor(t / BUCKET_MS) * BUCKET_MS)])].sort((a, b) => a - b);
    const pieces: Array<HourEntry | { from: number; to: number }> = [];
    let length = 0;
    let r = 0;
    for (const hour of all) {
      const cached = valid.get(hour);
      if (cached) {
        // A run read for another sensor's sake may have brought this hour too: it is the cached one.
        while (r < read.ts.length && read.ts[r]! < hour + BUCKET_MS) r++;
        pieces.push(cached);
        hours.set(hour, cached);
        length += cached.ts.length;
        continue;
      }
      const from = r;
      while (r < read.ts.length && read.ts[r]! < hour + BUCKET_MS) r++;
      const fp = fingerprints.get(deviceId)?.get(hour);
      // Stored only when what was read is what the fingerprint counted (no reading landed in between).
      if (whole(hour) && fp && fp.count === r - from) hours.set(hour, cache.store(locationId, deviceId, hour, fp.fp, read, from, r));
      pieces.push({ from, to: r });
      length += r - from;
    }
    if (!length) continue;
    const c = cache.columns(length);
    let at = 0;
    for (const piece of pieces) {
      if ('fp' in piece) {
        at = BucketSession.copy(c, at, piece);
        continue;
      }
      for (let k = piece.from; k < piece.to; k++, at++) {
        c.ts[at] = read.ts[k]!;
        c.temperature[at] = read.temperature[k]!;
        c.humidity[at] = read.humidity[k]!;
        c.seq[at] = read.seq[k]!;
        c.receivedAt[at] = read.receivedAt[k]!;
      }
    }
    columns.set(deviceId, c);
    attached.set(deviceId, hours);
  }
  // Asked hours whose every sensor now has its entry: the next report need not ask again.
  for (const hour of asked) {
    const sensors: Record<string, string> = {};
    let complete = true;
    for (const [deviceId, hours] of fingerprints) {
      const fp = hours.get(hour);
      if (!fp) continue;
      if (attached.get(deviceId)?.get(hour)?.fp !== fp.fp) complete = false;
      sensors[deviceId] = fp.fp;
    }
    if (complete) cache.saw(locationId, hour, sensors);
  }
  const result = seriesOf(registry, locationId, columns);
  for (const s of result) cache.attach(s, attached.get(s.deviceId)!);
  return result;
}

/** Consecutive hours as windows. */
function runsOf(hours: number[]): Array<{ start: number; end: number }> {
  const runs: Array<{ start: number; end: number }> = [];
  for (const hour of hours) {
    const last = runs.at(-1);
    if (last && last.end === hour) last.end = hour + BUCKET_MS;
    else runs.push({ start: hour, end: hour + BUCKET_MS });
  }
  return runs;
}

function medianSpacing(ts: ArrayLike<number>): number {
  if (ts.length < 2) return 60_000;
  const steps = Array.from({ length: ts.length - 1 }, (_, i) => ts[i + 1]! - ts[i]!).sort((a, b) => a - b);
  return Math.max(1000, steps[Math.floor(steps.length / 2)]!);
}

/** A report asked for more readings than one report may hold (`reports.maxRows`): 422. */
export class ReportTooLargeError extends Refusal<422> {
  constructor(
    readonly rows: number,
    readonly maxRows: number,
  ) {
    super(
      `this report would read more than ${maxRows.toLocaleString('en')} readings (the limit, reports.maxRows; at least ${rows.toLocaleString('en')} are stored for it): ask for a shorter period`,
      422,
      'report_too_large',
    );
    this.name = 'ReportTooLargeError';
  }
}

/** How many readings one report may still read; every query of the report takes from it. */
export class RowBudget {
  private used = 0;
  constructor(readonly maxRows: number) {}
  get left(): number {
    return Math.max(0, this.maxRows - this.used);
  }
  take(rows: number): void {
    this.used += rows;
    if (this.used > this.maxRows) throw new ReportTooLargeError(this.used, this.maxRows);
  }
}
