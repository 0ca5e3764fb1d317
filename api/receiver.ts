import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { receiptInputSchema } from '../shipments/schema.js';
import { INVALID_LINK } from '../shipments/service.js';
import { receiptFromForm, receiveFormPage, type ReceiptPage } from '../shipments/receipt-page.js';
import { shipmentSubject } from '../reports/shipment-subject.js';
import { reportOptionsSchema } from '../reports/options.js';
import { sendReport } from './reports.js';
import { parse, type ApiPlugin } from './zod.js';

/** A receipt is a few short fields; a form or JSON body beyond this is not one (and is not parsed). */
const MAX_RECEIPT_BYTES = 4096;

const tokenParams = z.object({ token: z.string().max(64) });

/** The link is a secret: its pages are not kept, indexed or passed on. */
const unlisted = (reply: FastifyReply) => reply.header('Cache-Control', 'no-store').header('Referrer-Policy', 'no-referrer').header('X-Robots-Tag', 'noindex');
const html = (reply: FastifyReply, { status, html }: ReceiptPage) => unlisted(reply).code(status).type('text/html; charset=utf-8').send(html);

/**
 * The receiver's side of a shipment: no account, the link is the only authority (it can be revoked
 * and expires), so input is bounded, and anything wrong with the link is one and the same 404: a
 * probe learns nothing.
 */
export const receiverRoutes: ApiPlugin = async (app, deps) => {
  const { shipments } = deps;
  const reportOptions = reportOptionsSchema(deps.registry);
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: MAX_RECEIPT_BYTES }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  app.get('/verify/:token', { schema: { params: z.object({ token: z.string() }) } }, async (request, reply) => {
    unlisted(reply);
    const found = shipments.resolveLink(request.params.token);
    if (!found) return reply.code(404).type('text/plain; charset=utf-8').send(`${INVALID_LINK}\n`);
    const query = request.query as { format?: string; lang?: string; tz?: string };
    const lang = query.lang ?? (/^zh\b/i.test(request.headers['accept-language'] ?? '') ? 'zh-CN' : undefined);
    const options = parse(reportOptions, { format: query.format ?? 'html', lang, tz: query.tz }, 'query');
    return sendReport(reply, deps.reports, shipmentSubject(deps, found.record, 'receiver'), options, `shipment-${found.record.shipment.id}`);
  });

  app.get('/verify/:token/receive', { schema: { params: tokenParams } }, async (request, reply) =>
    html(reply, receiveFormPage(shipments, request.params.token)),
  );

  app.post('/verify/:token/receipt', { bodyLimit: MAX_RECEIPT_BYTES, schema: { params: tokenParams } }, async (request, reply) => {
    const { token } = request.params;
    unlisted(reply);
    if ((request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded'))
      return html(reply, await receiptFromForm(shipments, token, request.body ?? {}));
    const { record, receipt } = await shipments.receive(token, parse(receiptInputSchema, request.body ?? {}, 'body'));
    return reply.code(201).send({ shipmentId: record.shipment.id, receipt });
  });
};
