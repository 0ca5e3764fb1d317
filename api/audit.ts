import { z } from 'zod';
import { auditPdf } from '../audit/review-document.js';
import { AuditReviewer, checkPdfLimit, auditCsv, auditQuerySchema, auditReviewSchema, trailName } from '../audit/review.js';
import { locale, localeFields } from '../reports/options.js';
import { Refusal } from '../core/refusal.js';
import { sendFile } from './reports.js';
import { type ApiPlugin, REVIEWERS, route } from './route.js';

/** The audit trail as audit/review.ts reads it, as JSON, CSV or PDF. */
export const auditRoutes: ApiPlugin = async (app, { audit, registry }) => {
  const reviewer = audit ? new AuditReviewer(audit.file) : undefined;
  const review = ({ limit, ...filter }: z.output<typeof auditQuerySchema>) => {
    if (!reviewer) throw new Refusal('this service keeps no audit trail', 503, 'audit_unavailable');
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
    checkPdfLimit(query.limit);
    const { limit: _limit, ...filter } = query;
    const printed = locale(registry, { lang, tz });
    const body = await auditPdf(await review(query), filter, printed.lang, printed.timeZone);
    return sendFile(reply, { body, contentType: 'application/pdf', extension: 'pdf' }, 'pdf', trailName());
  });
};
