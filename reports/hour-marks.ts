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

  /** Marks the readings among the line-protocol bytes InfluxDB confirmed (the writer's hook, ingestor/writer.ts). */
  markWritten(bytes: Buffer): void {
    this.mark(readingHours(bytes));
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

const PREFIX = Buffer.from(`${READINGS_MEASUREMENT},`);
const LOCATION_TAG = Buffer.from(',locationId=');
const NEWLINE = 10;
const SPACE = 32;
const COMMA = 44;
const BACKSLASH = 92;
const ZERO = 48;

/**
 * The (place, hour) pairs of the readings among line-protocol lines (other measurements are not
 * in reports), the place's id unescaped as `escapeTag` (storage/line-protocol.ts) escaped it. A
 * line whose time cannot be read marks the current hour (InfluxDB stamps such a point itself).
 *
 * Read from the bytes the writer sent, not from lines decoded out of them: at ≈ 100,000 readings/s
 * (batched uploads) decoding every batch and building a key for every line was ≈ 1 µs a reading of
 * the main thread's ≈ 8. A line of the same place and hour as the one before it (the spool keeps a
 * device's readings together) is passed over by comparing its bytes.
 */
export function readingHours(bytes: Buffer): Iterable<readonly [string, number]> {
  const seen = new Map<string, readonly [string, number]>();
  let lastFrom = 0;
  let lastTo = 0;
  let lastHour = Number.NaN;
  // The last reading line's start while the byte after its place's id ends that id (a comma or a
  // space), else -1: a line that starts with the same bytes up to and with that one is a reading
  // of the same device and place, found without looking for the tag (a device's readings lie
  // together in the spool; this was most of the marks' cost, ≈ 0.4 µs a reading).
  let lastLine = -1;
  for (let start = 0; start < bytes.length; ) {
    let end = bytes.indexOf(NEWLINE, start);
    if (end < 0) end = bytes.length;
    const line = start;
    start = end + 1;
    let from: number;
    let to: number;
    let samePlace: boolean;
    if (lastLine >= 0 && sameStart(bytes, lastLine, line, lastTo - lastLine + 1, end)) {
      from = line + (lastFrom - lastLine);
      to = line + (lastTo - lastLine);
      samePlace = true;
      lastLine = line;
    } else {
      if (bytes.compare(PREFIX, 0, PREFIX.length, line, Math.min(end, line + PREFIX.length)) !== 0) continue;
      const at = bytes.subarray(line, end).indexOf(LOCATION_TAG);
      if (at < 0) continue;
      from = line + at + LOCATION_TAG.length;
      to = from;
      while (to < end && bytes[to] !== COMMA && bytes[to] !== SPACE) to += bytes[to] === BACKSLASH ? 2 : 1;
      to = Math.min(to, end);
      samePlace = to - from === lastTo - lastFrom && bytes.compare(bytes, lastFrom, lastTo, from, to) === 0;
      lastLine = to < end ? line : -1;
    }
    const hour = Math.floor(timeOf(bytes, line, end) / BUCKET_MS) * BUCKET_MS;
    const known = samePlace && hour === lastHour;
    lastFrom = from;
    lastTo = to;
    lastHour = hour;
    if (known) continue;
    const raw = bytes.toString('utf8', from, to);
    const key = `${raw}\n${hour}`;
    if (!seen.has(key)) seen.set(key, [unescapeTag(raw), hour]);
  }
  return seen.values();
}

/** Whether the `length` bytes at `b` (before `end`) are those at `a`. */
function sameStart(bytes: Buffer, a: number, b: number, length: number, end: number): boolean {
  if (b + length > end) return false;
  for (let i = length - 1; i >= 0; i--) if (bytes[a + i] !== bytes[b + i]) return false;
  return true;
}

/** A line's time in ms: the nanoseconds after its last space are all but their last 6 digits; now when there are none. */
function timeOf(bytes: Buffer, line: number, end: number): number {
  let space = end - 1;
  while (space > line && bytes[space] !== SPACE) space--;
  if (end - space - 1 < 7) return Date.now();
  let ms = 0;
  for (let i = space + 1; i < end; i++) {
    const digit = bytes[i]! - ZERO;
    if (digit < 0 || digit > 9) return Date.now();
    if (i < end - 6) ms = ms * 10 + digit;
  }
  return ms;
}
