import { z } from 'zod';
import { auditPdf } from '../audit/review-document.js';
import { AuditReviewer, auditCsv, auditReviewSchema } from '../audit/review.js';
import { REVIEWERS } from './auth.js';
import { HttpError } from './http-error.js';
import { instant } from './params.js';
import { locale, localeFields, sendFile } from './reports.js';
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

/** `audit-trail-20261202T034000`: a download named after the moment it was made. */
const trailName = () => `audit-trail-${new Date().toISOString().slice(0, 19).replace(/[-:]/g, '')}`;

/** `GET /api/v1/audit`, `/api/v1/audit.csv` and `/api/v1/audit.pdf` (qa, admin): the trail as audit/review.ts reads it. */
export const auditRoutes: ApiPlugin = async (app, { audit, registry }) => {
  const reviewer = audit ? new AuditReviewer(audit.file) : undefined;
  const review = ({ limit, ...filter }: z.output<typeof auditQuerySchema>) => {
    if (!reviewer) throw new HttpError(503, 'audit_unavailable', 'this service keeps no audit trail');
    return reviewer.review(filter, limit);
  };
  const config = { roles: REVIEWERS };
  app.get('/api/v1/audit', { schema: { querystring: auditQuerySchema, response: { 200: auditReviewSchema } }, config }, (request) => review(request.query));
  app.get('/api/v1/audit.csv', { schema: { querystring: auditQuerySchema }, config }, async (request, reply) => {
    const { entries, verified: chain } = await review(request.query);
    void reply.header('X-Audit-Chain', chain.ok ? `verified ${chain.entries} entries` : 'does not verify');
    return sendFile(reply, { body: auditCsv(entries), contentType: 'text/csv; charset=utf-8', extension: 'csv' }, 'csv', trailName());
  });
  app.get('/api/v1/audit.pdf', { schema: { querystring: auditQuerySchema.and(z.object(localeFields)) }, config }, async (request, reply) => {
    const { lang, tz, ...query } = request.query;
    if (query.limit > AUDIT_PDF_MAX_LIMIT)
      throw new HttpError(400, 'invalid_request', `limit: at most ${AUDIT_PDF_MAX_LIMIT} entries in a PDF; ask for fewer, or download the CSV`);
    const { limit: _limit, ...filter } = query;
    const printed = locale(registry, { lang, tz });
    const body = await auditPdf(await review(query), filter, printed.lang, printed.timeZone);
    return sendFile(reply, { body, contentType: 'application/pdf', extension: 'pdf' }, 'pdf', trailName());
  });
};
