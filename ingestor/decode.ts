import type { z } from 'zod';
import { PHYSICAL_LIMITS, readingSchema, type Reading, type RejectReason } from '../core/reading.js';
import { STORABLE_MS } from '../core/instant.js';

export interface DecodeLimits {
  maxPayloadBytes: number;
  maxBatchReadings: number;
  maxFutureSkewMs: number;
  maxPastAgeMs: number;
}

export interface Rejection {
  reason: RejectReason;
  message: string;
  /** Position in a batch; absent when the whole message was refused. */
  index?: number;
}

export interface Decoded {
  readings: Reading[];
  rejections: Rejection[];
  batch: boolean;
}

function issueReason(issue: z.core.$ZodIssue): RejectReason {
  const field = issue.path[0];
  const isBound = issue.code === 'too_small' || issue.code === 'too_big';
  return isBound && field !== 'seq' ? 'impossible_value' : 'invalid_reading';
}

function valueAt(item: unknown, path: PropertyKey[]): unknown {
  return path.reduce<unknown>((value, key) => (value && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[key] : undefined), item);
}

function describeIssue(issue: z.core.$ZodIssue, item: unknown, prefix: string): string {
  const where = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
  if (valueAt(item, issue.path) === undefined) return `${where}: required field missing`;
  return `${where}: ${issue.message}`;
}

/** ThingsBoard devices send {ts, values: {...}}; flattened so one schema covers both. */
function flatten(item: unknown): unknown {
  if (item && typeof item === 'object' && !Array.isArray(item) && 'values' in item) {
    const { values, ...rest } = item as { values: unknown };
    if (values && typeof values === 'object' && !Array.isArray(values)) return { ...rest, ...values };
  }
  return item;
}

function checkTime(reading: Reading, now: number, limits: DecodeLimits): Rejection | undefined {
  if (reading.ts > now + limits.maxFutureSkewMs) {
    const ahead = Math.round((reading.ts - now) / 1000);
    return {
      reason: 'timestamp_in_future',
      message: `ts ${new Date(reading.ts).toISOString()} is ${ahead}s ahead of server time (allowed skew ${limits.maxFutureSkewMs / 1000}s)`,
    };
  }
  if (reading.ts < now - limits.maxPastAgeMs) {
    const hint = reading.ts > 0 && reading.ts < 1e11 ? ' (it looks like epoch seconds; send milliseconds)' : '';
    return {
      reason: 'timestamp_too_old',
      message: `ts ${reading.ts} is older than the accepted backlog of ${Math.round(limits.maxPastAgeMs / 86_400_000)} days${hint}`,
    };
  }
  return undefined;
}

/** The schema's keys, each with its position in the schema's order. */
const READING_KEYS = new Map(['ts', 'temperature', 'humidity', 'battery', 'lat', 'lon', 'door', 'seq'].map((key, i) => [key, i]));
const within = (value: unknown, key: keyof typeof PHYSICAL_LIMITS) =>
  typeof value === 'number' && value >= PHYSICAL_LIMITS[key].min && value <= PHYSICAL_LIMITS[key].max;

/**
 * The reading `readingSchema` gives for the common, well-formed shape (epoch-ms `ts`, known keys
 * only, every value within its bounds), without zod's per-parse allocations; undefined for
 * anything else, which zod then parses and, when it is wrong, explains. It accepts only what the
 * schema accepts and returns the same object, keys in the schema's order
 * (tests/decode-fast-path.test.ts compares the two).
 */
