import { statSync } from 'node:fs';
import { z } from 'zod';
import { auditEntrySchema, reviewAuditLog, verifyAuditLog, type AuditEntry, type AuditLog, type VerifyResult } from '../audit/audit-log.js';
import { auditDocument } from '../audit/review-document.js';
import { isTimeZone } from '../core/config/schema.js';
import type { Registry } from '../core/registry.js';
import { csvCell } from '../reports/render/csv.js';
import { Formatter } from '../reports/render/i18n.js';
import { renderPdf } from '../reports/render/pdf.js';
import { reportLanguages } from '../reports/schema.js';
import { REVIEWERS } from './auth.js';
import { HttpError } from './http-error.js';
import { instant } from './readings.js';
import type { ApiPlugin } from './zod.js';

export const AUDIT_DEFAULT_LIMIT = 200;
export const AUDIT_MAX_LIMIT = 5000;
/** A PDF is laid out on the main thread: a page count a reviewer prints, not a bulk export (the CSV is). */
export const AUDIT_PDF_MAX_LIMIT = 1000;

const text = z.string().min(1).max(200);

export const auditQuerySchema = z
  .object({
    from: instant.optional(),
    to: instant.optional(),
    actor: text.optional(),
    action: text.optional(),
    target: text.optional(),
    limit: z.coerce.number().int().min(1).max(AUDIT_MAX_LIMIT).default(AUDIT_DEFAULT_LIMIT),
  })
  .refine((q) => q.from === undefined || q.to === undefined || q.from < q.to, { message: 'from must be before to', path: ['from'] });

/** ?lang=&tz= of the printable trail; left out, the config's `reports` section. */
const pdfQuerySchema = auditQuerySchema.and(
  z.object({
    lang: z.enum(reportLanguages).optional(),
    tz: z.string().refine(isTimeZone, 'must be an IANA time zone such as Asia/Shanghai or UTC').optional(),
  }),
);

const verifiedSchema = z.object({ ok: z.boolean(), entries: z.number(), problem: z.string().optional() });
export const auditReviewSchema = z.object({
  verified: verifiedSchema,
  /** Entries that matched the filters in all; `entries` holds the newest `limit` of them. */
  matched: z.number(),
  truncated: z.boolean(),
  entries: z.array(auditEntrySchema),
});
export type AuditReview = z.infer<typeof auditReviewSchema>;
export type AuditReviewEntry = AuditEntry;

const CSV_COLUMNS = ['seq', 'time', 'actor', 'printed name', 'action', 'target', 'details'];

/** One CSV line per entry; every text cell through the reports' escaping (a leading =, +, -, @ cannot become a formula). */
export function auditCsv(entries: AuditEntry[]): string {
  const line = (cells: Array<string | number>) => cells.map(csvCell).join(',');
  const rows = entries.map((e) => line([e.seq, new Date(e.at).toISOString(), e.actor, e.printedName ?? '', e.action, e.target, JSON.stringify(e.details)]));
  return `\uFEFF${[line(CSV_COLUMNS), ...rows].join('\r\n')}\r\n`;
}

/**
 * `GET /api/v1/audit` and `/api/v1/audit.csv` (qa, admin): the trail newest first, filtered and
 * bounded, with the whole chain's verification. The file is streamed, never read whole; the
 * chain is re-verified only when the file changed since the last look.
 */
export const auditRoutes: ApiPlugin<{ audit?: AuditLog; registry: () => Registry }> = async (app, deps) => {
  let cached: { size: number; mtimeMs: number; result: VerifyResult } | undefined;
  const verified = async (file: string): Promise<z.infer<typeof verifiedSchema>> => {
    let result: VerifyResult | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      const stat = statSync(file, { throwIfNoEntry: false });
      if (stat && cached && cached.size === stat.size && cached.mtimeMs === stat.mtimeMs) result = cached.result;
      else {
        result = verifyAuditLog(file);
        if (stat) cached = { size: stat.size, mtimeMs: stat.mtimeMs, result };
      }
      // A line being appended right now reads as a torn tail: look again once it is written.
      if (!result.tornTail) break;
      cached = undefined;
      await new Promise((r) => setTimeout(r, 50));
    }
    return { ok: result!.ok, entries: result!.entries, ...(result!.problem ? { problem: result!.problem } : {}) };
  };
  const review = async (query: z.output<typeof auditQuerySchema>) => {
    if (!deps.audit) throw new HttpError(503, 'audit_unavailable', 'this service keeps no audit trail');
    const { limit, ...filter } = query;
    const [{ entries, matched }, chain] = await Promise.all([reviewAuditLog(deps.audit.file, filter, limit), verified(deps.audit.file)]);
    return { verified: chain, matched, truncated: matched > entries.length, entries };
  };
  app.get('/api/v1/audit', { schema: { querystring: auditQuerySchema, response: { 200: auditReviewSchema } }, config: { roles: REVIEWERS } }, (request) =>
    review(request.query),
  );
  app.get('/api/v1/audit.csv', { schema: { querystring: auditQuerySchema }, config: { roles: REVIEWERS } }, async (request, reply) => {
    const { entries, verified: chain } = await review(request.query);
    const stamp = new Date().toISOString().slice(0, 19).replace(/[-:]/g, '');
    return reply
      .type('text/csv; charset=utf-8')
      .header('Content-Disposition', `attachment; filename="audit-trail-${stamp}.csv"`)
      .header('X-Audit-Chain', chain.ok ? `verified ${chain.entries} entries` : 'does not verify')
      .send(auditCsv(entries));
  });
  // The printable trail (qa, admin): the chain's state, the filter, every entry with its action in words.
  app.get('/api/v1/audit.pdf', { schema: { querystring: pdfQuerySchema }, config: { roles: REVIEWERS } }, async (request, reply) => {
    const { lang, tz, ...query } = request.query;
    if (query.limit > AUDIT_PDF_MAX_LIMIT)
      throw new HttpError(400, 'invalid_request', `limit: at most ${AUDIT_PDF_MAX_LIMIT} entries in a PDF; ask for fewer, or download the CSV`);
    const reports = deps.registry().config.reports;
    const formatter = new Formatter(lang ?? reports.lang, tz ?? reports.timeZone);
    const { limit: _limit, ...filter } = query;
    const document = auditDocument(await review(query), filter, formatter);
    const stamp = new Date().toISOString().slice(0, 19).replace(/[-:]/g, '');
    return reply
      .type('application/pdf')
      .header('Content-Disposition', `attachment; filename="audit-trail-${stamp}.pdf"`)
      .send(await renderPdf(document, { title: `${document.title} — ${document.subtitle}`, lang: formatter.lang }));
  });
};
