import { alarmPerformanceSchema, loadAlarmPerformance, performanceQuerySchema } from '../alerts/kpi.js';
import { ANYONE } from './auth.js';
import type { ApiPlugin } from './zod.js';

/** `GET /api/v1/alarms/performance?site=&from=&to=` (default the last 7 days): the ISA-18.2 alarm performance report (alerts/kpi.ts). */
export const alarmPerformanceRoutes: ApiPlugin = async (app, { registry, influx, log }) => {
  const performanceLog = log.child({ component: 'alarm-performance' });
  const knownSites = () => registry().config.sites.map((s) => s.id);
  const schema = { querystring: performanceQuerySchema(knownSites), response: { 200: alarmPerformanceSchema } };
  app.get('/api/v1/alarms/performance', { schema, config: { roles: ANYONE } }, async (request) => {
    const { site: siteId, from, to } = request.query;
    return loadAlarmPerformance(influx, { from, to, knownSites: knownSites(), log: performanceLog, ...(siteId ? { siteId } : {}) });
  });
};
