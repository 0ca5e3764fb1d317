import { FleetCache } from '../live/fleet-cache.js';
import { buildOverview, buildSparklines, overviewQuerySchema, overviewSchema, sparklinesQuerySchema, sparklinesSchema } from '../live/overview.js';
import { ANYONE } from './auth.js';
import type { ApiPlugin } from './zod.js';

/** GET /api/v1/overview: everything the live board draws on arrival (live/overview.ts); GET /api/v1/overview/sparklines: the sparklines alone. */
export const overviewRoutes: ApiPlugin = async (app, deps) => {
  const fleet = new FleetCache(deps.influx, deps.pipeline, deps.log);
  fleet.prime();
  const config = { roles: ANYONE };
  app.get('/api/v1/overview', { config, schema: { querystring: overviewQuerySchema, response: { 200: overviewSchema } } }, async (request) =>
    buildOverview(deps.registry(), fleet, deps.alerts, request.query.hours, request.query.sparklines === 'true'),
  );
  app.get('/api/v1/overview/sparklines', { config, schema: { querystring: sparklinesQuerySchema, response: { 200: sparklinesSchema } } }, async (request) =>
    buildSparklines(deps.registry(), fleet, request.query.hours),
  );
};
