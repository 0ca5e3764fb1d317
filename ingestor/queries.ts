import { z } from 'zod';
import { instantQuerySchema as instant, period } from '../core/instant.js';
import { readingSchema, rejectReasons } from '../core/reading.js';
import { rowsOf, quoteString, type InfluxClient } from '../storage/influx.js';
import { READINGS_MEASUREMENT, REJECTS_MEASUREMENT } from '../storage/measurements.js';
import { rejectionRecordSchema } from './records.js';

/**
 * What ingestion stored, read back: one device's readings over a period (with the revisions of
 * conflicting readings, issue 13, item 1) and the quarantine. Columns a fresh database lacks are
 * never named where InfluxDB would refuse them; empty values are left out.
 */

/** A stored reading: device time, the values it had, when it arrived and where the device was. */
export const readingRowSchema = readingSchema
  .omit({ ts: true })
  .partial()
  .extend({
    ts: z.number(),
    receivedAt: z.number().optional(),
    siteId: z.string().optional(),
    locationId: z.string().optional(),
    /** Set when the device sent different readings for this device time: all are kept, none overwritten. */
    conflict: z.literal(true).optional(),
    /** With `conflict`: 0 for the first reading of this device time, 1, 2, … for the later, different ones. */
    revision: z.number().int().nonnegative().optional(),
  });
export type ReadingRow = z.infer<typeof readingRowSchema>;

/** A quarantined message as stored: the start of its payload is `payload`. */
export const storedRejectSchema = rejectionRecordSchema.omit({ raw: true }).partial().extend({ receivedAt: z.number(), payload: z.string().optional() });
export type StoredReject = z.infer<typeof storedRejectSchema>;

const FIELDS = ['temperature', 'humidity', 'battery', 'lat', 'lon', 'door', 'seq', 'receivedAt', 'siteId', 'locationId'] as const;

/** A row without its empty columns, its time under `timeAs`. */
const rowOf = (timeAs: string, { time, ...rest }: Record<string, unknown>) => ({
  [timeAs]: time,
  ...Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== null)),
});

/** ?from=&to= (default the last 24 h) and a row limit (default 10,000): the window of both reads. */
export const windowQuerySchema = period(
  z.object({ from: instant.optional(), to: instant.optional(), limit: z.coerce.number().int().min(1).max(100_000).default(10_000) }),
  86_400_000,
);
type Window = z.output<typeof windowQuerySchema>;
/** The quarantine's window, of one device or one reason. */
export const rejectsQuerySchema = windowQuerySchema.and(z.object({ device: z.string().min(1).max(200).optional(), reason: z.enum(rejectReasons).optional() }));

/** The answers: the window in ISO 8601 and what it holds. */
const windowed = { from: z.string(), to: z.string(), count: z.number() };
export const readingsResponseSchema = z.object({ deviceId: z.string(), ...windowed, readings: z.array(readingRowSchema) });
export type ReadingsResponse = z.infer<typeof readingsResponseSchema>;
export const rejectsResponseSchema = z.object({ ...windowed, rejects: z.array(storedRejectSchema) });
export type RejectsResponse = z.infer<typeof rejectsResponseSchema>;
const iso = ({ from, to }: Window) => ({ from: new Date(from).toISOString(), to: new Date(to).toISOString() });

/** A device's readings in `[from, to)`, oldest first, at most `limit`; every reading of a conflicting device time marked with its revision. */
export async function readDeviceReadings(influx: InfluxClient, deviceId: string, window: Window): Promise<ReadingsResponse> {
  const { from, to, limit } = window;
  const series = await influx.query(
    `SELECT ${FIELDS.map((f) => `"${f}"`).join(', ')} FROM "${READINGS_MEASUREMENT}" ` +
      // Conflicting revisions are series of their own (tag "revision"): grouped, never named as a column a fresh database lacks.
      `WHERE "deviceId" = ${quoteString(deviceId)} AND time >= ${from}ms AND time < ${to}ms GROUP BY "revision" ORDER BY time ASC LIMIT ${limit}`,
  );
  const readings = series.flatMap((s) =>
    rowsOf(s).map((r) => {
      const row = rowOf('ts', r) as ReadingRow;
      const revision = s.tags?.revision;
      if (revision) Object.assign(row, { conflict: true, revision: Number(revision) });
      return row;
    }),
  );
  // A later revision of a device time marks the first reading of that time too (revision 0).
  const conflicted = new Set(readings.filter((r) => r.conflict).map((r) => r.ts));
  if (conflicted.size > 0) for (const r of readings) if (!r.conflict && conflicted.has(r.ts)) Object.assign(r, { conflict: true, revision: 0 });
  readings.sort((a, b) => a.ts - b.ts || (a.revision ?? 0) - (b.revision ?? 0));
  readings.length = Math.min(readings.length, limit);
  return { deviceId, ...iso(window), count: readings.length, readings };
}

/** The quarantine in `[from, to)`, newest first, at most `limit`, optionally of one device or one reason. */
export async function readRejects(influx: InfluxClient, query: z.output<typeof rejectsQuerySchema>): Promise<RejectsResponse> {
  const { from, to, limit, device, reason } = query;
  const filters = [`time >= ${from}ms`, `time < ${to}ms`];
  if (device) filters.push(`"deviceId" = ${quoteString(device)}`);
  if (reason) filters.push(`"reason" = ${quoteString(reason)}`);
  const series = await influx.query(
    `SELECT "deviceId", "reason", "message", "topic", "bytes", "index", "payload" FROM "${REJECTS_MEASUREMENT}" WHERE ${filters.join(' AND ')} ORDER BY time DESC LIMIT ${limit}`,
  );
  const rejects = rowsOf(series[0]).map((r) => rowOf('receivedAt', r) as StoredReject);
  return { ...iso(query), count: rejects.length, rejects };
}
