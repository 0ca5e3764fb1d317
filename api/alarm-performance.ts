import { z } from 'zod';
import { noSuchSite } from '../alerts/alarm-test.js';
import { alarmPerformanceSchema, loadAlarmPerformance } from '../alerts/kpi.js';
import { ANYONE } from './auth.js';
import { instant, period } from './params.js';
import type { ApiPlugin } from './zod.js';

const DAY = 86_400_000;
/** A year and a day: enough for an annual review, bounded so one request cannot read everything. */
const MAX_PERIOD_DAYS = 366;

/** `GET /api/v1/alarms/performance?site=&from=&to=` (default the last 7 days): the ISA-18.2 alarm performance report (alerts/kpi.ts). */
export const alarmPerformanceRoutes: ApiPlugin = async (app, { registry, influx, log }) => {
  const performanceLog = log.child({ component: 'alarm-performance' });
  const knownSites = () => registry().config.sites.map((s) => s.id);
  // The site is checked against the registry's, so a typo is named rather than answered with an empty report.
  const site = z
    .string()
    .min(1, 'must name a site')
    .superRefine((id, ctx) => {
      if (!knownSites().includes(id)) ctx.addIssue({ code: 'custom', message: noSuchSite(id, knownSites()) });
    });
  const query = period(z.object({ site: site.optional(), from: instant.optional(), to: instant.optional() }), 7 * DAY).refine(
    (q) => q.to - q.from <= MAX_PERIOD_DAYS * DAY,
    { message: `the period may be at most ${MAX_PERIOD_DAYS} days`, path: ['from'] },
  );
  app.get(
    '/api/v1/alarms/performance',
    { schema: { querystring: query, response: { 200: alarmPerformanceSchema } }, config: { roles: ANYONE } },
    async (request) => {
      const { site: siteId, from, to } = request.query;
      return loadAlarmPerformance(influx, { from, to, knownSites: knownSites(), log: performanceLog, ...(siteId ? { siteId } : {}) });
    },
  );
};
