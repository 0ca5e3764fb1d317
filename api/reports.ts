import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import type { Registry } from '../core/registry.js';
import { isTimeZone } from '../core/config/schema.js';
import type { InfluxClient } from '../storage/influx.js';
import type { AlertService } from '../alerts/service.js';
import { reportFormats, reportLanguages, type AnyReport } from '../reports/schema.js';
import { renderReport } from '../reports/render/index.js';
import { buildGspRecord } from '../reports/gsp-record.js';
import { buildExcursionReport } from '../reports/excursion-report.js';
import { ANYONE } from './auth.js';
import { idParams, instant } from './readings.js';
import type { ApiPlugin } from './zod.js';

const optionFields = {
  format: z.enum(reportFormats).default('json'),
  lang: z.enum(reportLanguages).optional(),
  tz: z.string().refine(isTimeZone, 'must be an IANA time zone such as Asia/Shanghai or UTC').optional(),
};
type OptionFields = z.output<z.ZodObject<typeof optionFields>>;
/** Options left out take the config's `reports` section (read when asked, so a reload counts). */
const resolve = (registry: () => Registry, q: OptionFields) => ({ format: q.format, lang: q.lang ?? registry().config.reports.lang, timeZone: q.tz ?? registry().config.reports.timeZone });

/** ?format=&lang=&tz= on every report route. */
export const reportOptionsSchema = (registry: () => Registry) => z.object(optionFields).transform((q) => resolve(registry, q));
export type ReportOptions = ReturnType<typeof resolve>;

/** Sends a report in the asked format: JSON as it is, the others rendered, downloads named after the report. */
export async function sendReport(reply: FastifyReply, report: AnyReport, options: ReportOptions, baseName: string) {
  if (options.format === 'json') return reply.send(report);
  const rendered = await renderReport(report, options.format, { lang: options.lang, timeZone: options.timeZone });
  const safeName = baseName.replace(/[^A-Za-z0-9_.-]/g, '_');
  return reply
    .type(rendered.contentType)
    .header('Content-Disposition', `${options.format === 'html' ? 'inline' : 'attachment'}; filename="${safeName}.${rendered.extension}"`)
    .send(rendered.body);
}

/** A GSP record's period and options together. */
const recordQuerySchema = (registry: () => Registry) =>
  z
    .object({ ...optionFields, from: instant, to: instant.optional() })
    .transform((q) => ({ options: resolve(registry, q), from: q.from, to: q.to ?? Date.now() }))
    .refine((q) => q.from < q.to, { message: 'from must be before to', path: ['from'] })
    .refine((q) => q.to - q.from <= 366 * 86_400_000, { message: 'a record covers at most 366 days; ask for several', path: ['to'] });

/** GSP records per place and excursion reports per alert (?format=json|csv|html|pdf). */
export const reportRoutes: ApiPlugin<{ registry: () => Registry; influx: InfluxClient; alerts: AlertService }> = async (app, deps) => {
  const config = { roles: ANYONE };
  app.get('/api/v1/locations/:id/record', { config, schema: { params: idParams, querystring: recordQuerySchema(deps.registry) } }, async (request, reply) => {
    const { options, from, to } = request.query;
    const record = await buildGspRecord({ registry: deps.registry(), influx: deps.influx, locationId: request.params.id, from, to });
    return sendReport(reply, record, options, `gsp-record-${request.params.id}-${new Date(from).toISOString().slice(0, 10)}`);
  });

  app.get('/api/v1/alerts/:id/report', { config, schema: { params: idParams, querystring: reportOptionsSchema(deps.registry) } }, async (request, reply) => {
    const report = await buildExcursionReport({ registry: deps.registry(), influx: deps.influx, alert: deps.alerts.book.get(request.params.id), alertId: request.params.id });
    return sendReport(reply, report, request.query, `excursion-${request.params.id}`);
  });
};
