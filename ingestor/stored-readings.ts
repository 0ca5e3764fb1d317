import { InfluxError, quoteString, type InfluxClient } from '../storage/influx.js';
import { unescapeTag } from '../storage/line-protocol.js';
import { factLine } from '../storage/fact-log.js';
import {
  DEFERRED_MARK,
  READINGS_MEASUREMENT,
  conflictFact,
  deferredReadingSchema,
  fingerprintOf,
  readingLines,
  revisionLine,
  type DeferredReading,
  type RecentReadings,
} from './records.js';
import type { Logger } from '../core/logger.js';

/**
 * The write-time half of immutable readings (issue 13, item 1). The pipeline decides in memory for
 * the device times its index covers; a reading it cannot vouch for (older than the index, or of a
 * device time from before the service started) is spooled as a deferred line and decided here,
 * just before the writer sends its batch: what InfluxDB holds at that device + device time is
 * looked up (one query a batch, one statement per device and cluster of device times), and the
 * reading becomes the usual line (new), nothing (a redelivery of a stored reading or revision),
 * or a new revision plus its `conflicting_reading` record (a different reading). The PUBACK does not
 * wait for this: the spool line is durable, and the decision is made again the same way when a
 * batch is replayed after a crash (the revision point written then is found then: one point).
 */

/** What a batch becomes: its lines to write, with how many conflicts it recorded. */
export interface ResolvedBatch {
  lines: string[];
  conflicts: number;
  /** Deferred readings looked up. */
  checked: number;
}

/** What is stored (or written earlier in the batch) at one device + device time: its values, or its line to read them from when asked. */
type StoredAt = { fingerprint: number; revision: number; temperature: number } | { line: string; revision: number };

function valuesOf(s: StoredAt): { fingerprint: number; revision: number; temperature: number } {
  if (!('line' in s)) return s;
  const reading = parseReadingLine(s.line)?.reading;
  // A line we cannot read back (a damaged spool) matches nothing: what follows it at that time is written as a revision.
  if (!reading) return { fingerprint: -1, revision: s.revision, temperature: Number.NaN };
  return { fingerprint: fingerprintOf(reading), revision: s.revision, temperature: reading.temperature };
}

/** Device times of one device further apart than this are looked up by separate statements (fewer points read needlessly). */
const CLUSTER_GAP_MS = 3_600_000;
/** Statements per query request (the query travels in a GET URL). */
const STATEMENTS_PER_QUERY = 100;
const FIELDS = ['temperature', 'humidity', 'battery', 'lat', 'lon', 'door', 'seq'] as const;

const key = (deviceId: string, ts: number) => `${deviceId}\n${ts}`;
const READINGS_PREFIX = `${READINGS_MEASUREMENT},`;

export const isDeferred = (line: string) => line.charCodeAt(0) === DEFERRED_MARK.charCodeAt(0);

/** A conflict record's point time: its receive time, with a sub-ms sequence derived from what it records, so a replay writes the same point. */
function sequenceOf(deviceId: string, ts: number, revision: number): number {
  const text = `${deviceId}|${ts}|${revision}`;
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % 1_000_000;
}

/** Splits on `sep` where it is not backslash-escaped (line protocol's tag and key escaping). */
function splitUnescaped(text: string, sep: string): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === sep) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/**
 * One of our own `readings` lines read back (device, revision, device time, values): only the
 * lines `readingLines`/`revisionLine` write (no string fields, so no quoted spaces).
 */
export function parseReadingLine(
  line: string,
): { deviceId: string; siteId: string; locationId: string; receivedAt: number; revision: number; reading: DeferredReading['reading'] } | undefined {
  const [series, fieldText, nsText] = splitUnescaped(line, ' ');
  if (!series || !fieldText || !nsText) return undefined;
  const tags = new Map<string, string>();
  for (const pair of splitUnescaped(series, ',').slice(1)) {
    const [name, value] = splitUnescaped(pair, '=');
    if (name !== undefined && value !== undefined) tags.set(name, unescapeTag(value));
  }
  const deviceId = tags.get('deviceId');
  if (deviceId === undefined) return undefined;
  const fields: Record<string, number | boolean> = {};
  for (const pair of fieldText.split(',')) {
    const at = pair.indexOf('=');
    const text = pair.slice(at + 1);
    fields[pair.slice(0, at)] = text.endsWith('i') ? Number(text.slice(0, -1)) : text === 'true' ? true : text === 'false' ? false : Number(text);
  }
  const reading = { ts: Number(nsText.slice(0, -6)) } as DeferredReading['reading'];
  for (const name of FIELDS) if (fields[name] !== undefined) Object.assign(reading, { [name]: fields[name] });
  return {
    deviceId,
    siteId: tags.get('siteId') ?? '',
    locationId: tags.get('locationId') ?? '',
    receivedAt: Number(fields.receivedAt ?? 0),
    revision: Number(tags.get('revision') ?? 0),
    reading,
  };
}

