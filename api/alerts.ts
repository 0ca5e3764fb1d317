import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Registry } from '../core/registry.js';
import type { InfluxClient } from '../storage/influx.js';
import { alertStates, LifecycleError } from '../alerts/book.js';
import { loadAlertEvents } from '../alerts/event-store.js';
import { ShelveError, SignatureError, type AlertService } from '../alerts/service.js';
import { incidentStates } from '../alerts/incident.js';
import { loadIncidentEvents } from '../alerts/event-store.js';
import { requireCaller } from './auth.js';
import { sendValidationError } from './errors.js';
import { instant } from './readings.js';


export const alertsQuerySchema = z.object({
  state: z.enum(alertStates).optional(),
  site: z.string().optional(),
  from: instant.optional(),
  to: instant.optional(),
});

export const signatureSchema = z.object({
  user: z.string().min(1),
  password: z.string().min(1),
  meaning: z.string().trim().min(3, 'state the meaning of the signature, e.g. "acknowledged" or "corrective action taken"').max(200),
  comment: z.string().trim().min(1, 'a comment is required').max(2000),
});

export const incidentsQuerySchema = z.object({
  state: z.enum(incidentStates).optional(),
  site: z.string().optional(),
  from: instant.optional(),
  to: instant.optional(),
});

const shelveSchema = signatureSchema.extend({ duration: z.string().min(1, 'say how long, e.g. 2h (at most alarms.maxShelve)') });

const refusal = (err: LifecycleError | SignatureError | ShelveError) => ({ error: err.status === 404 ? 'not_found' : err.status === 409 ? 'conflict' : err.status === 401 ? 'signature_refused' : err.status === 400 ? 'invalid_request' : 'forbidden', message: err.message });

export function alertRoutes(app: FastifyInstance, deps: { registry: () => Registry; influx: InfluxClient; alerts: AlertService }): void {
  const anyone = requireCaller(deps.registry, ['admin', 'operator', 'qa', 'viewer']);
  const signers = requireCaller(deps.registry, ['admin', 'operator', 'qa']);

  app.get<{ Querystring: Record<string, string> }>('/api/v1/alerts', async (request, reply) => {
    if (!anyone(request, reply)) return reply;
    const query = alertsQuerySchema.safeParse(request.query);
    if (!query.success) return sendValidationError(reply, query.error, 'query');
    const { state, site, from, to } = query.data;
    const alerts = deps.alerts.book
      .list()
      .filter((a) => (!state || a.state === state) && (!site || a.siteId === site) && (from === undefined || a.occurredAt >= from) && (to === undefined || a.occurredAt < to))
      .sort((a, b) => b.occurredAt - a.occurredAt);
    return { count: alerts.length, alerts };
  });

  app.get<{ Params: { id: string } }>('/api/v1/alerts/:id', async (request, reply) => {
    if (!anyone(request, reply)) return reply;
    const alert = deps.alerts.book.get(request.params.id);
    if (!alert) return reply.code(404).send({ error: 'not_found', message: `no alert ${request.params.id}` });
    const events = await loadAlertEvents(deps.influx, { alertId: alert.id });
    return { alert, events: events.map(({ alert: _snapshot, ...event }) => event) };
  });

  app.get<{ Querystring: Record<string, string> }>('/api/v1/incidents', async (request, reply) => {
    if (!anyone(request, reply)) return reply;
    const query = incidentsQuerySchema.safeParse(request.query);
    if (!query.success) return sendValidationError(reply, query.error, 'query');
    const { state, site, from, to } = query.data;
    const incidents = deps.alerts.incidents
      .list()
      .filter((i) => (!state || i.state === state) && (!site || i.siteId === site) && (from === undefined || i.occurredAt >= from) && (to === undefined || i.occurredAt < to))
      .sort((a, b) => b.occurredAt - a.occurredAt)
      .map((i) => deps.alerts.view(i));
    return { count: incidents.length, incidents };
  });

  app.get<{ Params: { id: string } }>('/api/v1/incidents/:id', async (request, reply) => {
    if (!anyone(request, reply)) return reply;
    const incident = deps.alerts.incidents.get(request.params.id);
    if (!incident) return reply.code(404).send({ error: 'not_found', message: `no incident ${request.params.id}` });
    const events = await loadIncidentEvents(deps.influx, { incidentId: incident.id });
    const view = deps.alerts.view(incident);
    const alerts = incident.alertIds.map((id) => deps.alerts.book.get(id)).filter((a) => a !== undefined);
    const since = Date.now() - 3_600_000;
    return { incident: view, alerts, events: events.map(({ incident: _snapshot, ...event }) => event), trend: incident.deviceIds.map((deviceId) => ({ deviceId, points: deps.alerts.engine.recent(deviceId, since) })) };
  });

  for (const [path, action] of [['ack', 'acknowledge'], ['close', 'close'], ['shelve', 'shelve'], ['unshelve', 'unshelve']] as const) {
    app.post<{ Params: { id: string } }>(`/api/v1/incidents/:id/${path}`, async (request, reply) => {
      if (!signers(request, reply)) return reply;
      const body = (action === 'shelve' ? shelveSchema : signatureSchema).safeParse(request.body ?? {});
      if (!body.success) return sendValidationError(reply, body.error, 'body');
      try {
        return { incident: await deps.alerts.signIncident(request.params.id, action, body.data, { duration: (body.data as { duration?: string }).duration }) };
      } catch (err) {
        if (err instanceof LifecycleError || err instanceof SignatureError || err instanceof ShelveError) return reply.code(err.status).send(refusal(err));
        throw err;
      }
    });
  }

  for (const [path, action] of [['ack', 'acknowledge'], ['close', 'close']] as const) {
    app.post<{ Params: { id: string } }>(`/api/v1/alerts/:id/${path}`, async (request, reply) => {
      if (!signers(request, reply)) return reply;
      const body = signatureSchema.safeParse(request.body ?? {});
      if (!body.success) return sendValidationError(reply, body.error, 'body');
      try {
        return { alert: await deps.alerts.sign(request.params.id, action, body.data) };
      } catch (err) {
        if (err instanceof LifecycleError || err instanceof SignatureError) return reply.code(err.status).send(refusal(err));
        throw err;
      }
    });
  }
}
