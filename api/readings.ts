import { readDeviceReadings, readingsResponseSchema, readRejects, rejectsQuerySchema, rejectsResponseSchema, windowQuerySchema } from '../ingestor/queries.js';
import { notFound } from './http-error.js';
import { ANYONE, type ApiPlugin, idParams, route } from './route.js';

export type { ReadingsResponse, RejectsResponse } from '../ingestor/queries.js';

/** What ingestion stored, read back (ingestor/queries.ts): a device's readings, and the quarantine (what devices sent that was refused, and why). */
export const readingsRoutes: ApiPlugin = async (app, { registry, influx }) => {
  // An unknown device is named before its query is checked.
  const knownDevice = async (request: { params: unknown }) => {
    const { id } = request.params as { id: string };
    if (!registry().device(id)) throw notFound(`unknown device "${id}"`);
  };
  const readings = route(ANYONE, { params: idParams, querystring: windowQuerySchema, response: { 200: readingsResponseSchema } });
  app.get('/api/v1/devices/:id/readings', { ...readings, preValidation: knownDevice }, async (request) =>
    readDeviceReadings(influx, request.params.id, request.query),
  );

  app.get('/api/v1/rejects', route(ANYONE, { querystring: rejectsQuerySchema, response: { 200: rejectsResponseSchema } }), async (request) =>
    readRejects(influx, request.query),
  );
};
