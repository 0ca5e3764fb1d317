import { z } from 'zod';
import { auditPdf } from '../audit/review-document.js';
import { AUDIT_PDF_MAX_LIMIT, AuditReviewer, auditCsv, auditQuerySchema, auditReviewSchema, trailName } from '../audit/review.js';
import { locale, localeFields } from '../reports/options.js';

import { HttpError } from './http-error.js';
import { sendFile } from './reports.js';
import { type ApiPlugin, REVIEWERS, route } from './route.js';

/** The audit trail as audit/review.ts reads it, as JSON, CSV or PDF. */
export const auditRoutes: ApiPlugin = async (app, { audit, registry }) => {
  const reviewer = audit ? new AuditReviewer(audit.file) : undefined;
  const review = ({ limit, ...filter }: z.output<typeof auditQuerySchema>) => {
    if (!reviewer) throw new HttpError(503, 'audit_unavailable', 'this service keeps no audit trail');
    return reviewer.review(filter, limit);
  };
  app.get('/api/v1/audit', route(REVIEWERS, { querystring: auditQuerySchema, response: { 200: auditReviewSchema } }), (request) => review(request.query));
  app.get('/api/v1/audit.csv', route(REVIEWERS, { querystring: auditQuerySchema }), async (request, reply) => {
    const { entries, verified: chain } = await review(request.query);
    void reply.header('X-Audit-Chain', chain.ok ? `verified ${chain.entries} entries` : 'does not verify');
    return sendFile(reply, { body: auditCsv(entries), contentType: 'text/csv; charset=utf-8', extension: 'csv' }, 'csv', trailName());
  });
  app.get('/api/v1/audit.pdf', route(REVIEWERS, { querystring: auditQuerySchema.and(z.object(localeFields)) }), async (request, reply) => {
    const { lang, tz, ...query } = request.query;
    if (query.limit > AUDIT_PDF_MAX_LIMIT)
      throw new HttpError(400, 'invalid_request', `limit: at most ${AUDIT_PDF_MAX_LIMIT} entries in a PDF; ask for fewer, or download the CSV`);
    const { limit: _limit, ...filter } = query;
    const printed = locale(registry, { lang, tz });
    const body = await auditPdf(await review(query), filter, printed.lang, printed.timeZone);
    return sendFile(reply, { body, contentType: 'application/pdf', extension: 'pdf' }, 'pdf', trailName());
  });
};
