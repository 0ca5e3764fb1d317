import { z } from 'zod';
import type { Registry } from '../core/registry.js';
import type { InfluxClient } from '../storage/influx.js';
import { alertEventSchema, alertSchema, alertStates } from '../alerts/book.js';
import { loadAlertEvents, loadIncidentEvents } from '../alerts/event-store.js';
import type { AlertService } from '../alerts/service.js';
import {
  alarmSignatureInputSchema as signatureSchema,
  incidentEventSchema,
  incidentStates,
  incidentViewSchema,
  shelveInputSchema as shelveSchema,
} from '../alerts/incident.js';
import { redactEvent } from '../alerts/redact.js';
import { ANYONE, HANDLERS } from './auth.js';
import { notFound, throwing } from './http-error.js';
import { idParams, instant, listOf } from './params.js';
import type { ApiPlugin } from './zod.js';

const listQuery = <S extends readonly [string, ...string[]]>(states: S) =>
  z.object({ state: z.enum(states).optional(), site: z.string().optional(), from: instant.optional(), to: instant.optional() });
export const alertsQuerySchema = listQuery(alertStates);
export const incidentsQuerySchema = listQuery(incidentStates);

export type Alert = z.infer<typeof alertSchema>;
const alertList = listOf('alerts', alertSchema);
const alertAnswer = z.object({ alert: alertSchema });
export type AlertList = z.infer<typeof alertList>;
export type AlertAnswer = z.infer<typeof alertAnswer>;
const alertDetailSchema = z.object({ alert: alertSchema, events: z.array(alertEventSchema.omit({ alert: true })) });
export type AlertDetail = z.infer<typeof alertDetailSchema>;
const trendSchema = z.array(z.object({ deviceId: z.string(), points: z.array(z.tuple([z.number(), z.number()])) }));
const incidentDetailSchema = z.object({
  incident: incidentViewSchema,
  alerts: z.array(alertSchema),
  events: z.array(incidentEventSchema.omit({ incident: true })),
  trend: trendSchema,
});
export type IncidentDetail = z.infer<typeof incidentDetailSchema>;

type Filter = z.infer<typeof alertsQuerySchema> | z.infer<typeof incidentsQuerySchema>;
const matches =
  ({ state, site, from, to }: Filter) =>
  (x: { state: string; siteId: string; occurredAt: number }) =>
    (!state || x.state === state) && (!site || x.siteId === site) && (from === undefined || x.occurredAt >= from) && (to === undefined || x.occurredAt < to);
const newestFirst = (a: { occurredAt: number }, b: { occurredAt: number }) => b.occurredAt - a.occurredAt;

/** Alerts (one condition on one sensor) and incidents (what people handle), with their e-signed transitions. */
export const alertRoutes: ApiPlugin<{ registry: () => Registry; influx: InfluxClient; alerts: AlertService }> = async (app, { influx, alerts: service }) => {
  const anyone = { config: { roles: ANYONE } };
  const signers = { config: { roles: HANDLERS } };

  app.get('/api/v1/alerts', { ...anyone, schema: { querystring: alertsQuerySchema, response: { 200: alertList } } }, async (request) => {
    const alerts = service.book.list().filter(matches(request.query)).sort(newestFirst);
    return { count: alerts.length, alerts };
  });

  app.get('/api/v1/alerts/:id', { ...anyone, schema: { params: idParams, response: { 200: alertDetailSchema } } }, async (request) => {
    const alert = service.book.get(request.params.id) ?? throwing(notFound(`no alert ${request.params.id}`));
    const events = await loadAlertEvents(influx, { alertId: alert.id });
    // Recipients' webhook keys and phone numbers never leave (alerts/redact.ts), for events recorded before that too.
    return { alert, events: events.map(({ alert: _snapshot, ...event }) => redactEvent(event)) };
  });

  app.get(
    '/api/v1/incidents',
    { ...anyone, schema: { querystring: incidentsQuerySchema, response: { 200: listOf('incidents', incidentViewSchema) } } },
    async (request) => {
      const incidents = service.incidents
        .list()
        .filter(matches(request.query))
        .sort(newestFirst)
        .map((i) => service.view(i));
      return { count: incidents.length, incidents };
    },
  );

  app.get('/api/v1/incidents/:id', { ...anyone, schema: { params: idParams, response: { 200: incidentDetailSchema } } }, async (request) => {
    const incident = service.incidents.get(request.params.id) ?? throwing(notFound(`no incident ${request.params.id}`));
    const events = await loadIncidentEvents(influx, { incidentId: incident.id });
    const since = Date.now() - 3_600_000;
    return {
      incident: service.view(incident),
      alerts: incident.alertIds.map((id) => service.book.get(id)).filter((a) => a !== undefined),
      events: events.map(({ incident: _snapshot, ...event }) => redactEvent(event)),
      trend: incident.deviceIds.map((deviceId) => ({ deviceId, points: service.engine.recent(deviceId, since) })),
    };
  });

  for (const [path, action] of [
    ['ack', 'acknowledge'],
    ['close', 'close'],
    ['shelve', 'shelve'],
    ['unshelve', 'unshelve'],
  ] as const) {
    const body = action === 'shelve' ? shelveSchema : signatureSchema;
    app.post(
      `/api/v1/incidents/:id/${path}`,
      { ...signers, schema: { params: idParams, body, response: { 200: z.object({ incident: incidentViewSchema }) } } },
      async (request) => ({
        incident: await service.signIncident(request.params.id, action, request.body, { duration: (request.body as { duration?: string }).duration }),
      }),
    );
  }

  for (const [path, action] of [
    ['ack', 'acknowledge'],
    ['close', 'close'],
  ] as const) {
    app.post(
      `/api/v1/alerts/:id/${path}`,
      { ...signers, schema: { params: idParams, body: signatureSchema, response: { 200: alertAnswer } } },
      async (request) => ({
        alert: await service.sign(request.params.id, action, request.body),
      }),
    );
  }
};
