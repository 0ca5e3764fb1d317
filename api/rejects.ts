import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Registry } from '../core/registry.js';
import { rejectReasons } from '../core/reading.js';
import { REJECTS_MEASUREMENT } from '../ingestor/records.js';
import { rowsOf, quoteString, type InfluxClient } from '../storage/influx.js';
import { requireCaller } from './auth.js';
import { sendValidationError } from './errors.js';
import { timeWindowSchema } from './readings.js';

export const rejectsQuerySchema = timeWindowSchema.and(
  z.object({
    device: z.string().min(1).max(200).optional(),
    reason: z.enum(rejectReasons).optional(),
  }),
);

/** GET /api/v1/rejects: the quarantine, newest first; what a device sent that was refused, and why. */
export function rejectsRoutes(app: FastifyInstance, deps: { registry: () => Registry; influx: InfluxClient }): void {
  const authorize = requireCaller(deps.registry, ['admin', 'operator', 'qa', 'viewer']);
  app.get<{ Querystring: Record<string, string> }>('/api/v1/rejects', async (request, reply) => {
    if (!authorize(request, reply)) return reply;
    const query = rejectsQuerySchema.safeParse(request.query);
    if (!query.success) return sendValidationError(reply, query.error, 'query');
    const { from, to, limit, device, reason } = query.data;
    const filters = [`time >= ${from}ms`, `time < ${to}ms`];
    if (device) filters.push(`"deviceId" = ${quoteString(device)}`);
    if (reason) filters.push(`"reason" = ${quoteString(reason)}`);
    const series = await deps.influx.query(
      `SELECT "deviceId", "reason", "message", "topic", "bytes", "index", "payload" FROM "${REJECTS_MEASUREMENT}" WHERE ${filters.join(' AND ')} ORDER BY time DESC LIMIT ${limit}`,
    );
    const rejects = rowsOf(series[0]).map(({ time, ...rest }) => {
      const reject: Record<string, unknown> = { receivedAt: time };
      for (const [key, value] of Object.entries(rest)) if (value !== null) reject[key] = value;
      return reject;
    });
    return { from: new Date(from).toISOString(), to: new Date(to).toISOString(), count: rejects.length, rejects };
  });
}
