import { z } from 'zod';
import { addBackInputSchema, addBackSchema, batchSummarySchema, ledgerSchema } from '../stability/schema.js';
import { ANYONE, type ApiPlugin, listed, listOf, REVIEWERS, route } from './route.js';

const batchParams = z.object({ batch: z.string().min(1).max(100) });
const batchList = listOf('batches', batchSummarySchema);
const addBackAnswer = z.object({ addBack: addBackSchema, ledger: ledgerSchema });
export type BatchList = z.infer<typeof batchList>;
export type AddBackAnswer = z.infer<typeof addBackAnswer>;

/** Batches' stability budgets (stability/): a ledger is built in the report workers (so refused like a report); an add-back is e-signed and audited. */
export const stabilityRoutes: ApiPlugin = async (app, { stability }) => {
  if (!stability) return;
  app.get('/api/v1/batches', route(ANYONE, { response: { 200: batchList } }), async () => listed('batches', stability.summaries()));
  app.get('/api/v1/batches/:batch/stability', route(ANYONE, { params: batchParams, response: { 200: ledgerSchema } }), async (request) =>
    stability.ledger(request.params.batch),
  );
  app.post(
    '/api/v1/batches/:batch/stability/add-backs',
    route(REVIEWERS, { params: batchParams, body: addBackInputSchema, response: { 201: addBackAnswer } }),
    async (request, reply) => reply.code(201).send(await stability.addBack(request.params.batch, request.body)),
  );
};
