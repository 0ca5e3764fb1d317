import { z } from 'zod';
import type { Registry } from '../core/registry.js';
import { readingSchema } from '../core/reading.js';
import { rowsOf, quoteString, type InfluxClient } from '../storage/influx.js';
import { READINGS_MEASUREMENT } from '../ingestor/records.js';
import { instantQuerySchema as instant } from '../core/instant.js';
import { ANYONE } from './auth.js';
import { notFound } from './http-error.js';
import type { ApiPlugin } from './zod.js';

/** A point in time in a query: epoch ms or ISO 8601 with a zone, within what InfluxDB can hold. */
export { instant };

/** from/to (ISO 8601 or epoch ms; default the last 24 h) and a row limit: shared by the time-series routes. */
export const timeWindowSchema = z
  .object({
    from: instant.optional(),
    to: instant.optional(),
    limit: z.coerce.number().int().min(1).max(100_000).default(10_000),
  })
  .transform((q) => {
    const to = q.to ?? Date.now();
    return { from: q.from ?? to - 86_400_000, to, limit: q.limit };
  })
  .refine((q) => q.from < q.to, { message: 'from must be before to', path: ['from'] });

export const idParams = z.object({ id: z.string() });

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
export const readingsResponseSchema = z.object({
  deviceId: z.string(),
  from: z.string(),
  to: z.string(),
  count: z.number(),
  readings: z.array(readingRowSchema),
});
export type ReadingsResponse = z.infer<typeof readingsResponseSchema>;

const FIELDS = ['temperature', 'humidity', 'battery', 'lat', 'lon', 'door', 'seq', 'receivedAt', 'siteId', 'locationId'] as const;

/** GET /api/v1/devices/:id/readings?from=&to=&limit= */
export const readingsRoutes: ApiPlugin<{ registry: () => Registry; influx: InfluxClient }> = async (app, deps) => {
  const schema = { params: idParams, querystring: timeWindowSchema, response: { 200: readingsResponseSchema } };
  // An unknown device is named before its query is checked.
  const knownDevice = async (request: { params: unknown }) => {
    const { id } = request.params as { id: string };
    if (!deps.registry().device(id)) throw notFound(`unknown device "${id}"`);
  };
  app.get('/api/v1/devices/:id/readings', { schema, config: { roles: ANYONE }, preValidation: knownDevice }, async (request) => {
    const deviceId = request.params.id;
    const { from, to, limit } = request.query;
    const series = await deps.influx.query(
      `SELECT ${FIELDS.map((f) => `"${f}"`).join(', ')} FROM "${READINGS_MEASUREMENT}" ` +
        // Conflicting revisions are series of their own (tag "revision"): grouped, never named as a column a fresh database lacks.
        `WHERE "deviceId" = ${quoteString(deviceId)} AND time >= ${from}ms AND time < ${to}ms GROUP BY "revision" ORDER BY time ASC LIMIT ${limit}`,
    );
    const readings = series.flatMap((s) =>
      rowsOf(s).map(({ time, ...rest }) => {
        const row = { ts: time, ...Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== null)) } as z.infer<typeof readingRowSchema>;
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
    return { deviceId, from: new Date(from).toISOString(), to: new Date(to).toISOString(), count: readings.length, readings };
  });
};
