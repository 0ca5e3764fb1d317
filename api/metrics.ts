import { z } from 'zod';
import type { ApiPlugin } from './zod.js';
import { ANYONE } from './auth.js';

const componentHealthSchema = z.looseObject({ ready: z.boolean() });
export type ComponentHealth = z.infer<typeof componentHealthSchema>;
const healthSchema = z.object({ status: z.enum(['ok', 'unavailable']), components: z.record(z.string(), componentHealthSchema) });

/**
 * `/healthz` (200 when every component is ready, else 503 with each one's state; open, for load
 * balancers and probes) and `/metrics` (any API token or session, as `Authorization: Bearer`;
 * Prometheus: a viewer token from `coldchain token create --role viewer` in the scrape job's
 * `authorization: { credentials_file: … }`). The figures tell device counts, reject reasons and
 * backlog, and the process's internals: not for anyone on the network (issue 12, item 16).
 */
export const healthRoutes: ApiPlugin = async (app, { health, metrics }) => {
  app.get('/healthz', { schema: { response: { 200: healthSchema, 503: healthSchema } } }, async (_request, reply) => {
    const components = health();
    const ready = Object.values(components).every((c) => c.ready);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ok' : 'unavailable', components });
  });
  app.get('/metrics', { config: { roles: ANYONE } }, async (_request, reply) => reply.type(metrics.contentType).send(await metrics.metrics()));
};
