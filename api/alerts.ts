import { z } from 'zod';
import { alertSchema } from '../alerts/book.js';
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
import { ANYONE, HANDLERS } from './auth.js';
import { foundOr404 } from './http-error.js';
import { idParams, listed, listOf } from './params.js';
import type { ApiPlugin } from './zod.js';

export type Alert = z.infer<typeof alertSchema>;
const alertList = listOf('alerts', alertSchema);
const alertAnswer = z.object({ alert: alertSchema });
const incidentList = listOf('incidents', incidentViewSchema);
export type AlertList = z.infer<typeof alertList>;
export type AlertAnswer = z.infer<typeof alertAnswer>;
export type IncidentList = z.infer<typeof incidentList>;

/** Alerts (one condition on one sensor) and incidents (what people handle), with their e-signed transitions. */
export const alertRoutes: ApiPlugin = async (app, { influx, alerts: service }) => {
  const anyone = { config: { roles: ANYONE } };
  const signers = { config: { roles: HANDLERS } };

  app.get('/api/v1/alerts', { ...anyone, schema: { querystring: alertFilterSchema, response: { 200: alertList } } }, async (request) =>
    listed('alerts', alertsMatching(service, request.query)),
  );

  app.get('/api/v1/alerts/:id', { ...anyone, schema: { params: idParams, response: { 200: alertDetailSchema } } }, async (request) =>
    foundOr404(await alertDetail(service, influx, request.params.id), `no alert ${request.params.id}`),
  );

  app.get('/api/v1/incidents', { ...anyone, schema: { querystring: incidentFilterSchema, response: { 200: incidentList } } }, async (request) =>
    listed('incidents', incidentsMatching(service, request.query)),
  );

  app.get('/api/v1/incidents/:id', { ...anyone, schema: { params: idParams, response: { 200: incidentDetailSchema } } }, async (request) =>
    foundOr404(await incidentDetail(service, influx, request.params.id), `no incident ${request.params.id}`),
  );

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
