import { z } from 'zod';
import type { Logger } from '../core/logger.js';
import type { Registry } from '../core/registry.js';
import type { InfluxClient } from '../storage/influx.js';
import type { IngestPipeline } from '../ingestor/pipeline.js';
import type { AlertService } from '../alerts/service.js';
import { FleetCache } from '../live/fleet-cache.js';
import { buildOverview, overviewSchema } from '../live/overview.js';
import { ANYONE } from './auth.js';
import type { ApiPlugin } from './zod.js';

const overviewQuerySchema = z.object({ hours: z.coerce.number().int().min(1).max(48).default(6) });

/** GET /api/v1/overview: everything the live board draws on arrival (live/overview.ts). */
export const overviewRoutes: ApiPlugin<{
  registry: () => Registry;
  influx: InfluxClient;
  alerts: AlertService;
  pipeline: IngestPipeline;
  log: Logger;
}> = async (app, deps) => {
  const fleet = new FleetCache(deps.influx, deps.pipeline, deps.log);
  fleet.prime();
  app.get('/api/v1/overview', { config: { roles: ANYONE }, schema: { querystring: overviewQuerySchema, response: { 200: overviewSchema } } }, async (request) =>
    buildOverview(deps.registry(), fleet, deps.alerts, request.query.hours),
  );
};