/** A deferred spool line read back: what to look up, the line to send when nothing is stored there, the topic for a conflict record. */
interface Deferred {
  deviceId: string;
  ts: number;
  line: string;
  topic: string;
}

const DEVICE_TAG = `${READINGS_MEASUREMENT},deviceId=`;

/** Index of the quote that closes the JSON string opening at `start`, or -1. */
function endOfJsonString(text: string, start: number): number {
  if (text.charCodeAt(start) !== 34) return -1;
  for (let i = start + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 92) i++;
    else if (c === 34) return i;
  }
  return -1;
}

/** A deferred line as `deferredLine` writes it (`?"topic" <line>`), or as it wrote it before (`?{json}`); undefined when it is neither. */
export function readDeferred(line: string): Deferred | undefined {
  if (line.charCodeAt(1) === 123) {
    let d: DeferredReading;
    try {
      d = deferredReadingSchema.parse(JSON.parse(line.slice(1)));
    } catch {
      return undefined;
    }
    return { deviceId: d.deviceId, ts: d.reading.ts, line: readingLines({ ...d, readings: [d.reading] }), topic: d.topic };
  }
  const end = endOfJsonString(line, 1);
  if (end === -1 || line.charCodeAt(end + 1) !== 32) return undefined;
  let topic: unknown;
  try {
    topic = JSON.parse(line.slice(1, end + 1));
  } catch {
    return undefined;
  }
  const text = line.slice(end + 2);
  if (typeof topic !== 'string' || !text.startsWith(DEVICE_TAG)) return undefined;
  // The device id is the first tag, up to the first unescaped comma.
  let stop = DEVICE_TAG.length;
  while (stop < text.length && text.charCodeAt(stop) !== 44) stop += text.charCodeAt(stop) === 92 ? 2 : 1;
  const ns = text.slice(text.lastIndexOf(' ') + 1);
  const ts = Number(ns.slice(0, -6));
  if (stop >= text.length || !/^\d{7,}$/.test(ns) || !Number.isSafeInteger(ts)) return undefined;
  return { deviceId: unescapeTag(text.slice(DEVICE_TAG.length, stop)), ts, line: text, topic };
}

export class StoredReadingCheck {
  constructor(private readonly influx: InfluxClient) {}

