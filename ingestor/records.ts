import { z } from 'zod';
import { readingSchema, rejectReasons } from '../core/reading.js';
import type { Rejection } from './decode.js';
import type { Fact } from '../storage/fact-log.js';
import { int, integerText, nsOf, numberText, seriesKey } from '../storage/line-protocol.js';
import { DEVICE_MESSAGES_MEASUREMENT, READINGS_MEASUREMENT, REJECTS_MEASUREMENT } from '../storage/measurements.js';

/**
 * What ingestion hands to in-process consumers (rules engine, live board) once it is durable.
 * Placement (site, location) is captured at ingest time so moving a device later does not
 * rewrite history.
 */
export const acceptedBatchSchema = z.object({
  deviceId: z.string(),
  siteId: z.string(),
  locationId: z.string(),
  /** Server receive time, epoch ms. */
  receivedAt: z.number(),
  readings: z.array(readingSchema.extend({ ts: z.number() })),
});

export const rejectionRecordSchema = z.object({
  deviceId: z.string(),
  receivedAt: z.number(),
  reason: z.enum(rejectReasons),
  message: z.string(),
  /** Position in a batch of the first refused reading; absent when the whole message was refused. */
  index: z.number().optional(),
  /** How many readings of a batch were refused (all summarised in this one record); absent for a whole message. */
  refused: z.number().optional(),
  topic: z.string(),
  bytes: z.number(),
  /** The start of the raw payload, for whoever investigates. */
  raw: z.string(),
});

export type AcceptedBatch = z.infer<typeof acceptedBatchSchema>;
export type RejectionRecord = z.infer<typeof rejectionRecordSchema>;

export const RAW_PREVIEW_BYTES = 512;
/** Status and event messages are stored as they came, up to this size (larger ones are quarantined). */
export const MAX_DEVICE_MESSAGE_BYTES = 8 * 1024;
/** A reject's message is at most this long, however many readings of the batch it summarises. */
export const REJECT_MESSAGE_CHARS = 1024;
/** Per reason, the first this many refused positions are named. */
const INDEXES_NAMED = 5;

const clip = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

/**
 * One message's refusals as the one reject record it gets (issue 12, item 8: a record per bad
 * reading, each with its own copy of the payload, let 50 KB sent become 20 MB stored). A single
 * refusal is kept as it is; several are summarised per reason, most frequent first: the count,
 * the first positions and the first message of each. The record's reason is the most frequent
 * one (the first seen on a tie), its index the first refused position.
 */
export function summariseRejections(rejections: readonly Rejection[]): Rejection & { refused?: number } {
  const first = rejections[0]!;
  if (rejections.length === 1) return { ...first, message: clip(first.message, REJECT_MESSAGE_CHARS), ...(first.index !== undefined ? { refused: 1 } : {}) };
  const byReason = new Map<string, { count: number; indexes: number[]; message: string }>();
  for (const r of rejections) {
    const entry = byReason.get(r.reason) ?? { count: 0, indexes: [], message: r.message };
    entry.count++;
    if (r.index !== undefined && entry.indexes.length < INDEXES_NAMED) entry.indexes.push(r.index);
    byReason.set(r.reason, entry);
  }
  const ordered = [...byReason].sort((a, b) => b[1].count - a[1].count);
  const parts = ordered.map(([reason, { count, indexes, message }]) => {
    const at = indexes.length ? ` at [${indexes.join(', ')}${count > indexes.length ? ', …' : ''}]` : '';
    return `${reason} ×${count}${at}, first: ${clip(message, 200)}`;
  });
  const index = rejections.find((r) => r.index !== undefined)?.index;
  return {
    reason: ordered[0]![0] as Rejection['reason'],
    message: clip(`${rejections.length} readings refused: ${parts.join('; ')}`, REJECT_MESSAGE_CHARS),
    ...(index !== undefined ? { index } : {}),
    refused: rejections.length,
  };
}

