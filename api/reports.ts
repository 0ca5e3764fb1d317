import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import type { Registry } from '../core/registry.js';
import { timeZoneSchema } from '../core/config/schema.js';
import { reportFormats, reportLanguages } from '../reports/schema.js';
import type { ReportSubject } from '../reports/jobs.js';
import type { ReportPool } from '../reports/pool.js';
import { ANYONE } from './auth.js';
import { idParams, instant } from './params.js';
import type { ApiPlugin } from './zod.js';

const optionFields = {
  format: z.enum(reportFormats).default('json'),
  lang: z.enum(reportLanguages).optional(),
  tz: timeZoneSchema.optional(),
};
type OptionFields = z.output<z.ZodObject<typeof optionFields>>;
/** Options left out take the config's `reports` section (read when asked, so a reload counts). */
const resolve = (registry: () => Registry, q: OptionFields) => ({
  format: q.format,
  lang: q.lang ?? registry().config.reports.lang,
  timeZone: q.tz ?? registry().config.reports.timeZone,
});

/** ?format=&lang=&tz= on every report route. */
export const reportOptionsSchema = (registry: () => Registry) => z.object(optionFields).transform((q) => resolve(registry, q));
export type ReportOptions = ReturnType<typeof resolve>;

/**
 * Builds a report in the report workers (reports/pool.ts) and sends it in the asked format,
 * downloads named after the report. The workers' refusals are answered by the error handler
 * (http-error.ts): busy 429 with Retry-After, too many readings 422, too slow 503.
 */
export async function sendReport(reply: FastifyReply, pool: ReportPool, subject: ReportSubject, options: ReportOptions, baseName: string) {
  const built = await pool.run({ subject, format: options.format, lang: options.lang, timeZone: options.timeZone });
  if (options.format === 'json') return reply.type(built.contentType).send(built.body);
  const safeName = baseName.replace(/[^A-Za-z0-9_.-]/g, '_');
  return reply
    .type(built.contentType)
    .header('Content-Disposition', `${options.format === 'html' ? 'inline' : 'attachment'}; filename="${safeName}.${built.extension}"`)
    .send(built.body);
}

/** A GSP record's period and options together. */
const recordQuerySchema = (registry: () => Registry) =>
  z
    .object({ ...optionFields, from: instant, to: instant.optional() })
    .transform((q) => ({ options: resolve(registry, q), from: q.from, to: q.to ?? Date.now() }))
    .refine((q) => q.from < q.to, { message: 'from must be before to', path: ['from'] })
    .refine((q) => q.to - q.from <= 366 * 86_400_000, { message: 'a record covers at most 366 days; ask for several', path: ['to'] });

/** GSP records per place and excursion reports per alert (?format=json|csv|html|pdf). */
export const reportRoutes: ApiPlugin = async (app, deps) => {
  const config = { roles: ANYONE };
  app.get('/api/v1/locations/:id/record', { config, schema: { params: idParams, querystring: recordQuerySchema(deps.registry) } }, async (request, reply) => {
    const { options, from, to } = request.query;
    return sendReport(
      reply,
      deps.reports,
      { kind: 'gsp_record', locationId: request.params.id, from, to },
      options,
      `gsp-record-${request.params.id}-${new Date(from).toISOString().slice(0, 10)}`,
    );
  });

  app.get('/api/v1/alerts/:id/report', { config, schema: { params: idParams, querystring: reportOptionsSchema(deps.registry) } }, async (request, reply) =>
    sendReport(
      reply,
      deps.reports,
      { kind: 'excursion', alertId: request.params.id, alert: deps.alerts.book.get(request.params.id) },
      request.query,
      `excursion-${request.params.id}`,
    ),
  );
};
