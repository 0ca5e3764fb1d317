import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { timeZoneSchema } from '../core/config/schema.js';
import { INVALID_LINK } from '../shipments/service.js';
import {
  custodyInputSchema,
  custodyRecordSchema,
  dispositionInputSchema,
  dispositionSchema,
  linkInputSchema,
  shipmentCreateSchema,
  shipmentStates,
} from '../shipments/schema.js';
import { linkSummarySchema, shipmentSummaries, shipmentSummary, shipmentSummarySchema } from '../shipments/summary.js';
import { alertsAlong, bindReport, shipmentSubject, signedSubject, verificationUrl } from '../reports/shipment-subject.js';
import { ANYONE, HANDLERS, REVIEWERS } from './auth.js';
import { idParams, instant, listed, listOf } from './params.js';
import { reportOptionsSchema, sendReport } from './reports.js';
import { parse, type ApiPlugin } from './zod.js';
import { receiverRoutes } from './receiver.js';

export type { ShipmentSummary } from '../shipments/summary.js';

const listQuerySchema = z.object({ state: z.enum(shipmentStates).optional(), from: instant.optional(), to: instant.optional() });
const one = z.object({ shipment: shipmentSummarySchema });
const list = listOf('shipments', shipmentSummarySchema);
const custodyAnswer = z.object({ custody: custodyRecordSchema, shipment: shipmentSummarySchema });
const dispositionAnswer = z.object({ disposition: dispositionSchema });
export type ShipmentAnswer = z.infer<typeof one>;
export type ShipmentList = z.infer<typeof list>;
export type CustodyAnswer = z.infer<typeof custodyAnswer>;
export type DispositionAnswer = z.infer<typeof dispositionAnswer>;
const linkAnswer = z.object({ linkId: z.string(), url: z.string(), expiresAt: z.number() });
const linkParams = z.object({ id: z.string(), linkId: z.string() });
/** ?tz= of an EPCIS document's eventTimeZoneOffset (default: reports.timeZone). */
const epcisQuery = z.object({ tz: timeZoneSchema.optional() });
/** ?version=current (default) or signed: the report as the current disposition was signed on it. */
const reportVersionSchema = z.object({ version: z.enum(['current', 'signed']).default('current') });

/** Who did it, for the shipment's facts: the caller's token and whether it came through the CLI. */
const actor = (request: FastifyRequest) => ({
  by: request.caller.tokenId,
  source: request.headers['user-agent']?.startsWith('coldchain-cli') ? ('cli' as const) : ('api' as const),
});

