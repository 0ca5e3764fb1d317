import { z } from 'zod';
import type { StabilityService } from '../stability/service.js';
import { addBackInputSchema, addBackSchema, batchSummarySchema, ledgerSchema } from '../stability/schema.js';
import { ANYONE, REVIEWERS } from './auth.js';
import { listOf } from './params.js';
import type { ApiPlugin } from './zod.js';

const batchParams = z.object({ batch: z.string().min(1).max(100) });
const batchList = listOf('batches', batchSummarySchema);
const addBackAnswer = z.object({ addBack: addBackSchema, ledger: ledgerSchema });
export type BatchList = z.infer<typeof batchList>;
export type AddBackAnswer = z.infer<typeof addBackAnswer>;

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
    const batches = stability.summaries();
    return { count: batches.length, batches };
  });
  app.get(
    '/api/v1/batches/:batch/stability',
    { config: { roles: ANYONE }, schema: { params: batchParams, response: { 200: ledgerSchema } } },
    async (request) => stability.ledger(request.params.batch),
  );
  app.post(
    '/api/v1/batches/:batch/stability/add-backs',
    { config: { roles: REVIEWERS }, schema: { params: batchParams, body: addBackInputSchema, response: { 201: addBackAnswer } } },
    async (request, reply) => reply.code(201).send(await stability.addBack(request.params.batch, request.body)),
  );
};
