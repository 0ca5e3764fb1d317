import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { Registry } from '../core/registry.js';
import { isTimeZone } from '../core/config/schema.js';
import type { InfluxClient } from '../storage/influx.js';
import type { AlertService } from '../alerts/service.js';
import { reportFormats, reportLanguages, type AnyReport } from '../reports/schema.js';
import { renderReport } from '../reports/render/index.js';
import { buildGspRecord } from '../reports/gsp-record.js';
import { buildExcursionReport } from '../reports/excursion-report.js';
import { ReportError } from '../reports/shipment-report.js';
import { requireCaller } from './auth.js';
import { sendValidationError } from './errors.js';
import { instant } from './readings.js';

/** ?format=&lang=&tz= on every report route; defaults from the config's `reports` section. */
export function reportOptionsSchema(registry: () => Registry) {
  return z.object({
    format: z.enum(reportFormats).default('json'),
    lang: z.enum(reportLanguages).optional(),
    tz: z.string().refine(isTimeZone, 'must be an IANA time zone such as Asia/Shanghai or UTC').optional(),
  }).transform((q) => ({ format: q.format, lang: q.lang ?? registry().config.reports.lang, timeZone: q.tz ?? registry().config.reports.timeZone }));
}

export type ReportOptions = z.infer<ReturnType<typeof reportOptionsSchema>>;

/** Sends a report in the asked format: JSON as it is, the others rendered, downloads named after the report. */
export async function sendReport(reply: FastifyReply, report: AnyReport, options: ReportOptions, baseName: string, disposition: 'attachment' | 'inline' = 'attachment') {
  if (options.format === 'json') return reply.send(report);
  const rendered = await renderReport(report, options.format, { lang: options.lang, timeZone: options.timeZone });
  const safeName = baseName.replace(/[^A-Za-z0-9_.-]/g, '_');
  return reply
    .type(rendered.contentType)
    .header('Content-Disposition', `${options.format === 'html' ? 'inline' : disposition}; filename="${safeName}.${rendered.extension}"`)
    .send(rendered.body);
}

export function reportErrorReply(reply: FastifyReply, err: unknown) {
  if (err instanceof ReportError) return reply.code(err.status).send({ error: err.status === 404 ? 'not_found' : err.status === 409 ? 'conflict' : 'bad_request', message: err.message });
  throw err;
}

const recordQuerySchema = z
  .object({ from: instant, to: instant.optional() })
  .transform((q) => ({ from: q.from, to: q.to ?? Date.now() }))
  .refine((q) => q.from < q.to, { message: 'from must be before to', path: ['from'] })
  .refine((q) => q.to - q.from <= 366 * 86_400_000, { message: 'a record covers at most 366 days; ask for several', path: ['to'] });

/** GSP records per place and excursion reports per alert. */
export function reportRoutes(app: FastifyInstance, deps: { registry: () => Registry; influx: InfluxClient; alerts: AlertService }): void {
  const anyone = requireCaller(deps.registry, ['admin', 'operator', 'qa', 'viewer']);
  const options = reportOptionsSchema(deps.registry);

  app.get<{ Params: { id: string }; Querystring: Record<string, string> }>('/api/v1/locations/:id/record', async (request, reply) => {
    if (!anyone(request, reply)) return reply;
    const { format, lang, tz, ...window } = request.query;
    const parsedOptions = options.safeParse({ format, lang, tz });
    if (!parsedOptions.success) return sendValidationError(reply, parsedOptions.error, 'query');
    const parsedWindow = recordQuerySchema.safeParse(window);
    if (!parsedWindow.success) return sendValidationError(reply, parsedWindow.error, 'query');
    try {
      const record = await buildGspRecord({ registry: deps.registry(), influx: deps.influx, locationId: request.params.id, ...parsedWindow.data });
      return await sendReport(reply, record, parsedOptions.data, `gsp-record-${request.params.id}-${new Date(parsedWindow.data.from).toISOString().slice(0, 10)}`);
    } catch (err) {
      return reportErrorReply(reply, err);
    }
  });

  app.get<{ Params: { id: string }; Querystring: Record<string, string> }>('/api/v1/alerts/:id/report', async (request, reply) => {
    if (!anyone(request, reply)) return reply;
    const parsedOptions = options.safeParse(request.query);
    if (!parsedOptions.success) return sendValidationError(reply, parsedOptions.error, 'query');
    try {
      const report = await buildExcursionReport({ registry: deps.registry(), influx: deps.influx, alert: deps.alerts.book.get(request.params.id), alertId: request.params.id });
      return await sendReport(reply, report, parsedOptions.data, `excursion-${request.params.id}`);
    } catch (err) {
      return reportErrorReply(reply, err);
    }
  });
}
