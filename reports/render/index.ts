import { z } from 'zod';
import { reportLanguages, type AnyReport, type ReportFormat } from '../schema.js';
import { describeReport } from './document.js';
import { Formatter } from './i18n.js';
import { renderCsv } from './csv.js';
import { renderHtml } from './html.js';
import { renderPdf } from './pdf.js';

export const renderOptionsSchema = z.object({
  lang: z.enum(reportLanguages).default('en'),
  /** IANA zone the report's times are shown in. */
  timeZone: z.string().default('UTC'),
});
export type RenderOptions = z.input<typeof renderOptionsSchema>;

export interface RenderedReport {
  body: Buffer;
  contentType: string;
  extension: string;
}

/** A report in one format; JSON is the report object itself, the others render the same figures. */
export async function renderReport(report: AnyReport, format: ReportFormat, options: RenderOptions = {}): Promise<RenderedReport> {
  const { lang, timeZone } = renderOptionsSchema.parse(options);
  if (format === 'json') return { body: Buffer.from(JSON.stringify(report, null, 2)), contentType: 'application/json; charset=utf-8', extension: 'json' };
  const formatter = new Formatter(lang, timeZone);
  const document = describeReport(report, formatter);
  switch (format) {
    case 'csv':
      return { body: renderCsv(document), contentType: 'text/csv; charset=utf-8', extension: 'csv' };
    case 'html':
      return { body: await renderHtml(document, lang), contentType: 'text/html; charset=utf-8', extension: 'html' };
    case 'pdf':
      return { body: await renderPdf(document, { title: `${document.title} — ${document.subtitle}`, lang }), contentType: 'application/pdf', extension: 'pdf' };
  }
}