// Measurement names live in storage/; api/ and reports/ still import these three from here.
export { DEVICE_MESSAGES_MEASUREMENT, READINGS_MEASUREMENT, REJECTS_MEASUREMENT } from '../storage/measurements.js';

/**
 * The spool stores InfluxDB line protocol, one point per line, exactly as it will be written:
 * the writer then only concatenates, and a replay after a crash rewrites identical points
 * (same series, same timestamp), which is what makes redelivery idempotent.
 * Readings carry device time; one point per device and device time.
 */
const readingSeries = (batch: Omit<AcceptedBatch, 'readings'>) =>
  seriesKey(READINGS_MEASUREMENT, { deviceId: batch.deviceId, locationId: batch.locationId, siteId: batch.siteId });

/**
 * The `readings` series key of each device's placement, built once (escaping tests three
 * regular expressions) rather than once a message; a device moved elsewhere gets its new key.
 */
export class ReadingSeriesKeys {
  private readonly byDevice = new Map<string, { siteId: string; locationId: string; key: string; bytes: Buffer }>();

  of(batch: Omit<AcceptedBatch, 'readings'>): string {
    return this.entry(batch).key;
  }

  /** The key and the space after it, as UTF-8: what every line of the device's readings starts with. */
  bytesOf(batch: Omit<AcceptedBatch, 'readings'>): Buffer {
    return this.entry(batch).bytes;
  }

  private entry(batch: Omit<AcceptedBatch, 'readings'>): { siteId: string; locationId: string; key: string; bytes: Buffer } {
    const known = this.byDevice.get(batch.deviceId);
    if (known && known.siteId === batch.siteId && known.locationId === batch.locationId) return known;
    const key = readingSeries(batch);
    const entry = { siteId: batch.siteId, locationId: batch.locationId, key, bytes: Buffer.from(`${key} `) };
    this.byDevice.set(batch.deviceId, entry);
    return entry;
  }
}

export function readingLines(batch: AcceptedBatch, series: string = readingSeries(batch)): string {
  const readings = batch.readings;
  // One string concatenated in place: the hot path of every accepted reading (no array, no field objects).
  const received = receivedAtField(batch.receivedAt);
  let text = '';
  for (let i = 0; i < readings.length; i++) text += `${i > 0 ? '\n' : ''}${series} ${valueFields(readings[i]!)}${received} ${nsOf(readings[i]!.ts)}`;
  return text;
}

/** The last field of every reading of a message: its receive time, written once a message. */
export const receivedAtField = (receivedAt: number): string => `,receivedAt=${integerText(receivedAt)}i`;

/** A reading's fields before `receivedAt` (see readingFields): `ReadingText`'s, the one encoding of a reading's values. */
function valueFields(r: IndexedReading): string {
  return shared.fields(r);
}

/** FNV-1a over `text`, continuing from `hash`. */
function fnv(hash: number, text: string): number {
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash;
}

const PIPE = 0x7c;

/** Room `ReadingText.write` needs: at most ≈ 235 bytes, seven fields whose names take 52 and whose values print in at most 26 characters each. */
export const FIELDS_MAX_BYTES = 256;

/**
 * `text` (ASCII: what a number or a boolean prints as, a field's name) as bytes into `buffer` from
 * `at`; returns where it ends.
 */
export function putAscii(buffer: Uint8Array, at: number, text: string): number {
  for (let i = 0; i < text.length; i++) buffer[at + i] = text.charCodeAt(i);
  return at + text.length;
}

/** The digits above the lower six of the last epoch ms `putNs` wrote: they change once every 1,000 s. */
let nsUpper = -1;
const nsUpperDigits = new Uint8Array(7);

/**
 * `nsOf(ms)` as bytes into `buffer` from `at` (room for 32): a 13-digit epoch ms (the years 2001
 * to 2286) is written digit by digit, with no string made; anything else as `nsOf` prints it.
 */