  /**
   * The batch with its deferred lines decided. Throws InfluxError when InfluxDB cannot be asked
   * (the writer retries the batch as it does a failed write).
   */
  async resolve(lines: readonly string[]): Promise<ResolvedBatch> {
    const deferred = new Map<number, Deferred>();
    const wanted = new Map<string, Set<number>>();
    const times = new Set<number>();
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (!isDeferred(line)) continue;
      const parsed = readDeferred(line);
      // Not ours to fix: sent as it is, InfluxDB refuses it, and it lands in the dead-letter file.
      if (!parsed) continue;
      deferred.set(i, parsed);
      let set = wanted.get(parsed.deviceId);
      if (!set) wanted.set(parsed.deviceId, (set = new Set()));
      set.add(parsed.ts);
      times.add(parsed.ts);
    }
    const known = await this.lookup(wanted);
    const out: string[] = [];
    let conflicts = 0;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      const d = deferred.get(i);
      if (!d) {
        out.push(line);
        // A line written earlier in this same batch at a device time deferred later in it counts as stored.
        if (line.startsWith(READINGS_PREFIX)) {
          const space = line.lastIndexOf(' ');
          if (!times.has(Number(line.slice(space + 1, -6)))) continue;
          const earlier = parseReadingLine(line);
          if (earlier && wanted.get(earlier.deviceId)?.has(earlier.reading.ts)) {
            const at = key(earlier.deviceId, earlier.reading.ts);
            const list = known.get(at) ?? [];
            if (!list.some((s) => s.revision === earlier.revision))
              list.push({ fingerprint: fingerprintOf(earlier.reading), revision: earlier.revision, temperature: earlier.reading.temperature });
            known.set(at, list);
          }
        }
        continue;
      }
      const at = key(d.deviceId, d.ts);
      const stored = known.get(at);
      if (!stored) {
        // Nothing there (the usual case): the reading's line as the pipeline wrote it, values read back only if needed later.
        out.push(d.line);
        known.set(at, [{ line: d.line, revision: 0 }]);
        continue;
      }
      const full = parseReadingLine(d.line);
      if (!full) {
        out.push(line);
        continue;
      }
      const r = full.reading;
      const fingerprint = fingerprintOf(r);
      const values = stored.map(valuesOf);
      // A redelivery of what is stored: nothing to write (rewriting would only move its receivedAt).
      if (values.some((s) => s.fingerprint === fingerprint)) continue;
      const first = values.reduce((a, b) => (b.revision < a.revision ? b : a));
      const revision = Math.max(...values.map((s) => s.revision)) + 1;
      out.push(revisionLine(full, r, revision));
      out.push(
        factLine(
          conflictFact(full, d.topic, r, { revision, firstTemperature: first.temperature, firstFingerprint: first.fingerprint, fingerprint }),
          sequenceOf(d.deviceId, r.ts, revision),
        ),
      );
      stored.push({ fingerprint, revision, temperature: r.temperature });
      conflicts++;
    }
    return { lines: out, conflicts, checked: deferred.size };
  }

  /**
   * What InfluxDB holds at the wanted device times, all revisions: one statement per device and
   * cluster of nearby device times (InfluxDB 1.x answers nothing to `time = a OR time = b`).
   */
  private async lookup(wanted: Map<string, Set<number>>): Promise<Map<string, StoredAt[]>> {
    const statements: string[] = [];
    for (const [deviceId, set] of wanted) {
      const sorted = [...set].sort((a, b) => a - b);
      let from = sorted[0]!;
      let to = from;
      const flush = () =>
        statements.push(
          `SELECT ${FIELDS.map((f) => `"${f}"`).join(', ')} FROM "${READINGS_MEASUREMENT}" WHERE "deviceId" = ${quoteString(deviceId)} AND time >= ${from}ms AND time <= ${to}ms GROUP BY "deviceId", "revision"`,
        );
      for (const ts of sorted.slice(1)) {
        if (ts - to > CLUSTER_GAP_MS) {
          flush();
          from = ts;
        }
        to = ts;
      }
      flush();
    }
    const known = new Map<string, StoredAt[]>();
    for (let i = 0; i < statements.length; i += STATEMENTS_PER_QUERY) {
      let series: Awaited<ReturnType<InfluxClient['query']>>;
      try {
        series = await this.influx.query(statements.slice(i, i + STATEMENTS_PER_QUERY).join('; '));
      } catch (err) {
        // No database yet: nothing is stored (the write that follows creates it).
        if (err instanceof InfluxError && /database not found/.test(err.message)) return known;
        throw err;
      }
      for (const s of series) {
        const deviceId = s.tags?.deviceId;
        if (deviceId === undefined || !wanted.has(deviceId)) continue;
        const revision = Number(s.tags?.revision || 0);
        const column = s.columns.map((c) => FIELDS.indexOf(c as (typeof FIELDS)[number]));
        for (const row of s.values) {
          const ts = row[0] as number;
          if (!wanted.get(deviceId)!.has(ts)) continue;
          const reading = { ts } as DeferredReading['reading'];
          row.forEach((value, c) => {
            const field = FIELDS[column[c]!];
            // InfluxDB says null for a field a point lacks; the fingerprint wants it absent, as it came.
            if (field !== undefined && value !== null && value !== undefined) Object.assign(reading, { [field]: value });
          });
          const at = key(deviceId, ts);
          const list = known.get(at) ?? [];
          list.push({ fingerprint: fingerprintOf(reading), revision, temperature: reading.temperature });
          known.set(at, list);
        }
      }
    }
    return known;
  }
}

/**
 * Tells the pipeline's index what InfluxDB holds per device, once it holds everything spooled
 * before this start: a reading is then checked against InfluxDB only when it is at or before its
 * device's newest stored time. Without an answer the index stays careful: every device time up to
 * start + maxFutureSkew is checked there.
 */
export async function knowStoredReadings(recent: RecentReadings, influx: InfluxClient, log: Logger, maxPastAgeMs: number): Promise<void> {
  // Nothing older can be accepted from now on (ingest.maxPastAge): what is stored before it does not matter.
  const since = Date.now() - maxPastAgeMs;
  try {
    const newest = await newestStored(influx, since);
    recent.useStoredNewest(newest, since);
    log.info({ devices: newest.size }, 'readings index knows what InfluxDB holds');
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'could not ask InfluxDB what it holds; readings of the next minutes are checked against it one batch at a time');
  }
}

/** Per device, the newest device time InfluxDB holds at or after `since` (any revision). */
async function newestStored(influx: InfluxClient, since: number): Promise<Map<string, number>> {
  const newest = new Map<string, number>();
  let series: Awaited<ReturnType<InfluxClient['query']>>;
  try {
    series = await influx.query(`SELECT last("temperature") FROM "${READINGS_MEASUREMENT}" WHERE time >= ${Math.floor(since)}ms GROUP BY "deviceId"`);
  } catch (err) {
    if (err instanceof InfluxError && /database not found/.test(err.message)) return newest;
    throw err;
  }
  for (const s of series) {
    const deviceId = s.tags?.deviceId;
    const ts = s.values[0]?.[0];
    if (deviceId !== undefined && typeof ts === 'number') newest.set(deviceId, ts);
  }
  return newest;
}
