import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Registry } from '../core/registry.js';
import { rowsOf, quoteString, type InfluxClient } from '../storage/influx.js';
import { READINGS_MEASUREMENT } from '../ingestor/records.js';
import { requireCaller } from './auth.js';
import { sendValidationError } from './errors.js';

/** InfluxDB keeps nanoseconds in a signed 64-bit integer: 1677-09-21 to 2262-04-11. */
const INFLUX_MAX_MS = 9_223_372_036_854;

const isoWithZone = z.iso.datetime({ offset: true });

/**
 * A point in time in a query: epoch ms or ISO 8601 with a zone, within what InfluxDB can hold.
 * One schema with its own messages: a union would answer a bad value with only "Invalid input".
 */
export const instant = z.string().transform((value, ctx) => {
  const ms = /^\d+$/.test(value) ? Number(value) : isoWithZone.safeParse(value).success ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) {
    ctx.addIssue({ code: 'custom', message: `must be epoch milliseconds or ISO 8601 with a zone (2026-11-22T08:00:00+08:00), got ${JSON.stringify(value.slice(0, 64))}` });
    return z.NEVER;
  }
  if (Math.abs(ms) > INFLUX_MAX_MS) {
    ctx.addIssue({ code: 'custom', message: 'is outside the time range InfluxDB can store (1677-09-21 to 2262-04-11)' });
    return z.NEVER;
  }
  return ms;
});

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

const FIELDS = ['temperature', 'humidity', 'battery', 'lat', 'lon', 'door', 'seq', 'receivedAt', 'siteId', 'locationId'] as const;

export function readingsRoutes(app: FastifyInstance, deps: { registry: () => Registry; influx: InfluxClient }): void {
  const authorize = requireCaller(deps.registry, ['admin', 'operator', 'qa', 'viewer']);

  app.get<{ Params: { id: string }; Querystring: Record<string, string> }>('/api/v1/devices/:id/readings', async (request, reply) => {
    if (!authorize(request, reply)) return reply;
    const deviceId = request.params.id;
    if (!deps.registry().device(deviceId)) return reply.code(404).send({ error: 'not_found', message: `unknown device "${deviceId}"` });
    const query = timeWindowSchema.safeParse(request.query);
    if (!query.success) return sendValidationError(reply, query.error, 'query');
    const { from, to, limit } = query.data;
    const influxql =
      `SELECT ${FIELDS.map((f) => `"${f}"`).join(', ')} FROM "${READINGS_MEASUREMENT}" ` +
      `WHERE "deviceId" = ${quoteString(deviceId)} AND time >= ${from}ms AND time < ${to}ms ORDER BY time ASC LIMIT ${limit}`;
    const series = await deps.influx.query(influxql);
    const readings = rowsOf(series[0]).map(({ time, ...rest }) => {
      const reading: Record<string, unknown> = { ts: time };
      for (const [key, value] of Object.entries(rest)) if (value !== null) reading[key] = value;
      return reading;
    });
    return { deviceId, from: new Date(from).toISOString(), to: new Date(to).toISOString(), count: readings.length, readings };
  });
}
