import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { custodyInputSchema, dispositionInputSchema, linkInputSchema, shipmentCreateSchema } from '../shipments/schema.js';
import {
  custodyAnswerSchema as custodyAnswer,
  dispositionAnswerSchema as dispositionAnswer,
  linkAnswerSchema,
  linkSummarySchema,
  shipmentAnswerSchema as one,
  shipmentFilterSchema,
  shipmentSummaries,
  shipmentSummary,
  shipmentSummarySchema,
} from '../shipments/summary.js';
import { epcisQuerySchema, locale, shipmentReportQuerySchema } from '../reports/options.js';
import { bindReport, epcisSubject, reportSubject, shipmentSubject, verificationUrl } from '../reports/shipment-subject.js';

import { sendReport } from './reports.js';
import { ANYONE, type ApiPlugin, HANDLERS, idParams, listed, listOf, REVIEWERS, route } from './route.js';

export type { CustodyAnswer, DispositionAnswer, ShipmentAnswer, ShipmentSummary } from '../shipments/summary.js';
/** The answer of GET /api/v1/shipments/:id/report?format=json (built in a report worker, not through a route schema). */
export type { ShipmentReport } from '../reports/schema.js';

const list = listOf('shipments', shipmentSummarySchema);
export type ShipmentList = z.infer<typeof list>;
const linkParams = z.object({ id: z.string(), linkId: z.string() });

/** Who did it, for the shipment's facts: the caller's token and whether it came through the CLI. */
const actor = (request: FastifyRequest) => ({
  by: request.caller.tokenId,
  source: request.headers['user-agent']?.startsWith('coldchain-cli') ? ('cli' as const) : ('api' as const),
});

/** Electronic waybills, custody, QA disposition, receiver links, the full-chain report and its EPCIS document (the receiver's side: receiver.ts). */
export const shipmentRoutes: ApiPlugin = async (app, deps) => {
  const { shipments, reports } = deps;

  app.post('/api/v1/shipments', route(HANDLERS, { body: shipmentCreateSchema, response: { 201: one } }), async (request, reply) =>
    reply.code(201).send({ shipment: shipmentSummary(await shipments.create(request.body, actor(request))) }),
  );

  app.get('/api/v1/shipments', route(ANYONE, { querystring: shipmentFilterSchema, response: { 200: list } }), async (request) =>
    listed('shipments', shipmentSummaries(shipments.book.list(), request.query)),
  );

  app.get('/api/v1/shipments/:id', route(ANYONE, { params: idParams, response: { 200: one } }), async (request) => ({
    shipment: shipmentSummary(shipments.get(request.params.id)),
  }));

  app.post(
    '/api/v1/shipments/:id/custody',
    route(HANDLERS, { params: idParams, body: custodyInputSchema, response: { 201: custodyAnswer } }),
    async (request, reply) => {
      const custody = await shipments.addCustody(request.params.id, request.body, actor(request));
      return reply.code(201).send({ custody, shipment: shipmentSummary(shipments.get(request.params.id)) });
    },
  );

  app.post(
    '/api/v1/shipments/:id/disposition',
    route(HANDLERS, { params: idParams, body: dispositionInputSchema, response: { 201: dispositionAnswer } }),
    async (request, reply) =>
      reply.code(201).send({
        // Signed on the report as it stands now: its digest and coverage are kept with the signature.
        disposition: await shipments.dispose(request.params.id, request.body, (record) => bindReport(reports, shipmentSubject(deps, record))),
      }),
  );

  app.post(
    '/api/v1/shipments/:id/links',
    route(REVIEWERS, { params: idParams, body: linkInputSchema, response: { 201: linkAnswerSchema } }),
    async (request, reply) => {
      const { link, token } = await shipments.createLink(request.params.id, request.body.validDays, request.caller.tokenId);
      return reply.code(201).send({ linkId: link.linkId, url: verificationUrl(deps.publicUrl(), token), expiresAt: link.expiresAt });
    },
  );

  app.delete(
    '/api/v1/shipments/:id/links/:linkId',
    route(REVIEWERS, { params: linkParams, response: { 200: z.object({ link: linkSummarySchema }) } }),
    async (request) => ({
      link: await shipments.revokeLink(request.params.id, request.params.linkId, request.caller.tokenId),
    }),
  );

  app.get(
    '/api/v1/shipments/:id/report',
    route(ANYONE, { params: idParams, querystring: shipmentReportQuerySchema(deps.registry) }),
    async (request, reply) => {
      const { id } = request.params;
      const { version } = request.query;
      return sendReport(
        reply,
        reports,
        reportSubject(deps, shipments.get(id), version),
        request.query,
        `shipment-${id}${version === 'signed' ? '-signed' : ''}`,
      );
    },
  );

  // The same data as the shipment report, so the same roles.
  app.get('/api/v1/shipments/:id/epcis', route(ANYONE, { params: idParams, querystring: epcisQuerySchema }), async (request, reply) => {
    const record = shipments.get(request.params.id);
    const options = { format: 'json' as const, ...locale(deps.registry, { tz: request.query.tz }) };
    return sendReport(reply, reports, epcisSubject(deps, record), options, `epcis-${record.shipment.id}`);
  });
};
