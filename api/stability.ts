import { z } from 'zod';
import { addBackInputSchema, addBackSchema, batchSummarySchema, ledgerSchema } from '../stability/schema.js';
import { ANYONE, REVIEWERS } from './auth.js';
import { listed, listOf } from './params.js';
import type { ApiPlugin } from './zod.js';

const batchParams = z.object({ batch: z.string().min(1).max(100) });
const batchList = listOf('batches', batchSummarySchema);
const addBackAnswer = z.object({ addBack: addBackSchema, ledger: ledgerSchema });
export type BatchList = z.infer<typeof batchList>;
export type AddBackAnswer = z.infer<typeof addBackAnswer>;

/**
 * Batches' stability budgets (stability/): the batches shipments name, a batch's ledger (built in
 * the report workers, so refused like a report: 429/503) and QA's add-backs after an
 * investigation (an e-signature naming it; audited).
 */
export const stabilityRoutes: ApiPlugin = async (app, { stability }) => {
  if (!stability) return;
  app.get('/api/v1/batches', { config: { roles: ANYONE }, schema: { response: { 200: batchList } } }, async () => listed('batches', stability.summaries()));
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
