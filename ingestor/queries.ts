import { z } from 'zod';
import { readingSchema, type RejectReason } from '../core/reading.js';
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

interface Window {
  from: number;
  to: number;
  limit: number;
}

/** A device's readings in `[from, to)`, oldest first, at most `limit`; every reading of a conflicting device time marked with its revision. */
export async function readDeviceReadings(influx: InfluxClient, deviceId: string, { from, to, limit }: Window): Promise<ReadingRow[]> {
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
  return readings;
}

/** The quarantine in `[from, to)`, newest first, at most `limit`, optionally of one device or one reason. */
export async function readRejects(
  influx: InfluxClient,
  { from, to, limit, device, reason }: Window & { device?: string; reason?: RejectReason },
): Promise<StoredReject[]> {
  const filters = [`time >= ${from}ms`, `time < ${to}ms`];
  if (device) filters.push(`"deviceId" = ${quoteString(device)}`);
  if (reason) filters.push(`"reason" = ${quoteString(reason)}`);
  const series = await influx.query(
    `SELECT "deviceId", "reason", "message", "topic", "bytes", "index", "payload" FROM "${REJECTS_MEASUREMENT}" WHERE ${filters.join(' AND ')} ORDER BY time DESC LIMIT ${limit}`,
  );
  return rowsOf(series[0]).map((r) => rowOf('receivedAt', r) as StoredReject);
}
