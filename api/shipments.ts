import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Registry } from '../core/registry.js';
import type { InfluxClient } from '../storage/influx.js';
import type { AlertService } from '../alerts/service.js';
import type { ShipmentService } from '../shipments/service.js';
import { currentDisposition, effectiveCustody, stateOf, supersededBy, type ShipmentRecord } from '../shipments/book.js';
import {
  custodyInputSchema,
  custodyRecordSchema,
  dispositionInputSchema,
  dispositionSchema,
  linkInputSchema,
  preCoolingSchema,
  receiptSchema,
  shipmentCreateSchema,
  shipmentIdentitySchema,
  shipmentStates,
} from '../shipments/schema.js';
import type { ReportSubject } from '../reports/jobs.js';
import type { ReportPool } from '../reports/pool.js';
import { ANYONE, HANDLERS, REVIEWERS } from './auth.js';
import { idParams, instant } from './readings.js';
import { reportOptionsSchema, sendReport } from './reports.js';
import { parse, type ApiPlugin } from './zod.js';
import { bindReport, reportVersionSchema, signedSubject } from './signed-report.js';
import { receiverRoutes } from './receiver.js';
import type { StabilityService } from '../stability/service.js';
import { batchProfile } from '../stability/ledger.js';

export interface ShipmentRouteDeps {
  registry: () => Registry;
  influx: InfluxClient;
  alerts: AlertService;
  shipments: ShipmentService;
  /** Base URL receivers use, for verification links. */
  publicUrl: () => string;
  /** Where reports are built (worker threads). */
  reports: ReportPool;
  /** Batches' stability budgets: the shipment report carries its batch's ledger (absent: none). */
  stability?: StabilityService;
}

const listQuerySchema = z.object({ state: z.enum(shipmentStates).optional(), from: instant.optional(), to: instant.optional() });

const linkSchema = z.object({ linkId: z.string(), createdAt: z.number(), createdBy: z.string(), expiresAt: z.number(), revokedAt: z.number().nullable() });
/** A shipment as lists show it: identity, state, where it is, the QA decision. */
export const shipmentSummarySchema = shipmentIdentitySchema.extend({
  state: z.enum(shipmentStates),
  location: z.string().nullable(),
  startedAt: z.number().nullable(),
  deliveredAt: z.number().nullable(),
  disposition: dispositionSchema.nullable(),
  custody: z.array(custodyRecordSchema.extend({ supersededBy: z.string().optional() })),
  links: z.array(linkSchema),
  /** Transport steps: pre-cooling checks of the loadings, the receiver's acceptance or refusal. */
  preCooling: z.array(preCoolingSchema),
  receipt: receiptSchema.nullable(),
});
export type ShipmentSummary = z.infer<typeof shipmentSummarySchema>;
const one = z.object({ shipment: shipmentSummarySchema });
const list = z.object({ count: z.number(), shipments: z.array(shipmentSummarySchema) });
const custodyAnswer = z.object({ custody: custodyRecordSchema, shipment: shipmentSummarySchema });
const dispositionAnswer = z.object({ disposition: dispositionSchema });
export type ShipmentAnswer = z.infer<typeof one>;
export type ShipmentList = z.infer<typeof list>;
export type CustodyAnswer = z.infer<typeof custodyAnswer>;
export type DispositionAnswer = z.infer<typeof dispositionAnswer>;
const linkAnswer = z.object({ linkId: z.string(), url: z.string(), expiresAt: z.number() });

function shipmentSummary(record: ShipmentRecord): ShipmentSummary {
  const timeline = effectiveCustody(record);
  const corrected = supersededBy(record);
  const last = timeline.at(-1);
  return {
    ...record.shipment,
    state: stateOf(record),
    location: last?.event === 'delivered' ? null : (last?.locationId ?? null),
    startedAt: timeline[0]?.at ?? null,
    deliveredAt: timeline.find((c) => c.event === 'delivered')?.at ?? null,
    disposition: currentDisposition(record),
    custody: record.custody.map((c) => (corrected.has(c.id) ? { ...c, supersededBy: corrected.get(c.id)! } : c)),
    links: record.links.map(({ linkId, createdAt, createdBy, expiresAt, revokedAt }) => ({ linkId, createdAt, createdBy, expiresAt, revokedAt })),
    preCooling: record.preCooling,
    receipt: record.receipt,
  };
}

const verificationUrl = (publicUrl: string, token: string) => `${publicUrl.replace(/\/$/, '')}/verify/${token}`;
/** Who did it, for the shipment's facts: the caller's token and whether it came through the CLI. */
const actor = (request: FastifyRequest) => ({
  by: request.caller.tokenId,
  source: request.headers['user-agent']?.startsWith('coldchain-cli') ? ('cli' as const) : ('api' as const),
});

