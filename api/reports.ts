import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import type { Registry } from '../core/registry.js';
import { timeZoneSchema } from '../core/config/schema.js';
import { reportFormats, reportLanguages } from '../reports/schema.js';
import type { ReportSubject } from '../reports/jobs.js';
import type { ReportPool } from '../reports/pool.js';
import { ANYONE } from './auth.js';
import { idParams, instant, period } from './params.js';
import type { ApiPlugin } from './zod.js';

/** ?lang=&tz= of anything printed; left out, the config's `reports` section (read when asked, so a reload counts). */
export const localeFields = { lang: z.enum(reportLanguages).optional(), tz: timeZoneSchema.optional() };
export const locale = (registry: () => Registry, q: z.output<z.ZodObject<typeof localeFields>>) => ({
  lang: q.lang ?? registry().config.reports.lang,
  timeZone: q.tz ?? registry().config.reports.timeZone,
});

const optionFields = { format: z.enum(reportFormats).default('json'), ...localeFields };
/** ?format=&lang=&tz= on every report route. */
export const reportOptionsSchema = (registry: () => Registry) => z.object(optionFields).transform(({ format, ...q }) => ({ format, ...locale(registry, q) }));
export type ReportOptions = z.output<ReturnType<typeof reportOptionsSchema>>;

/** Sends a built file: JSON as it is, HTML to be shown, anything else as a download; the file is named `<name>.<extension>`. */
export function sendFile(reply: FastifyReply, file: { body: Uint8Array | string; contentType: string; extension: string }, format: string, name: string) {
  if (format === 'json') return reply.type(file.contentType).send(file.body);
  const safeName = name.replace(/[^A-Za-z0-9_.-]/g, '_');
  return reply
    .type(file.contentType)
    .header('Content-Disposition', `${format === 'html' ? 'inline' : 'attachment'}; filename="${safeName}.${file.extension}"`)
    .send(file.body);
}

/**
 * Builds a report in the report workers (reports/pool.ts) and sends it in the asked format. The
 * workers' refusals are answered by the error handler (http-error.ts): busy 429 with Retry-After,
 * too many readings 422, too slow 503.
 */
export async function sendReport(reply: FastifyReply, pool: ReportPool, subject: ReportSubject, { format, lang, timeZone }: ReportOptions, name: string) {
  return sendFile(reply, await pool.run({ subject, format, lang, timeZone }), format, name);
}

/** GSP records per place and excursion reports per alert (?format=json|csv|html|pdf). */
export const reportRoutes: ApiPlugin = async (app, { registry, alerts, reports }) => {
  const config = { roles: ANYONE };
  // A GSP record's period (at most 366 days) and options together.
  const recordQuery = period(z.object({ ...optionFields, from: instant, to: instant.optional() }))
    .refine((q) => q.to - q.from <= 366 * 86_400_000, { message: 'a record covers at most 366 days; ask for several', path: ['to'] })
    .transform(({ from, to, format, ...q }) => ({ from, to, options: { format, ...locale(registry, q) } }));
  app.get('/api/v1/locations/:id/record', { config, schema: { params: idParams, querystring: recordQuery } }, async (request, reply) => {
    const { options, from, to } = request.query;
    const name = `gsp-record-${request.params.id}-${new Date(from).toISOString().slice(0, 10)}`;
    return sendReport(reply, reports, { kind: 'gsp_record', locationId: request.params.id, from, to }, options, name);
  });

  app.get('/api/v1/alerts/:id/report', { config, schema: { params: idParams, querystring: reportOptionsSchema(registry) } }, async (request, reply) =>
    sendReport(
      reply,
      reports,
      { kind: 'excursion', alertId: request.params.id, alert: alerts.book.get(request.params.id) },
      request.query,
      `excursion-${request.params.id}`,
    ),
  );
};
