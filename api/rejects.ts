import { z } from 'zod';
import { rejectReasons } from '../core/reading.js';
import { readRejects, storedRejectSchema } from '../ingestor/queries.js';
import { ANYONE } from './auth.js';
import { timeWindowSchema } from './params.js';
import type { ApiPlugin } from './zod.js';

const rejectsQuerySchema = timeWindowSchema.and(z.object({ device: z.string().min(1).max(200).optional(), reason: z.enum(rejectReasons).optional() }));
const rejectsResponseSchema = z.object({ from: z.string(), to: z.string(), count: z.number(), rejects: z.array(storedRejectSchema) });
export type RejectsResponse = z.infer<typeof rejectsResponseSchema>;

/** GET /api/v1/rejects: the quarantine, newest first; what a device sent that was refused, and why (ingestor/queries.ts). */
export const rejectsRoutes: ApiPlugin = async (app, { influx }) => {
  app.get(
    '/api/v1/rejects',
    { schema: { querystring: rejectsQuerySchema, response: { 200: rejectsResponseSchema } }, config: { roles: ANYONE } },
    async (request) => {
      const { from, to } = request.query;
      const rejects = await readRejects(influx, request.query);
      return { from: new Date(from).toISOString(), to: new Date(to).toISOString(), count: rejects.length, rejects };
    },
  );
};