export function putNs(buffer: Uint8Array, at: number, ms: number): number {
  if (!(ms >= 1e12 && ms < 1e13) || !Number.isInteger(ms)) return putAscii(buffer, at, nsOf(ms));
  const upper = Math.floor(ms / 1e6);
  let lower = ms - upper * 1e6;
  if (upper !== nsUpper) {
    nsUpper = upper;
    let rest = upper;
    for (let i = 6; i >= 0; i--) {
      const next = (rest / 10) | 0;
      nsUpperDigits[i] = 48 + rest - next * 10;
      rest = next;
    }
  }
  buffer.set(nsUpperDigits, at);
  for (let i = at + 12; i > at + 6; i--) {
    const next = (lower / 10) | 0;
    buffer[i] = 48 + lower - next * 10;
    lower = next;
  }
  for (let i = at + 13; i < at + 19; i++) buffer[i] = 48;
  return at + 19;
}

/**
 * A reading's values turned into text once, for both its fingerprint and its line (a number's
 * text is most of what either costs): `write(r, …)` puts `valueFields(r)` as bytes where the line
 * is being built (the spool's commit buffer: no string per reading to build, flatten and encode)
 * and leaves `fingerprintOf(r)` in `fingerprint`, hashed piece by piece over the same characters.
 * `fields(r)` is the same as a string, for the lines built off the hot path.
 */
export class ReadingText {
  fingerprint = 0;
  private hash = 0;
  private readonly scratch = Buffer.allocUnsafe(FIELDS_MAX_BYTES);

  /** Writes `text` and hashes it into the fingerprint. */
  private value(buffer: Uint8Array, at: number, text: string): number {
    let hash = this.hash;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      buffer[at + i] = c;
      hash = Math.imul(hash ^ c, 0x01000193);
    }
    this.hash = hash;
    return at + text.length;
  }

  /**
   * `value` of a sequence number's text (an integer from 0 to 2^31 - 1), its digits worked out
   * here: every reading has a number of its own, and printing one made a string each time.
   */
  private digits(buffer: Uint8Array, at: number, n: number): number {
    let length = 1;
    for (let rest = n; rest >= 10; rest = (rest / 10) | 0) length++;
    let rest = n;
    for (let i = at + length - 1; i >= at; i--) {
      const next = (rest / 10) | 0;
      buffer[i] = 48 + rest - next * 10;
      rest = next;
    }
    let hash = this.hash;
    for (let i = at; i < at + length; i++) hash = Math.imul(hash ^ buffer[i]!, 0x01000193);
    this.hash = hash;
    return at + length;
  }

  /** A field left out: hashed as JavaScript prints undefined. */
  private absent(): void {
    this.hash = fnv(this.hash, 'undefined');
  }

  private pipe(): void {
    this.hash = Math.imul(this.hash ^ PIPE, 0x01000193);
  }

  /** `fields(r)` as bytes into `buffer` from `at` (room for FIELDS_MAX_BYTES); returns where they end. */
  write(r: IndexedReading, buffer: Uint8Array, at: number): number {
    this.hash = 0x811c9dc5;
    let pos = this.value(buffer, putAscii(buffer, at, 'temperature='), numberText(r.temperature));
    this.pipe();
    if (r.humidity !== undefined) pos = this.value(buffer, putAscii(buffer, pos, ',humidity='), numberText(r.humidity));
    else this.absent();
    this.pipe();
    if (r.battery !== undefined) pos = this.value(buffer, putAscii(buffer, pos, ',battery='), numberText(r.battery));
    else this.absent();
    this.pipe();
    if (r.lat !== undefined) pos = this.value(buffer, putAscii(buffer, pos, ',lat='), `${r.lat}`);
    else this.absent();
    this.pipe();
    if (r.lon !== undefined) pos = this.value(buffer, putAscii(buffer, pos, ',lon='), `${r.lon}`);
    else this.absent();
    this.pipe();
    if (r.door !== undefined) pos = this.value(buffer, putAscii(buffer, pos, ',door='), `${r.door}`);
    else this.absent();
    this.pipe();
    if (r.seq !== undefined) {
      pos = putAscii(buffer, pos, ',seq=');
      pos = r.seq >= 0 && r.seq <= 0x7fffffff ? this.digits(buffer, pos, r.seq) : this.value(buffer, pos, `${r.seq}`);
      buffer[pos++] = 0x69; // i: an integer field
    } else this.absent();
    this.fingerprint = this.hash >>> 0;
    return pos;
  }

  fields(r: IndexedReading): string {
    return this.scratch.toString('latin1', 0, this.write(r, this.scratch, 0));
  }
}