/** Electronic waybills, custody, QA disposition, receiver links and the full-chain report. */
export const shipmentRoutes: ApiPlugin<ShipmentRouteDeps> = async (app, deps) => {
  const { shipments } = deps;
  await app.register(receiverRoutes, { shipments });
  const reportOptions = reportOptionsSchema(deps.registry);
  /** The report's subject for the worker: the record, and only the alerts at places it has been (the report picks by time). */
  const report = (record: ShipmentRecord, ledger: 'full' | 'receiver' | 'none' = 'none'): ReportSubject => {
    const active = shipments.activeLink(record);
    const places = new Set(effectiveCustody(record).map((c) => c.locationId));
    const alerts = deps.alerts.book.list().filter((a) => places.has(a.locationId));
    // The batch's stability ledger, when its profile has stability data; a receiver sees other consignees' legs only as figures.
    const subject = ledger !== 'none' && deps.stability ? deps.stability.subject(record.shipment.batch) : undefined;
    const batch = subject && batchProfile(deps.registry(), subject.records)?.stability ? subject : undefined;
    return {
      kind: 'shipment',
      record,
      alerts,
      verification: active ? { url: verificationUrl(deps.publicUrl(), active.token), expiresAt: active.expiresAt } : null,
      ...(batch ? { stability: { ...batch, ...(ledger === 'receiver' ? { viewedBy: record.shipment.id } : {}) } } : {}),
    };
  };
  const [anyone, handlers, reviewers] = [{ roles: ANYONE }, { roles: HANDLERS }, { roles: REVIEWERS }];

  app.post('/api/v1/shipments', { config: handlers, schema: { body: shipmentCreateSchema, response: { 201: one } } }, async (request, reply) =>
    reply.code(201).send({ shipment: shipmentSummary(await shipments.create(request.body, actor(request))) }),
  );

  app.get('/api/v1/shipments', { config: anyone, schema: { querystring: listQuerySchema, response: { 200: list } } }, async (request) => {
    const { state, from, to } = request.query;
    const list = shipments.book
      .list()
      .map(shipmentSummary)
      .filter((s) => !state || s.state === state)
      // A shipment belongs to a period when its chain (creation to delivery, or to now) overlaps it.
      .filter(
        (s) =>
          (to === undefined || Math.min(s.createdAt, s.startedAt ?? s.createdAt) < to) &&
          (from === undefined || (s.deliveredAt ?? Number.POSITIVE_INFINITY) >= from),
      )
      .sort((a, b) => b.createdAt - a.createdAt);
    return { count: list.length, shipments: list };
  });

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
        disposition: await shipments.dispose(request.params.id, request.body, (record) => bindReport(deps.reports, report(record))),
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

  const linkParams = z.object({ id: z.string(), linkId: z.string() });
  app.delete(
    '/api/v1/shipments/:id/links/:linkId',
    { config: reviewers, schema: { params: linkParams, response: { 200: z.object({ link: linkSchema }) } } },
    async (request) => ({
      link: await shipments.revokeLink(request.params.id, request.params.linkId, request.caller.tokenId),
    }),
  );

  // ?version=signed: the report as the current disposition was signed on it (api/signed-report.ts).
  const shipmentReportQuery = z.intersection(reportOptions, reportVersionSchema);
  app.get('/api/v1/shipments/:id/report', { config: anyone, schema: { params: idParams, querystring: shipmentReportQuery } }, async (request, reply) => {
    const record = shipments.get(request.params.id);
    const signed = request.query.version === 'signed';
    return sendReport(
      reply,
      deps.reports,
      signed ? signedSubject(record, report(record)) : report(record, 'full'),
      request.query,
      `shipment-${request.params.id}${signed ? '-signed' : ''}`,
    );
  });

  /**
   * The receiver's view: no account, just an unguessable link that can be revoked and expires.
   * Anything wrong with the link is one and the same 404, so a probe learns nothing.
   */
  app.get('/verify/:token', { schema: { params: z.object({ token: z.string() }) } }, async (request, reply) => {
    void reply.header('Cache-Control', 'no-store').header('Referrer-Policy', 'no-referrer').header('X-Robots-Tag', 'noindex');
    const found = shipments.resolveLink(request.params.token);
    if (!found)
      return reply
        .code(404)
        .type('text/plain; charset=utf-8')
        .send('This verification link is not valid: it may have been revoked or have expired. Ask the shipper for a new one.\n');
    const query = request.query as { format?: string; lang?: string; tz?: string };
    const lang = query.lang ?? (/^zh\b/i.test(request.headers['accept-language'] ?? '') ? 'zh-CN' : undefined);
    const options = parse(reportOptions, { format: query.format ?? 'html', lang, tz: query.tz }, 'query');
    return sendReport(reply, deps.reports, report(found.record, 'receiver'), options, `shipment-${found.record.shipment.id}`);
  });
};