/** Electronic waybills, custody, QA disposition, receiver links, the full-chain report and its EPCIS document. */
export const shipmentRoutes: ApiPlugin = async (app, deps) => {
  const { shipments } = deps;
  await app.register(receiverRoutes, { shipments });
  const reportOptions = reportOptionsSchema(deps.registry);
  const [anyone, handlers, reviewers] = [{ roles: ANYONE }, { roles: HANDLERS }, { roles: REVIEWERS }];

  app.post('/api/v1/shipments', { config: handlers, schema: { body: shipmentCreateSchema, response: { 201: one } } }, async (request, reply) =>
    reply.code(201).send({ shipment: shipmentSummary(await shipments.create(request.body, actor(request))) }),
  );

  app.get('/api/v1/shipments', { config: anyone, schema: { querystring: listQuerySchema, response: { 200: list } } }, async (request) =>
    listed('shipments', shipmentSummaries(shipments.book.list(), request.query)),
  );

  app.get('/api/v1/shipments/:id', { config: anyone, schema: { params: idParams, response: { 200: one } } }, async (request) => ({
    shipment: shipmentSummary(shipments.get(request.params.id)),
  }));

  app.post(
    '/api/v1/shipments/:id/custody',
    { config: handlers, schema: { params: idParams, body: custodyInputSchema, response: { 201: custodyAnswer } } },
    async (request, reply) => {
      const custody = await shipments.addCustody(request.params.id, request.body, actor(request));
      return reply.code(201).send({ custody, shipment: shipmentSummary(shipments.get(request.params.id)) });
    },
  );

  app.post(
    '/api/v1/shipments/:id/disposition',
    { config: handlers, schema: { params: idParams, body: dispositionInputSchema, response: { 201: dispositionAnswer } } },
    async (request, reply) =>
      reply.code(201).send({
        // Signed on the report as it stands now: its digest and coverage are kept with the signature.
        disposition: await shipments.dispose(request.params.id, request.body, (record) => bindReport(deps.reports, shipmentSubject(deps, record))),
      }),
  );

  app.post(
    '/api/v1/shipments/:id/links',
    { config: reviewers, schema: { params: idParams, body: linkInputSchema, response: { 201: linkAnswer } } },
    async (request, reply) => {
      const { link, token } = await shipments.createLink(request.params.id, request.body.validDays, request.caller.tokenId);
      return reply.code(201).send({ linkId: link.linkId, url: verificationUrl(deps.publicUrl(), token), expiresAt: link.expiresAt });
    },
  );

  app.delete(
    '/api/v1/shipments/:id/links/:linkId',
    { config: reviewers, schema: { params: linkParams, response: { 200: z.object({ link: linkSummarySchema }) } } },
    async (request) => ({
      link: await shipments.revokeLink(request.params.id, request.params.linkId, request.caller.tokenId),
    }),
  );

  const shipmentReportQuery = z.intersection(reportOptions, reportVersionSchema);
  app.get('/api/v1/shipments/:id/report', { config: anyone, schema: { params: idParams, querystring: shipmentReportQuery } }, async (request, reply) => {
    const record = shipments.get(request.params.id);
    const signed = request.query.version === 'signed';
    const subject = signed ? signedSubject(record, shipmentSubject(deps, record)) : shipmentSubject(deps, record, 'full');
    return sendReport(reply, deps.reports, subject, request.query, `shipment-${request.params.id}${signed ? '-signed' : ''}`);
  });

  /**
   * The shipment as a GS1 EPCIS 2.0 JSON-LD document for trading partners (epcis/): the same data
   * as the shipment report, so the same roles, built the same way with the same limits and refusals.
   */
  app.get('/api/v1/shipments/:id/epcis', { config: anyone, schema: { params: idParams, querystring: epcisQuery } }, async (request, reply) => {
    const record = shipments.get(request.params.id);
    const alerts = alertsAlong(record, deps.alerts.book.list());
    const { lang, timeZone } = deps.registry().config.reports;
    const subject = { kind: 'shipment' as const, record, alerts, verification: null, epcis: { publicUrl: deps.publicUrl() } };
    return sendReport(reply, deps.reports, subject, { format: 'json', lang, timeZone: request.query.tz ?? timeZone }, `epcis-${record.shipment.id}`);
  });

  /**
   * The receiver's view: no account, just an unguessable link that can be revoked and expires.
   * Anything wrong with the link is one and the same 404, so a probe learns nothing.
   */
  app.get('/verify/:token', { schema: { params: z.object({ token: z.string() }) } }, async (request, reply) => {
    void reply.header('Cache-Control', 'no-store').header('Referrer-Policy', 'no-referrer').header('X-Robots-Tag', 'noindex');
    const found = shipments.resolveLink(request.params.token);
    if (!found) return reply.code(404).type('text/plain; charset=utf-8').send(`${INVALID_LINK}\n`);
    const query = request.query as { format?: string; lang?: string; tz?: string };
    const lang = query.lang ?? (/^zh\b/i.test(request.headers['accept-language'] ?? '') ? 'zh-CN' : undefined);
    const options = parse(reportOptions, { format: query.format ?? 'html', lang, tz: query.tz }, 'query');
    return sendReport(reply, deps.reports, shipmentSubject(deps, found.record, 'receiver'), options, `shipment-${found.record.shipment.id}`);
  });
};
