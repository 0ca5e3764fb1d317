import { z } from 'zod';
import { StabilityError, type StabilityService } from '../stability/service.js';
import { addBackInputSchema, addBackSchema, ledgerSchema } from '../stability/schema.js';
import { ANYONE, REVIEWERS } from './auth.js';
import { HttpError } from './http-error.js';
import { reportRefusal } from './reports.js';
import type { ApiPlugin } from './zod.js';

const batchParams = z.object({ batch: z.string().min(1).max(100) });
const batchList = z.object({
  count: z.number(),
  batches: z.array(z.object({ batch: z.string(), product: z.string(), profileId: z.string(), shipments: z.array(z.string()) })),
});
const addBackAnswer = z.object({ addBack: addBackSchema, ledger: ledgerSchema });
export type BatchList = z.infer<typeof batchList>;
export type AddBackAnswer = z.infer<typeof addBackAnswer>;

const refusal = (err: unknown): never => {
  if (err instanceof StabilityError)
    throw new HttpError(err.status, err.status === 404 ? 'not_found' : err.status === 409 ? 'conflict' : 'bad_request', err.message);
  throw reportRefusal(err as Error);
};

/**
 * Batches' stability budgets (stability/): `GET /api/v1/batches` (batches named by shipments),
 * `GET /api/v1/batches/:batch/stability` (the ledger, built in the report workers: 429/503 like
 * a report), `POST /api/v1/batches/:batch/stability/add-backs` (qa, admin; an e-signature naming
 * the investigation; audited).
 */
export const stabilityRoutes: ApiPlugin<{ stability?: StabilityService }> = async (app, deps) => {
  const stability = deps.stability;
  if (!stability) return;
  app.get('/api/v1/batches', { config: { roles: ANYONE }, schema: { response: { 200: batchList } } }, async () => {
    const batches = stability.batches().map((batch) => {
      const { records } = stability.subject(batch);
      return { batch, product: records[0]!.shipment.product, profileId: records[0]!.shipment.profileId, shipments: records.map((r) => r.shipment.id) };
    });
    return { count: batches.length, batches };
  });
  app.get(
    '/api/v1/batches/:batch/stability',
    { config: { roles: ANYONE }, schema: { params: batchParams, response: { 200: ledgerSchema } } },
    async (request) => {
      try {
        return await stability.ledger(request.params.batch);
      } catch (err) {
        return refusal(err);
      }
    },
  );
  app.post(
    '/api/v1/batches/:batch/stability/add-backs',
    { config: { roles: REVIEWERS }, schema: { params: batchParams, body: addBackInputSchema, response: { 201: addBackAnswer } } },
    async (request, reply) => {
      try {
        return reply.code(201).send(await stability.addBack(request.params.batch, request.body));
      } catch (err) {
        return refusal(err);
      }
    },
  );
};