export function wellFormedReading(item: unknown): Reading | undefined {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) return undefined;
  const o = item as Record<string, unknown>;
  // Keys already in the schema's order (what devices send) let the parsed object itself be the
  // reading once its values are checked: no copy of every reading on the PUBACK path.
  let ordered = true;
  let last = -1;
  for (const key in o) {
    const position = READING_KEYS.get(key);
    if (position === undefined) return undefined;
    if (position < last || o[key] === undefined) ordered = false;
    last = position;
  }
  const { ts, temperature, humidity, battery, lat, lon, door, seq } = o;
  if (typeof ts !== 'number' || !Number.isInteger(ts) || !(Math.abs(ts) <= STORABLE_MS) || !within(temperature, 'temperature')) return undefined;
  if (ordered) {
    if (humidity !== undefined && !within(humidity, 'humidity')) return undefined;
    if (battery !== undefined && !within(battery, 'battery')) return undefined;
    if (lat !== undefined && !within(lat, 'lat')) return undefined;
    if (lon !== undefined && !within(lon, 'lon')) return undefined;
    if (door !== undefined && typeof door !== 'boolean') return undefined;
    if (seq !== undefined && (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0)) return undefined;
    return o as Reading;
  }
  const reading: Reading = { ts, temperature: temperature as number };
  if (humidity !== undefined) {
    if (!within(humidity, 'humidity')) return undefined;
    reading.humidity = humidity as number;
  }
  if (battery !== undefined) {
    if (!within(battery, 'battery')) return undefined;
    reading.battery = battery as number;
  }
  if (lat !== undefined) {
    if (!within(lat, 'lat')) return undefined;
    reading.lat = lat as number;
  }
  if (lon !== undefined) {
    if (!within(lon, 'lon')) return undefined;
    reading.lon = lon as number;
  }
  if (door !== undefined) {
    if (typeof door !== 'boolean') return undefined;
    reading.door = door;
  }
  if (seq !== undefined) {
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return undefined;
    reading.seq = seq;
  }
  return reading;
}

/**
 * Turns one telemetry payload into valid readings and precise rejections.
 * A bad reading inside a batch rejects only itself; the rest of the batch is kept.
 */
export function decodeTelemetry(payload: Buffer, now: number, limits: DecodeLimits): Decoded {
  if (payload.length > limits.maxPayloadBytes) {
    return {
      readings: [],
      batch: false,
      rejections: [{ reason: 'payload_too_large', message: `payload is ${payload.length} bytes; the limit is ${limits.maxPayloadBytes}` }],
    };
  }
  let body: unknown;
  try {
    body = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    return { readings: [], batch: false, rejections: [{ reason: 'malformed_json', message: `payload is not JSON: ${(err as Error).message}` }] };
  }
  if (body && typeof body === 'object' && !Array.isArray(body) && Array.isArray((body as { readings?: unknown }).readings)) {
    body = (body as { readings: unknown[] }).readings;
  }
  const batch = Array.isArray(body);
  const items: unknown[] = batch ? (body as unknown[]) : [body];
  if (items.length === 0) return { readings: [], batch, rejections: [{ reason: 'empty_batch', message: 'batch array holds no readings' }] };
  if (items.length > limits.maxBatchReadings) {
    return {
      readings: [],
      batch,
      rejections: [{ reason: 'batch_too_large', message: `batch holds ${items.length} readings; the limit is ${limits.maxBatchReadings}` }],
    };
  }

  const readings: Reading[] = [];
  const rejections: Rejection[] = [];
  for (let i = 0; i < items.length; i++) {
    const item = flatten(items[i]);
    const index = batch ? i : undefined;
    let reading = wellFormedReading(item);
    if (!reading) {
      const parsed = readingSchema.safeParse(item);
      if (!parsed.success) {
        const first = parsed.error.issues[0]!;
        const message = parsed.error.issues.map((issue) => describeIssue(issue, item, batch ? `[${i}]` : '')).join('; ');
        rejections.push({ reason: issueReason(first), message, index });
        continue;
      }
      reading = parsed.data;
    }
    const timeProblem = checkTime(reading, now, limits);
    if (timeProblem) rejections.push({ ...timeProblem, index });
    else readings.push(reading);
  }
  return { readings, rejections, batch };
}
