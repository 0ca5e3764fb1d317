import { z } from 'zod';
import type { Registry } from '../core/registry.js';
import { rejectReasons } from '../core/reading.js';
import { REJECTS_MEASUREMENT, rejectionRecordSchema } from '../ingestor/records.js';
import { rowsOf, quoteString, type InfluxClient } from '../storage/influx.js';
import { ANYONE } from './auth.js';
import { timeWindowSchema } from './readings.js';
import type { ApiPlugin } from './zod.js';

export const rejectsQuerySchema = timeWindowSchema.and(
  z.object({
    device: z.string().min(1).max(200).optional(),
    reason: z.enum(rejectReasons).optional(),
  }),
);

/** A quarantined message as stored: the start of its payload is `payload`. */
const storedRejectSchema = rejectionRecordSchema.omit({ raw: true }).partial().extend({ receivedAt: z.number(), payload: z.string().optional() });
export const rejectsResponseSchema = z.object({ from: z.string(), to: z.string(), count: z.number(), rejects: z.array(storedRejectSchema) });

/** GET /api/v1/rejects: the quarantine, newest first; what a device sent that was refused, and why. */
export const rejectsRoutes: ApiPlugin<{ registry: () => Registry; influx: InfluxClient }> = async (app, deps) => {
  app.get(
    '/api/v1/rejects',
    { schema: { querystring: rejectsQuerySchema, response: { 200: rejectsResponseSchema } }, config: { roles: ANYONE } },
    async (request) => {
      const { from, to, limit, device, reason } = request.query;
      const filters = [`time >= ${from}ms`, `time < ${to}ms`];
      if (device) filters.push(`"deviceId" = ${quoteString(device)}`);
      if (reason) filters.push(`"reason" = ${quoteString(reason)}`);
      const series = await deps.influx.query(
        `SELECT "deviceId", "reason", "message", "topic", "bytes", "index", "payload" FROM "${REJECTS_MEASUREMENT}" WHERE ${filters.join(' AND ')} ORDER BY time DESC LIMIT ${limit}`,
      );
      const rejects = rowsOf(series[0]).map(
        ({ time, ...rest }) =>
          ({ receivedAt: time, ...Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== null)) }) as z.infer<typeof storedRejectSchema>,
      );
      return { from: new Date(from).toISOString(), to: new Date(to).toISOString(), count: rejects.length, rejects };
    },
  );
};
