import { z } from 'zod';
import type { Logger } from '../core/logger.js';
import type { Registry } from '../core/registry.js';
import type { InfluxClient } from '../storage/influx.js';
import type { IngestPipeline } from '../ingestor/pipeline.js';
import type { AlertService } from '../alerts/service.js';
import { FleetCache } from '../live/fleet-cache.js';
import { buildOverview, buildSparklines, overviewSchema, sparklinesSchema } from '../live/overview.js';
import { ANYONE } from './auth.js';
import type { ApiPlugin } from './zod.js';

const hours = z.coerce.number().int().min(1).max(48).default(6);
const overviewQuerySchema = z.object({
  hours,
  /** `false`: every sensor's `sparkline` is null (the board reads them after drawing its tiles). */
  sparklines: z.enum(['true', 'false']).default('true'),
});

/**
 * GET /api/v1/overview: everything the live board draws on arrival (live/overview.ts);
 * GET /api/v1/overview/sparklines: the sensors' sparklines alone.
 */
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
    buildOverview(deps.registry(), fleet, deps.alerts, request.query.hours, request.query.sparklines === 'true'),
  );
  app.get(
    '/api/v1/overview/sparklines',
    { config: { roles: ANYONE }, schema: { querystring: z.object({ hours }), response: { 200: sparklinesSchema } } },
    async (request) => buildSparklines(deps.registry(), fleet, request.query.hours),
  );
};
