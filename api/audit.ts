import { z } from 'zod';
import { auditDocument } from '../audit/review-document.js';
import { AuditReviewer, auditCsv, auditReviewSchema } from '../audit/review.js';
import { timeZoneSchema } from '../core/config/schema.js';
import { Formatter } from '../reports/render/i18n.js';
import { renderPdf } from '../reports/render/pdf.js';
import { reportLanguages } from '../reports/schema.js';
import { REVIEWERS } from './auth.js';
import { HttpError } from './http-error.js';
import { instant } from './params.js';
import type { ApiPlugin } from './zod.js';

const AUDIT_DEFAULT_LIMIT = 200;
const AUDIT_MAX_LIMIT = 5000;
/** A PDF is laid out on the main thread: a page count a reviewer prints, not a bulk export (the CSV is). */
const AUDIT_PDF_MAX_LIMIT = 1000;

const text = z.string().min(1).max(200);

const auditQuerySchema = z
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
const pdfQuerySchema = auditQuerySchema.and(z.object({ lang: z.enum(reportLanguages).optional(), tz: timeZoneSchema.optional() }));

/** `audit-trail-20261202T034000.csv`: a download named after the moment it was made. */
const fileName = (extension: string) => `attachment; filename="audit-trail-${new Date().toISOString().slice(0, 19).replace(/[-:]/g, '')}.${extension}"`;

/** `GET /api/v1/audit`, `/api/v1/audit.csv` and `/api/v1/audit.pdf` (qa, admin): the trail as audit/review.ts reads it. */
export const auditRoutes: ApiPlugin = async (app, deps) => {
  const reviewer = deps.audit ? new AuditReviewer(deps.audit.file) : undefined;
  const review = ({ limit, ...filter }: z.output<typeof auditQuerySchema>) => {
    if (!reviewer) throw new HttpError(503, 'audit_unavailable', 'this service keeps no audit trail');
    return reviewer.review(filter, limit);
  };
  const config = { roles: REVIEWERS };
  app.get('/api/v1/audit', { schema: { querystring: auditQuerySchema, response: { 200: auditReviewSchema } }, config }, (request) => review(request.query));
  app.get('/api/v1/audit.csv', { schema: { querystring: auditQuerySchema }, config }, async (request, reply) => {
    const { entries, verified: chain } = await review(request.query);
    return reply
      .type('text/csv; charset=utf-8')
      .header('Content-Disposition', fileName('csv'))
      .header('X-Audit-Chain', chain.ok ? `verified ${chain.entries} entries` : 'does not verify')
      .send(auditCsv(entries));
  });
  // The printable trail: the chain's state, the filter, every entry with its action in words.
  app.get('/api/v1/audit.pdf', { schema: { querystring: pdfQuerySchema }, config }, async (request, reply) => {
    const { lang, tz, ...query } = request.query;
    if (query.limit > AUDIT_PDF_MAX_LIMIT)
      throw new HttpError(400, 'invalid_request', `limit: at most ${AUDIT_PDF_MAX_LIMIT} entries in a PDF; ask for fewer, or download the CSV`);
    const reports = deps.registry().config.reports;
    const formatter = new Formatter(lang ?? reports.lang, tz ?? reports.timeZone);
    const { limit: _limit, ...filter } = query;
    const document = auditDocument(await review(query), filter, formatter);
    return reply
      .type('application/pdf')
      .header('Content-Disposition', fileName('pdf'))
      .send(await renderPdf(document, { title: `${document.title} — ${document.subtitle}`, lang: formatter.lang }));
  });
};
