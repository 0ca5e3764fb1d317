import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { Registry } from '../core/registry.js';
import type { InfluxClient } from '../storage/influx.js';
import type { AlertService } from '../alerts/service.js';
import { SignatureError } from '../audit/e-signature.js';
import { ShipmentError, type ShipmentService } from '../shipments/service.js';
import { currentDisposition, effectiveCustody, stateOf, supersededBy, type ShipmentRecord } from '../shipments/book.js';
import { custodyInputSchema, dispositionInputSchema, linkInputSchema, shipmentCreateSchema, shipmentStates } from '../shipments/schema.js';
import { buildShipmentReport } from '../reports/shipment-report.js';
import { requireCaller } from './auth.js';
import { sendValidationError } from './errors.js';
import { instant } from './readings.js';
import { reportErrorReply, reportOptionsSchema, sendReport } from './reports.js';

export interface ShipmentRouteDeps {
  registry: () => Registry;
  influx: InfluxClient;
  alerts: AlertService;
  shipments: ShipmentService;
  /** Base URL receivers use, for verification links. */
  publicUrl: () => string;
}

const listQuerySchema = z.object({
  state: z.enum(shipmentStates).optional(),
  from: instant.optional(),
  to: instant.optional(),
});

/** A shipment as lists show it: identity, state, where it is, the QA decision. */
export function shipmentSummary(record: ShipmentRecord) {
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
  };
}

function failure(reply: FastifyReply, err: unknown) {
  if (err instanceof ShipmentError) return reply.code(err.status).send({ error: err.status === 404 ? 'not_found' : err.status === 409 ? 'conflict' : 'bad_request', message: err.message });
  if (err instanceof SignatureError) return reply.code(err.status).send({ error: err.status === 401 ? 'signature_refused' : 'forbidden', message: err.message });
  return reportErrorReply(reply, err);
}

export function verificationUrl(publicUrl: string, token: string): string {
  return `${publicUrl.replace(/\/$/, '')}/verify/${token}`;
}

export async function shipmentReport(deps: ShipmentRouteDeps, record: ShipmentRecord) {
  const active = deps.shipments.activeLink(record);
  return buildShipmentReport({ record, registry: deps.registry(), influx: deps.influx, alerts: deps.alerts.book.list(), verification: active ? { url: verificationUrl(deps.publicUrl(), active.token), expiresAt: active.expiresAt } : null });
}

