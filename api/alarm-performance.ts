import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Logger } from '../core/logger.js';
import type { Registry } from '../core/registry.js';
import type { InfluxClient } from '../storage/influx.js';
import { loadAlarmPerformance } from '../alerts/kpi.js';
import { requireCaller } from './auth.js';
import { sendValidationError } from './errors.js';
import { instant } from './readings.js';

const DAY = 86_400_000;
export const DEFAULT_PERFORMANCE_DAYS = 7;
/** A year and a day: enough for an annual review, bounded so one request cannot read everything. */
const MAX_PERIOD_DAYS = 366;

/** The query, checked against the sites the registry knows so a typo is named, not an empty report. */
export function alarmPerformanceQuerySchema(siteIds: readonly string[], now: () => number = Date.now) {
  return z
    .object({
      site: z
        .string()
        .min(1, 'must name a site')
        .superRefine((id, ctx) => {
          if (!siteIds.includes(id)) ctx.addIssue({ code: 'custom', message: `no site ${JSON.stringify(id.slice(0, 64))}; known sites: ${siteIds.join(', ') || 'none'}` });
        })
        .optional(),
      from: instant.optional(),
      to: instant.optional(),
    })
    .transform((q) => {
      const to = q.to ?? now();
      return { siteId: q.site, from: q.from ?? to - DEFAULT_PERFORMANCE_DAYS * DAY, to };
    })
    .refine((q) => q.from < q.to, { message: 'from must be before to', path: ['from'] })
    .refine((q) => q.to - q.from <= MAX_PERIOD_DAYS * DAY, { message: `the period may be at most ${MAX_PERIOD_DAYS} days`, path: ['from'] });
}

/** `GET /api/v1/alarms/performance`: the ISA-18.2 alarm performance report (alerts/kpi.ts). */
export function alarmPerformanceRoutes(app: FastifyInstance, deps: { registry: () => Registry; influx: InfluxClient; log: Logger }): void {
  const anyone = requireCaller(deps.registry, ['admin', 'operator', 'qa', 'viewer']);
  const log = deps.log.child({ component: 'alarm-performance' });

  app.get<{ Querystring: Record<string, string> }>('/api/v1/alarms/performance', async (request, reply) => {
    if (!anyone(request, reply)) return reply;
    const knownSites = deps.registry().config.sites.map((s) => s.id);
    const query = alarmPerformanceQuerySchema(knownSites).safeParse(request.query);
    if (!query.success) return sendValidationError(reply, query.error, 'query');
    const { siteId, from, to } = query.data;
    return loadAlarmPerformance(deps.influx, { from, to, knownSites, log, ...(siteId ? { siteId } : {}) });
  });
}