/** For the callers off the hot path (one reading at a time, synchronously: its fields are read at once). */
const shared = new ReadingText();

/**
 * A reading's field set, byte for byte what `fieldSet` gives for { temperature, humidity, battery,
 * lat, lon, door, seq: int, receivedAt: int } (tests/line-protocol.test.ts holds them equal),
 * without the object and `Int` wrappers `fieldSet` needs.
 */
export function readingFields(r: IndexedReading, receivedAt: number): string {
  return `${valueFields(r)}${receivedAtField(receivedAt)}`;
}

/** A quarantined message, at its receive time (the fact log's sequence keeps one device's rejects of one ms apart). */
export function rejectionFact(record: RejectionRecord): Fact {
  return {
    measurement: REJECTS_MEASUREMENT,
    tags: { deviceId: record.deviceId || '(none)', reason: record.reason },
    fields: {
      message: record.message,
      topic: record.topic,
      bytes: int(record.bytes),
      payload: record.raw,
      index: record.index === undefined ? undefined : int(record.index),
      refused: record.refused === undefined ? undefined : int(record.refused),
      receivedAt: int(record.receivedAt),
    },
    at: record.receivedAt,
  };
}

/**
 * A device's status or event message (firmware, signal, reboots, button presses), kept as it
 * came; firmware and battery are lifted into fields of their own for dashboards.
 */
export function deviceMessageFact(
  placement: { deviceId: string; siteId: string; locationId: string },
  channel: 'status' | 'events',
  body: Record<string, unknown>,
  raw: string,
  receivedAt: number,
): Fact {
  return {
    measurement: DEVICE_MESSAGES_MEASUREMENT,
    tags: { deviceId: placement.deviceId, locationId: placement.locationId, siteId: placement.siteId, channel },
    fields: {
      payload: raw,
      firmware: typeof body.firmware === 'string' ? body.firmware : undefined,
      battery: typeof body.battery === 'number' && Number.isFinite(body.battery) ? body.battery : undefined,
      receivedAt: int(receivedAt),
    },
    at: receivedAt,
  };
}

