import { z } from 'zod';
import { ANYONE, type ApiPlugin } from './route.js';

const componentHealthSchema = z.looseObject({ ready: z.boolean() });
export type ComponentHealth = z.infer<typeof componentHealthSchema>;
const healthSchema = z.object({ status: z.enum(['ok', 'unavailable']), components: z.record(z.string(), componentHealthSchema) });

/** `/healthz` is open, for load balancers and probes; `/metrics` is not: its figures tell device counts, reject reasons, backlog and the process's internals (issue 12, item 16). */
export const healthRoutes: ApiPlugin = async (app, { health, metrics }) => {
  app.get('/healthz', { schema: { response: { 200: healthSchema, 503: healthSchema } } }, async (_request, reply) => {
    const components = health();
    const ready = Object.values(components).every((c) => c.ready);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ok' : 'unavailable', components });
  });
  app.get('/metrics', { config: { roles: ANYONE } }, async (_request, reply) => reply.type(metrics.contentType).send(await metrics.metrics()));
};
