import { readRejects, rejectsQuerySchema, rejectsResponseSchema } from '../ingestor/queries.js';
import { ANYONE } from './auth.js';
import type { ApiPlugin } from './zod.js';

export type { RejectsResponse } from '../ingestor/queries.js';

/** GET /api/v1/rejects: the quarantine, newest first; what a device sent that was refused, and why (ingestor/queries.ts). */
export const rejectsRoutes: ApiPlugin = async (app, { influx }) => {
  app.get(
    '/api/v1/rejects',
    { schema: { querystring: rejectsQuerySchema, response: { 200: rejectsResponseSchema } }, config: { roles: ANYONE } },
    async (request) => readRejects(influx, request.query),
  );
};