/** Server receive time of a spooled point (or deferred reading), for the "oldest pending" figure. */
export function receivedAtOf(line: string): number | undefined {
  const match = /receivedAt(?:=|":)(\d+)/.exec(line);
  return match ? Number(match[1]) : undefined;
}

/**
 * A spool line that starts with this is a reading the in-memory index could not vouch for (older
 * than it covers, or of a device time from before the service started): the writer looks up what
 * InfluxDB holds at that device time before it writes it (`ingestor/stored-readings.ts`). Line
 * protocol never starts with it, so the writer tells the two apart by the first character.
 */
export const DEFERRED_MARK = '?';

/**
 * What a deferred reading's spool line held up to 2026-12-02 (`?` + this as JSON): still read, for a
 * spool written by an earlier version.
 */
export const deferredReadingSchema = z.object({
  deviceId: z.string(),
  siteId: z.string(),
  locationId: z.string(),
  receivedAt: z.number(),
  topic: z.string(),
  reading: readingSchema.extend({ ts: z.number() }),
});
export type DeferredReading = z.infer<typeof deferredReadingSchema>;

/**
 * The spool line of a deferred reading: the mark, its topic as a JSON string (for a conflict
 * record), a space, then the reading's own line exactly as `readingLines` writes it. The writer
 * sends that line as it is when InfluxDB holds nothing at its device time (the usual case), and
 * reads the line back only when something is stored there: no JSON of the reading to write or parse.
 */
export function deferredLine(batch: Omit<AcceptedBatch, 'readings'>, topic: string, r: IndexedReading, prefix: string = deferredPrefix(batch, topic)): string {
  return `${prefix}${readingFields(r, batch.receivedAt)} ${nsOf(r.ts)}`;
}

/** What every deferred line of one message starts with: built once a message, not once a reading (the PUBACK path). */
export const deferredPrefix = (batch: Omit<AcceptedBatch, 'readings'>, topic: string, series: string = readingSeries(batch)): string =>
  `${DEFERRED_MARK}${JSON.stringify(topic)} ${series} `;

/** A reading as the index and the conflict records see it: device time plus the values stored. */
type IndexedReading = AcceptedBatch['readings'][number];

/** How far back (device time) and how many readings per device the in-memory index of recent readings covers. */
export const RECENT_READINGS_MAX = 4096;
export const RECENT_READINGS_SPAN_MS = 48 * 3_600_000;
const INITIAL_CAPACITY = 64;

/**
 * The values of a reading (not its receive time) as a 32-bit FNV-1a hash of
 * `temperature|humidity|battery|lat|lon|door|seq` (each as JavaScript prints it, `undefined` when
 * absent; stored in conflict records, so fixed: tests/line-protocol.test.ts holds it): equal
 * readings have equal fingerprints; two different readings share one with odds of 1 in 2^32.
 */
export function fingerprintOf(r: IndexedReading): number {
  shared.fields(r);
  return shared.fingerprint;
}

/** What the index says of a reading: new, a redelivery of a stored one (`revision` 0 = the first), or a different one. */
export type ReadingVerdict =
  | { kind: 'new' }
  | { kind: 'same'; revision: number }
  | { kind: 'conflict'; revision: number; firstTemperature: number; firstFingerprint: number; fingerprint: number }
  /**
   * Older than what the index covers (evicted, or a device time from before the service started),
   * or a device time already deferred: the writer checks it against InfluxDB (ingestor/README.md).
   */
  | { kind: 'unchecked' };

/** The verdicts of nearly every reading: shared, not allocated a reading. */
const NEW: ReadingVerdict = Object.freeze({ kind: 'new' });
const UNCHECKED: ReadingVerdict = Object.freeze({ kind: 'unchecked' });

/** The revision slot value of a deferred reading: its revision is decided by the writer, so every reading of that device time is deferred too. */
const PENDING = 255;

/** The table cell to start probing at for a device time (epoch ms, an integer). */
const cellOf = (ts: number, mask: number) => (Math.imul((ts >>> 0) ^ ((ts / 4294967296) >>> 0), 0x9e3779b1) >>> 0) & mask;

/**
 * One device's recent readings, in typed arrays only (no object or Map entry per reading): a ring
 * of slots (device time, value fingerprint, temperature as float32, revision: 17 bytes) in arrival
 * order, and an open-addressing hash table (linear probing, twice the ring's size: 4 bytes a slot)
 * from device time to the slots of that time: the first reading and its later, different
 * revisions. The ring grows by doubling up to RECENT_READINGS_MAX; slots are evicted oldest
 * first when it is full or their device time is more than RECENT_READINGS_SPAN_MS behind the newest.
 */
class DeviceReadings {
  private ts = new Float64Array(INITIAL_CAPACITY);
  private fp = new Uint32Array(INITIAL_CAPACITY);
  private temp = new Float32Array(INITIAL_CAPACITY);
  private rev = new Uint8Array(INITIAL_CAPACITY);
  /** Slot + 1 per cell (RECENT_READINGS_MAX < 2^16); 0 is an empty cell. */
  private table = new Uint16Array(INITIAL_CAPACITY * 2);

  /** Bytes its arrays hold: what the index costs, measured exactly rather than through the heap. */
  get byteLength(): number {
    return this.ts.byteLength + this.fp.byteLength + this.temp.byteLength + this.rev.byteLength + this.table.byteLength;
  }
  private head = 0;
  private size = 0;
  private newest = Number.NEGATIVE_INFINITY;

  /**
   * Readings at or before this device time may have been evicted, or stored before the service
   * started (`startFloor`): the index cannot check them.
   */
  constructor(public floor: number) {}
  /** For the clock-jump check: the last reading carrying a sequence number. */
  lastSeq = -1;
  lastSeqTs = 0;
  lastSeqReceivedAt = 0;

  check(r: IndexedReading, fingerprint: number): ReadingVerdict {
    const mask = this.table.length - 1;
    let first = -1;
    let latest = -1;
    for (let cell = cellOf(r.ts, mask); this.table[cell] !== 0; cell = (cell + 1) & mask) {
      const slot = this.table[cell]! - 1;
      if (this.ts[slot] !== r.ts) continue;
      // A deferred reading's revision is only known to the writer: every later reading of that time is deferred too.
      if (this.rev[slot] === PENDING) return UNCHECKED;
      if (this.fp[slot] === fingerprint) return { kind: 'same', revision: this.rev[slot]! };
      if (first === -1 || this.rev[slot]! < this.rev[first]!) first = slot;
      if (latest === -1 || this.rev[slot]! > this.rev[latest]!) latest = slot;
    }
    if (first === -1) return r.ts <= this.floor ? UNCHECKED : NEW;
    return { kind: 'conflict', revision: this.rev[latest]! + 1, firstTemperature: this.temp[first]!, firstFingerprint: this.fp[first]!, fingerprint };
  }

  /** Records a reading found `new` (revision 0), `conflict` (its revision) or `unchecked` (PENDING). */
  add(r: IndexedReading, fingerprint: number, revision: number, pending = false): void {
    if (r.ts > this.newest) this.newest = r.ts;
    while (this.size > 0 && this.ts[this.head]! < this.newest - RECENT_READINGS_SPAN_MS) this.evictOldest();
    if (this.size === this.ts.length) {
      if (this.ts.length < RECENT_READINGS_MAX) this.grow();
      else this.evictOldest();
    }
    const slot = (this.head + this.size) % this.ts.length;
    this.size++;
    this.ts[slot] = r.ts;
    this.fp[slot] = fingerprint;
    this.temp[slot] = r.temperature;
    this.rev[slot] = pending ? PENDING : Math.min(revision, PENDING - 1);
    this.insert(slot);
  }

  private insert(slot: number): void {
    const mask = this.table.length - 1;
    let cell = cellOf(this.ts[slot]!, mask);
    while (this.table[cell] !== 0) cell = (cell + 1) & mask;
    this.table[cell] = slot + 1;
  }

  private evictOldest(): void {
    const slot = this.head;
    const ts = this.ts[slot]!;
    if (ts > this.floor) this.floor = ts;
    // Linear probing's deletion: empty the cell, then move back the entries of its cluster that it would hide.
    const table = this.table;
    const mask = table.length - 1;
    let hole = cellOf(ts, mask);
    while (table[hole] !== slot + 1) hole = (hole + 1) & mask;
    for (let cell = (hole + 1) & mask; table[cell] !== 0; cell = (cell + 1) & mask) {
      const home = cellOf(this.ts[table[cell]! - 1]!, mask);
      const stays = hole <= cell ? hole < home && home <= cell : hole < home || home <= cell;
      if (stays) continue;
      table[hole] = table[cell]!;
      hole = cell;
    }
    table[hole] = 0;
    this.head = (this.head + 1) % this.ts.length;
    this.size--;
  }

  private grow(): void {
    const capacity = Math.min(this.ts.length * 2, RECENT_READINGS_MAX);
    const old = { ts: this.ts, fp: this.fp, temp: this.temp, rev: this.rev };
    this.ts = new Float64Array(capacity);
    this.fp = new Uint32Array(capacity);
    this.temp = new Float32Array(capacity);
    this.rev = new Uint8Array(capacity);
    this.table = new Uint16Array(capacity * 2);
    for (let i = 0; i < this.size; i++) {
      const from = (this.head + i) % old.ts.length;
      this.ts[i] = old.ts[from]!;
      this.fp[i] = old.fp[from]!;
      this.temp[i] = old.temp[from]!;
      this.rev[i] = old.rev[from]!;
      this.insert(i);
    }
    this.head = 0;
  }
}

/** A clock jump seen on a reading: the previous reading with a sequence number, and this one. */
export interface ClockJump {
  previousSeq: number;
  previousTs: number;
  seq: number;
  ts: number;
}

/**
 * Per device, the recent readings (device time → value fingerprint) that tell a redelivery from a
 * different reading at the same device time, in memory and without I/O: one Map lookup a reading.
 * What it cannot vouch for, it says `unchecked`: a reading at or before a device's `floor`
 * (evicted, or at or before `startFloor`, the latest device time anything stored before this
 * process started can have) and every reading of a device time already deferred. Those are
 * spooled as deferred lines and checked by the writer against InfluxDB (stored-readings.ts).
 */
export class RecentReadings {
  private readonly devices = new Map<string, DeviceReadings>();
  /** Once InfluxDB said what it held at start: per device its newest stored device time; others `storedSince`. */
  private storedNewest: Map<string, number> | undefined;
  private storedSince = Number.NEGATIVE_INFINITY;

  /**
   * @param startFloor device times up to this may already be stored (by an earlier run, a restore,
   * or the spool recovered at start): the service passes its start time plus `ingest.maxFutureSkew`.
   */
  constructor(
    private readonly maxFutureSkewMs: number,
    private readonly startFloor = Number.NEGATIVE_INFINITY,
  ) {}

  /** Bytes of every device's arrays. */
  get byteLength(): number {
    let bytes = 0;
    for (const device of this.devices.values()) bytes += device.byteLength;
    return bytes;
  }

  private of(deviceId: string): DeviceReadings {
    let device = this.devices.get(deviceId);
    if (!device) this.devices.set(deviceId, (device = new DeviceReadings(this.floorAtStart(deviceId))));
    return device;
  }

  private floorAtStart(deviceId: string): number {
    if (!this.storedNewest) return this.startFloor;
    return Math.max(this.storedNewest.get(deviceId) ?? this.storedSince, this.storedSince);
  }

  /**
   * What InfluxDB holds, asked once it holds everything spooled before this start: per device,
   * its newest stored device time at or after `since`. A device's floor is then that time, not the
   * start floor, so only a reading at or before what is stored is checked against InfluxDB (at 10,000
   * readings/s the start floor deferred every reading of the first minutes). Devices already
   * indexed keep their floor.
   */
  useStoredNewest(newest: Map<string, number>, since: number): void {
    this.storedNewest = newest;
    this.storedSince = since;
  }

  /**
   * Another process may have stored this device's readings up to `ts` (in a cluster, the node the
   * device was connected to before): device times up to it are checked against InfluxDB.
   */
  raiseFloor(deviceId: string, ts: number): void {
    const device = this.of(deviceId);
    if (ts > device.floor) device.floor = ts;
  }

  /** Checks a reading and records it (a new reading as revision 0, a conflict as its revision, an unchecked one as pending). */
  observe(deviceId: string, r: IndexedReading, fingerprint: number = fingerprintOf(r)): ReadingVerdict {
    const device = this.of(deviceId);
    const verdict = device.check(r, fingerprint);
    if (verdict.kind === 'new') device.add(r, fingerprint, 0);
    else if (verdict.kind === 'unchecked') device.add(r, fingerprint, 0, true);
    else if (verdict.kind === 'conflict') device.add(r, fingerprint, verdict.revision);
    return verdict;
  }

  /**
   * A device whose sequence number went forward while its device time went back, or went ahead by
   * more than the server's clock did plus `maxFutureSkew`, has had its clock set or reset.
   */
  clockJump(deviceId: string, r: IndexedReading, receivedAt: number): ClockJump | undefined {
    if (r.seq === undefined) return undefined;
    const device = this.of(deviceId);
    let jump: ClockJump | undefined;
    if (device.lastSeq >= 0 && r.seq > device.lastSeq) {
      const back = r.ts < device.lastSeqTs;
      // Within one message (a store-and-forward batch) device time may run ahead of the server's: not checked.
      const ahead = receivedAt > device.lastSeqReceivedAt && r.ts - device.lastSeqTs > receivedAt - device.lastSeqReceivedAt + this.maxFutureSkewMs;
      if (back || ahead) jump = { previousSeq: device.lastSeq, previousTs: device.lastSeqTs, seq: r.seq, ts: r.ts };
    }
    if (device.lastSeq < 0 || r.seq > device.lastSeq || r.seq < device.lastSeq - 1_000_000) {
      device.lastSeq = r.seq;
      device.lastSeqTs = r.ts;
      device.lastSeqReceivedAt = receivedAt;
    }
    return jump;
  }

  get deviceCount(): number {
    return this.devices.size;
  }
}

/** A different reading at a stored device time, written beside the first as a point of its own (`revision` tag). */
export function revisionLine(batch: Omit<AcceptedBatch, 'readings'>, r: IndexedReading, revision: number): string {
  const series = seriesKey(READINGS_MEASUREMENT, { deviceId: batch.deviceId, locationId: batch.locationId, siteId: batch.siteId, revision: String(revision) });
  return `${series} ${readingFields(r, batch.receivedAt)} ${nsOf(r.ts)}`;
}

const valuesText = (r: IndexedReading) =>
  JSON.stringify({ ts: r.ts, temperature: r.temperature, humidity: r.humidity, battery: r.battery, lat: r.lat, lon: r.lon, door: r.door, seq: r.seq });

/**
 * The reject-like record of a conflict (the reading itself is stored, as `revision`): both
 * temperatures (the first as the index keeps it, float32), the second reading whole, both fingerprints.
 */
export function conflictFact(
  batch: Omit<AcceptedBatch, 'readings'>,
  topic: string,
  r: IndexedReading,
  conflict: { revision: number; firstTemperature: number; firstFingerprint: number; fingerprint: number },
): Fact {
  const first = Number(conflict.firstTemperature.toPrecision(7));
  return {
    measurement: REJECTS_MEASUREMENT,
    tags: { deviceId: batch.deviceId, reason: 'conflicting_reading' },
    fields: {
      message: `a different reading for device time ${new Date(r.ts).toISOString()}: temperature ${first} first, ${r.temperature} now; both kept (revision ${conflict.revision})`,
      topic,
      payload: valuesText(r),
      ts: int(r.ts),
      revision: int(conflict.revision),
      firstTemperature: first,
      temperature: r.temperature,
      firstFingerprint: conflict.firstFingerprint.toString(16),
      fingerprint: conflict.fingerprint.toString(16),
      receivedAt: int(batch.receivedAt),
    },
    at: batch.receivedAt,
  };
}

/** The reject-like record of a clock jump (the reading itself is stored as usual): both device times and sequence numbers. */
export function clockJumpFact(batch: Omit<AcceptedBatch, 'readings'>, topic: string, r: IndexedReading, jump: ClockJump): Fact {
  const back = jump.ts < jump.previousTs;
  return {
    measurement: REJECTS_MEASUREMENT,
    tags: { deviceId: batch.deviceId, reason: 'clock_jump' },
    fields: {
      message: `seq ${jump.previousSeq} → ${jump.seq} while device time went ${back ? 'back' : 'ahead'} from ${new Date(jump.previousTs).toISOString()} to ${new Date(jump.ts).toISOString()}; the reading is kept`,
      topic,
      payload: valuesText(r),
      ts: int(jump.ts),
      previousTs: int(jump.previousTs),
      seq: int(jump.seq),
      previousSeq: int(jump.previousSeq),
      receivedAt: int(batch.receivedAt),
    },
    at: batch.receivedAt,
  };
}
