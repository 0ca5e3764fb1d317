import { randomUUID } from 'node:crypto';
import { BUCKET_MS } from './buckets.js';
import { READINGS_MEASUREMENT } from '../storage/measurements.js';
import { unescapeTag } from '../storage/line-protocol.js';

/**
 * Which (place, clock hour) pairs the service's own InfluxDB writer has written since a moment,
 * so the bucket cache can trust a stored hour without asking InfluxDB for its fingerprint
 * (reports/README.md, "Trusting hours without asking InfluxDB").
 *
 * A table of generations in shared memory, so the report workers (threads of the same process)
 * read what the writer (main thread) marks with no message. After InfluxDB confirmed a batch the
 * writer takes the next generation, stores it in the slot of every (place, hour) it wrote, and
 * only then publishes it as the current one. A report takes the current generation *before* it
 * reads anything: every batch marked with that generation or an earlier one was confirmed before,
 * so InfluxDB shows it to the report's reads; every later batch leaves a larger generation in its
 * slot. An hour stored with generation g is therefore unchanged while its slot holds ≤ g.
 *
 * Slots are shared by hash (a fixed 4 MB, whatever the fleet): a collision can only make an hour
 * look written when it was not (read again, never stale). Generations start again with every
 * process (`run`): an hour stored by an earlier run is never trusted by marks (what that run wrote
 * after storing it, or what was written while the service was stopped, is not in this table); it
 * is checked once against InfluxDB's fingerprint and stamped again.
 */
export interface HourMarksHandle {
  run: string;
  table: SharedArrayBuffer;
}

/** What a report remembers of the moment it started: compare with `HourMarks.changedSince`. */
export interface MarkStamp {
  run: string;
  gen: number;
}

const DEFAULT_SLOTS = 1 << 20;

export class HourMarks {
  private readonly view: Int32Array;
  private readonly slots: number;

  constructor(readonly handle: HourMarksHandle) {
    this.view = new Int32Array(handle.table);
    this.slots = this.view.length - 1;
  }

  /** A new table for this process (the service's main thread). */
  static create(slots = DEFAULT_SLOTS): HourMarks {
    return new HourMarks({ run: randomUUID(), table: new SharedArrayBuffer((slots + 1) * 4) });
  }

  /** The current generation, taken before a report reads InfluxDB. */
  stamp(): MarkStamp {
    return { run: this.handle.run, gen: Atomics.load(this.view, 0) };
  }

  /** True unless the hour is known unwritten at `locationId` since `stamp` (an earlier run's stamp is never trusted). */
  changedSince(locationId: string, hour: number, stamp: MarkStamp | undefined): boolean {
    if (!stamp || stamp.run !== this.handle.run) return true;
    return Atomics.load(this.view, this.slot(locationId, hour)) > stamp.gen;
  }

  /** Marks the pairs written by one confirmed batch, then publishes their generation. */
  mark(pairs: Iterable<readonly [locationId: string, hour: number]>): void {
    const gen = Atomics.load(this.view, 0) + 1;
    for (const [locationId, hour] of pairs) Atomics.store(this.view, this.slot(locationId, hour), gen);
    Atomics.store(this.view, 0, gen);
  }

  /** Marks the readings among line-protocol lines InfluxDB confirmed (the writer's hook, ingestor/writer.ts). */
  markLines(lines: readonly string[]): void {
    this.mark(readingHours(lines));
  }

  private slot(locationId: string, hour: number): number {
    // FNV-1a over the place and the hour's number.
    let h = 0x811c9dc5;
    for (let i = 0; i < locationId.length; i++) h = Math.imul(h ^ locationId.charCodeAt(i), 0x01000193);
    let n = Math.floor(hour / BUCKET_MS);
    for (let i = 0; i < 4; i++, n = Math.floor(n / 256)) h = Math.imul(h ^ (n & 0xff), 0x01000193);
    return 1 + ((h >>> 0) % this.slots);
  }
}

const PREFIX = `${READINGS_MEASUREMENT},`;
const LOCATION_TAG = ',locationId=';

/**
 * The (place, hour) pairs of the readings among line-protocol lines (other measurements are not
 * in reports), the place's id unescaped as `escapeTag` (storage/line-protocol.ts) escaped it. A
 * line whose time cannot be read marks the current hour (InfluxDB stamps such a point itself).
 */
export function readingHours(lines: readonly string[]): Iterable<readonly [string, number]> {
  const seen = new Map<string, readonly [string, number]>();
  for (const line of lines) {
    if (!line.startsWith(PREFIX)) continue;
    const at = line.indexOf(LOCATION_TAG);
    if (at < 0) continue;
    let end = at + LOCATION_TAG.length;
    while (end < line.length && line[end] !== ',' && line[end] !== ' ') end += line[end] === '\\' ? 2 : 1;
    const raw = line.slice(at + LOCATION_TAG.length, end);
    // Nanoseconds after the last space: milliseconds are all but the last 6 digits.
    const time = line.slice(line.lastIndexOf(' ') + 1);
    const ms = /^\d{7,}$/.test(time) ? Number(time.slice(0, -6)) : Date.now();
    const hour = Math.floor(ms / BUCKET_MS) * BUCKET_MS;
    const key = `${raw}\n${hour}`;
    if (!seen.has(key)) seen.set(key, [unescapeTag(raw), hour]);
  }
  return seen.values();
}
