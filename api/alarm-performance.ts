import { z } from 'zod';
import type { Logger } from '../core/logger.js';
import type { Registry } from '../core/registry.js';
import type { InfluxClient } from '../storage/influx.js';
import { alarmPerformanceSchema, loadAlarmPerformance } from '../alerts/kpi.js';
import { ANYONE } from './auth.js';
import { instant } from './params.js';
import type { ApiPlugin } from './zod.js';

const DAY = 86_400_000;
const DEFAULT_PERFORMANCE_DAYS = 7;
/** A year and a day: enough for an annual review, bounded so one request cannot read everything. */
const MAX_PERIOD_DAYS = 366;

/** The query, checked against the sites the registry knows (when asked) so a typo is named, not an empty report. */
function alarmPerformanceQuerySchema(siteIds: () => readonly string[]) {
  return z
    .object({
      site: z
        .string()
        .min(1, 'must name a site')
        .superRefine((id, ctx) => {
          if (!siteIds().includes(id))
            ctx.addIssue({ code: 'custom', message: `no site ${JSON.stringify(id.slice(0, 64))}; known sites: ${siteIds().join(', ') || 'none'}` });
        })
        .optional(),
      from: instant.optional(),
      to: instant.optional(),
    })
    .transform((q) => {
      const to = q.to ?? Date.now();
      return { siteId: q.site, from: q.from ?? to - DEFAULT_PERFORMANCE_DAYS * DAY, to };
    })
    .refine((q) => q.from < q.to, { message: 'from must be before to', path: ['from'] })
    .refine((q) => q.to - q.from <= MAX_PERIOD_DAYS * DAY, { message: `the period may be at most ${MAX_PERIOD_DAYS} days`, path: ['from'] });
}

/** `GET /api/v1/alarms/performance?site=&from=&to=`: the ISA-18.2 alarm performance report (alerts/kpi.ts). */
export const alarmPerformanceRoutes: ApiPlugin<{ registry: () => Registry; influx: InfluxClient; log: Logger }> = async (app, deps) => {
  const log = deps.log.child({ component: 'alarm-performance' });
  const knownSites = () => deps.registry().config.sites.map((s) => s.id);
  const schema = { querystring: alarmPerformanceQuerySchema(knownSites), response: { 200: alarmPerformanceSchema } };
  app.get('/api/v1/alarms/performance', { schema, config: { roles: ANYONE } }, async (request) => {
    const { siteId, from, to } = request.query;
    return loadAlarmPerformance(deps.influx, { from, to, knownSites: knownSites(), log, ...(siteId ? { siteId } : {}) });
  });
};
