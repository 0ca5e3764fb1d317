import { readDeviceReadings, readingsResponseSchema, windowQuerySchema } from '../ingestor/queries.js';
import { ANYONE } from './auth.js';
import { notFound } from './http-error.js';
import { idParams } from './params.js';
import type { ApiPlugin } from './zod.js';

export type { ReadingsResponse } from '../ingestor/queries.js';

/** GET /api/v1/devices/:id/readings?from=&to=&limit= (ingestor/queries.ts) */
export const readingsRoutes: ApiPlugin = async (app, { registry, influx }) => {
  const schema = { params: idParams, querystring: windowQuerySchema, response: { 200: readingsResponseSchema } };
  // An unknown device is named before its query is checked.
  const knownDevice = async (request: { params: unknown }) => {
    const { id } = request.params as { id: string };
    if (!registry().device(id)) throw notFound(`unknown device "${id}"`);
  };
  app.get('/api/v1/devices/:id/readings', { schema, config: { roles: ANYONE }, preValidation: knownDevice }, async (request) =>
    readDeviceReadings(influx, request.params.id, request.query),
  );
};
