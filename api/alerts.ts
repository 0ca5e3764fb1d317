import { z } from 'zod';
import { alertSchema } from '../alerts/book.js';
import { alarmTestResultSchema } from '../alerts/alarm-test.js';
import { alarmPerformanceSchema, loadAlarmPerformance, performanceQuerySchema } from '../alerts/kpi.js';
import {
  alertDetail,
  alertDetailSchema,
  alertFilterSchema,
  alertsMatching,
  incidentDetail,
  incidentDetailSchema,
  incidentFilterSchema,
  incidentsMatching,
} from '../alerts/views.js';
import { alarmSignatureInputSchema as signatureSchema, incidentViewSchema, shelveInputSchema as shelveSchema } from '../alerts/incident.js';
import { foundOr404 } from './http-error.js';
import { ANYONE, type ApiPlugin, HANDLERS, idParams, listed, listOf, REVIEWERS, route } from './route.js';

export type { Alert } from '../alerts/book.js';
const alertList = listOf('alerts', alertSchema);
const alertAnswer = z.object({ alert: alertSchema });
const incidentList = listOf('incidents', incidentViewSchema);
export type AlertList = z.infer<typeof alertList>;
export type AlertAnswer = z.infer<typeof alertAnswer>;
export type IncidentList = z.infer<typeof incidentList>;
export type AlarmTestAnswer = z.infer<typeof alarmTestResultSchema>;

/** Alerts (one condition on one sensor) and incidents (what people handle) with their e-signed transitions, the alarm performance report and test alarms. */
export const alertRoutes: ApiPlugin = async (app, { registry, influx, log, alerts: service }) => {
  app.get('/api/v1/alerts', route(ANYONE, { querystring: alertFilterSchema, response: { 200: alertList } }), async (request) =>
    listed('alerts', alertsMatching(service, request.query)),
  );

  app.get('/api/v1/alerts/:id', route(ANYONE, { params: idParams, response: { 200: alertDetailSchema } }), async (request) =>
    foundOr404(await alertDetail(service, influx, request.params.id), `no alert ${request.params.id}`),
  );

  app.get('/api/v1/incidents', route(ANYONE, { querystring: incidentFilterSchema, response: { 200: incidentList } }), async (request) =>
    listed('incidents', incidentsMatching(service, request.query)),
  );

  app.get('/api/v1/incidents/:id', route(ANYONE, { params: idParams, response: { 200: incidentDetailSchema } }), async (request) =>
    foundOr404(await incidentDetail(service, influx, request.params.id), `no incident ${request.params.id}`),
  );

  for (const [path, action] of Object.entries({ ack: 'acknowledge', close: 'close', shelve: 'shelve', unshelve: 'unshelve' } as const)) {
    const body = action === 'shelve' ? shelveSchema : signatureSchema;
    app.post(
      `/api/v1/incidents/:id/${path}`,
      route(HANDLERS, { params: idParams, body, response: { 200: z.object({ incident: incidentViewSchema }) } }),
      async (request) => ({
        incident: await service.signIncident(request.params.id, action, request.body, { duration: (request.body as { duration?: string }).duration }),
      }),
    );
  }

  for (const [path, action] of Object.entries({ ack: 'acknowledge', close: 'close' } as const)) {
    app.post(`/api/v1/alerts/:id/${path}`, route(HANDLERS, { params: idParams, body: signatureSchema, response: { 200: alertAnswer } }), async (request) => ({
      alert: await service.sign(request.params.id, action, request.body),
    }));
  }

  const performanceLog = log.child({ component: 'alarm-performance' });
  const knownSites = () => registry().config.sites.map((s) => s.id);
  const performance = route(ANYONE, { querystring: performanceQuerySchema(knownSites), response: { 200: alarmPerformanceSchema } });
  app.get('/api/v1/alarms/performance', performance, async (request) => {
    const { site: siteId, from, to } = request.query;
    return loadAlarmPerformance(influx, { from, to, knownSites: knownSites(), log: performanceLog, ...(siteId ? { siteId } : {}) });
  });

  // A test alarm goes through every channel and tier of the site, audited; an unknown site is 404.
  app.post('/api/v1/sites/:id/alarm-test', route(REVIEWERS, { params: idParams, response: { 200: alarmTestResultSchema } }), async (request) =>
    service.testAlarm(request.params.id, request.caller.tokenId),
  );
};
