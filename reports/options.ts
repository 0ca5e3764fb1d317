import { z } from 'zod';
import { timeZoneSchema } from '../core/config/schema.js';
import { instantQuerySchema as instant, period } from '../core/instant.js';
import type { Registry } from '../core/registry.js';
import { reportFormats, reportLanguages } from './schema.js';

/** ?lang=&tz= of anything printed; left out, the config's `reports` section (read when asked, so a reload counts). */
export const localeFields = { lang: z.enum(reportLanguages).optional(), tz: timeZoneSchema.optional() };
export const locale = (registry: () => Registry, q: z.output<z.ZodObject<typeof localeFields>>) => ({
  lang: q.lang ?? registry().config.reports.lang,
  timeZone: q.tz ?? registry().config.reports.timeZone,
});

const optionFields = { format: z.enum(reportFormats).default('json'), ...localeFields };
/** ?format=&lang=&tz= of every report. */
export const reportOptionsSchema = (registry: () => Registry) => z.object(optionFields).transform(({ format, ...q }) => ({ format, ...locale(registry, q) }));
export type ReportOptions = z.output<ReturnType<typeof reportOptionsSchema>>;

/** A GSP record's period (at most 366 days) and options together. */
export const recordQuerySchema = (registry: () => Registry) =>
  period(z.object({ ...optionFields, from: instant, to: instant.optional() }))
    .refine((q) => q.to - q.from <= 366 * 86_400_000, { message: 'a record covers at most 366 days; ask for several', path: ['to'] })
    .transform(({ from, to, format, ...q }) => ({ from, to, options: { format, ...locale(registry, q) } }));

/** A shipment report's options, and ?version=current (default) or signed: the report as the current disposition was signed on it. */
export const shipmentReportQuerySchema = (registry: () => Registry) =>
  z.intersection(reportOptionsSchema(registry), z.object({ version: z.enum(['current', 'signed']).default('current') }));

/** ?tz= of an EPCIS document's eventTimeZoneOffset (default: reports.timeZone). */
export const epcisQuerySchema = z.object({ tz: timeZoneSchema.optional() });
