import { z } from 'zod';
import { readDeviceReadings, readingRowSchema } from '../ingestor/queries.js';
import { ANYONE } from './auth.js';
import { notFound } from './http-error.js';
import { idParams, timeWindowSchema } from './params.js';
import type { ApiPlugin } from './zod.js';

export const readingsResponseSchema = z.object({
  deviceId: z.string(),
  from: z.string(),
  to: z.string(),
  count: z.number(),
  readings: z.array(readingRowSchema),
});
export type ReadingsResponse = z.infer<typeof readingsResponseSchema>;

/** GET /api/v1/devices/:id/readings?from=&to=&limit= (ingestor/queries.ts) */
export const readingsRoutes: ApiPlugin = async (app, { registry, influx }) => {
  const schema = { params: idParams, querystring: timeWindowSchema, response: { 200: readingsResponseSchema } };
  // An unknown device is named before its query is checked.
  const knownDevice = async (request: { params: unknown }) => {
    const { id } = request.params as { id: string };
    if (!registry().device(id)) throw notFound(`unknown device "${id}"`);
  };
  app.get('/api/v1/devices/:id/readings', { schema, config: { roles: ANYONE }, preValidation: knownDevice }, async (request) => {
    const { from, to } = request.query;
    const readings = await readDeviceReadings(influx, request.params.id, request.query);
    return { deviceId: request.params.id, from: new Date(from).toISOString(), to: new Date(to).toISOString(), count: readings.length, readings };
  });
};
