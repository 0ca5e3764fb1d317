import type { FastifyReply } from 'fastify';
import type { ReportSubject } from '../reports/jobs.js';
import { recordQuerySchema, reportOptionsSchema, type ReportOptions } from '../reports/options.js';
import type { ReportPool } from '../reports/pool.js';
import { ANYONE, type ApiPlugin, idParams, route } from './route.js';

/** Sends a built file: JSON as it is, HTML to be shown, anything else as a download; the file is named `<name>.<extension>`. */
export function sendFile(reply: FastifyReply, file: { body: Uint8Array | string; contentType: string; extension: string }, format: string, name: string) {
  if (format === 'json') return reply.type(file.contentType).send(file.body);
  const safeName = name.replace(/[^A-Za-z0-9_.-]/g, '_');
  return reply
    .type(file.contentType)
    .header('Content-Disposition', `${format === 'html' ? 'inline' : 'attachment'}; filename="${safeName}.${file.extension}"`)
    .send(file.body);
}

/** Builds a report in the report workers (reports/pool.ts; their refusals are answered by http-error.ts) and sends it. */
export async function sendReport(reply: FastifyReply, pool: ReportPool, subject: ReportSubject, { format, lang, timeZone }: ReportOptions, name: string) {
  return sendFile(reply, await pool.run({ subject, format, lang, timeZone }), format, name);
}

/** GSP records per place and excursion reports per alert (?format=json|csv|html|pdf). */
export const reportRoutes: ApiPlugin = async (app, { registry, alerts, reports }) => {
  app.get('/api/v1/locations/:id/record', route(ANYONE, { params: idParams, querystring: recordQuerySchema(registry) }), async (request, reply) => {
    const { options, from, to } = request.query;
    const name = `gsp-record-${request.params.id}-${new Date(from).toISOString().slice(0, 10)}`;
    return sendReport(reply, reports, { kind: 'gsp_record', locationId: request.params.id, from, to }, options, name);
  });

  app.get('/api/v1/alerts/:id/report', route(ANYONE, { params: idParams, querystring: reportOptionsSchema(registry) }), async (request, reply) =>
    sendReport(
      reply,
      reports,
      { kind: 'excursion', alertId: request.params.id, alert: alerts.book.get(request.params.id) },
      request.query,
      `excursion-${request.params.id}`,
    ),
  );
};