/** Electronic waybills, custody, QA disposition, receiver links and the full-chain report. */
export function shipmentRoutes(app: FastifyInstance, deps: ShipmentRouteDeps): void {
  const anyone = requireCaller(deps.registry, ['admin', 'operator', 'qa', 'viewer']);
  const handlers = requireCaller(deps.registry, ['admin', 'operator', 'qa']);
  const reviewers = requireCaller(deps.registry, ['admin', 'qa']);
  const reportOptions = reportOptionsSchema(deps.registry);

  app.post('/api/v1/shipments', async (request, reply) => {
    const caller = handlers(request, reply);
    if (!caller) return reply;
    const body = shipmentCreateSchema.safeParse(request.body ?? {});
    if (!body.success) return sendValidationError(reply, body.error, 'body');
    try {
      const record = await deps.shipments.create(body.data, { by: caller.tokenId, source: request.headers['user-agent']?.startsWith('coldchain-cli') ? 'cli' : 'api' });
      return reply.code(201).send({ shipment: shipmentSummary(record) });
    } catch (err) {
      return failure(reply, err);
    }
  });

  app.get<{ Querystring: Record<string, string> }>('/api/v1/shipments', async (request, reply) => {
    if (!anyone(request, reply)) return reply;
    const query = listQuerySchema.safeParse(request.query);
    if (!query.success) return sendValidationError(reply, query.error, 'query');
    const { state, from, to } = query.data;
    const shipments = deps.shipments.book
      .list()
      .map(shipmentSummary)
      .filter((s) => !state || s.state === state)
      // A shipment belongs to a period when its chain (creation to delivery, or to now) overlaps it.
      .filter((s) => (to === undefined || Math.min(s.createdAt, s.startedAt ?? s.createdAt) < to) && (from === undefined || (s.deliveredAt ?? Number.POSITIVE_INFINITY) >= from))
      .sort((a, b) => b.createdAt - a.createdAt);
    return { count: shipments.length, shipments };
  });

  app.get<{ Params: { id: string } }>('/api/v1/shipments/:id', async (request, reply) => {
    if (!anyone(request, reply)) return reply;
    try {
      return { shipment: shipmentSummary(deps.shipments.get(request.params.id)) };
    } catch (err) {
      return failure(reply, err);
    }
  });

  app.post<{ Params: { id: string } }>('/api/v1/shipments/:id/custody', async (request, reply) => {
    const caller = handlers(request, reply);
    if (!caller) return reply;
    const body = custodyInputSchema.safeParse(request.body ?? {});
    if (!body.success) return sendValidationError(reply, body.error, 'body');
    try {
      const custody = await deps.shipments.addCustody(request.params.id, body.data, { by: caller.tokenId, source: request.headers['user-agent']?.startsWith('coldchain-cli') ? 'cli' : 'api' });
      return reply.code(201).send({ custody, shipment: shipmentSummary(deps.shipments.get(request.params.id)) });
    } catch (err) {
      return failure(reply, err);
    }
  });

  app.post<{ Params: { id: string } }>('/api/v1/shipments/:id/disposition', async (request, reply) => {
    if (!handlers(request, reply)) return reply;
    const body = dispositionInputSchema.safeParse(request.body ?? {});
    if (!body.success) return sendValidationError(reply, body.error, 'body');
    try {
      return reply.code(201).send({ disposition: await deps.shipments.dispose(request.params.id, body.data) });
    } catch (err) {
      return failure(reply, err);
    }
  });

  app.post<{ Params: { id: string } }>('/api/v1/shipments/:id/links', async (request, reply) => {
    const caller = reviewers(request, reply);
    if (!caller) return reply;
    const body = linkInputSchema.safeParse(request.body ?? {});
    if (!body.success) return sendValidationError(reply, body.error, 'body');
    try {
      const { link, token } = await deps.shipments.createLink(request.params.id, body.data.validDays, caller.tokenId);
      return reply.code(201).send({ linkId: link.linkId, url: verificationUrl(deps.publicUrl(), token), expiresAt: link.expiresAt });
    } catch (err) {
      return failure(reply, err);
    }
  });

  app.delete<{ Params: { id: string; linkId: string } }>('/api/v1/shipments/:id/links/:linkId', async (request, reply) => {
    const caller = reviewers(request, reply);
    if (!caller) return reply;
    try {
      return { link: await deps.shipments.revokeLink(request.params.id, request.params.linkId, caller.tokenId) };
    } catch (err) {
      return failure(reply, err);
    }
  });

  app.get<{ Params: { id: string }; Querystring: Record<string, string> }>('/api/v1/shipments/:id/report', async (request, reply) => {
    if (!anyone(request, reply)) return reply;
    const options = reportOptions.safeParse(request.query);
    if (!options.success) return sendValidationError(reply, options.error, 'query');
    try {
      const report = await shipmentReport(deps, deps.shipments.get(request.params.id));
      return await sendReport(reply, report, options.data, `shipment-${request.params.id}`);
    } catch (err) {
      return failure(reply, err);
    }
  });

  /**
   * The receiver's view: no account, just an unguessable link that can be revoked and expires.
   * Anything wrong with the link is one and the same 404, so a probe learns nothing.
   */
  app.get<{ Params: { token: string }; Querystring: Record<string, string> }>('/verify/:token', async (request, reply) => {
    void reply.header('Cache-Control', 'no-store').header('Referrer-Policy', 'no-referrer').header('X-Robots-Tag', 'noindex');
    const found = deps.shipments.resolveLink(request.params.token);
    if (!found) return reply.code(404).type('text/plain; charset=utf-8').send('This verification link is not valid: it may have been revoked or have expired. Ask the shipper for a new one.\n');
    const lang = request.query.lang ?? (/^zh\b/i.test(request.headers['accept-language'] ?? '') ? 'zh-CN' : undefined);
    const options = reportOptions.safeParse({ format: request.query.format ?? 'html', lang, tz: request.query.tz });
    if (!options.success) return sendValidationError(reply, options.error, 'query');
    try {
      const report = await shipmentReport(deps, found.record);
      return await sendReport(reply, report, options.data, `shipment-${found.record.shipment.id}`);
    } catch (err) {
      return failure(reply, err);
    }
  });
}
