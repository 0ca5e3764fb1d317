import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry as PromRegistry } from 'prom-client';
import type { Logger } from '../core/logger.js';
import type { Registry } from '../core/registry.js';
import { throttleFor } from '../core/throttle.js';
import type { InfluxClient } from '../storage/influx.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { ShipmentService } from '../shipments/service.js';
import type { AlertService } from '../alerts/service.js';
import type { IngestPipeline } from '../ingestor/pipeline.js';
import { authorize } from './auth.js';
import { errorHandler } from './http-error.js';
import { serializerCompiler, validatorCompiler, type ApiPlugin, type ZodTypeProvider } from './zod.js';
import { healthRoutes, type ComponentHealth } from './metrics.js';
import { SessionStore, sessionRoutes } from './sessions.js';
import { readingsRoutes } from './readings.js';
import { rejectsRoutes } from './rejects.js';
import { alertRoutes } from './alerts.js';
import { alarmPerformanceRoutes } from './alarm-performance.js';
import { alarmTestRoutes } from './alarm-test.js';
import { streamRoutes } from './stream.js';
import { shipmentRoutes } from './shipments.js';
import { reportRoutes } from './reports.js';
import { overviewRoutes } from './overview.js';
import { boardRoutes } from './board.js';
import { securityHeaders } from './security-headers.js';

export type { ComponentHealth };

export interface ApiDeps {
  log: Logger;
  registry: () => Registry;
  influx: InfluxClient;
  metrics: PromRegistry;
  health: () => Record<string, ComponentHealth>;
  pipeline: IngestPipeline;
  alerts: AlertService;
  shipments: ShipmentService;
  /** Base URL receivers use (verification links). */
  publicUrl: () => string;
  audit?: AuditLog;
}

/** The HTTP API: one plugin per resource; who may call what is each route's `config.roles`, checked by one hook. */
export async function createApi(deps: ApiDeps): Promise<FastifyInstance> {
  // Request lines are logged at info; the API's own child logger keeps them out unless asked for.
  const quietest = deps.log.levelVal > 40 ? deps.log.level : 'warn';
  const httpLog = deps.log.child({ component: 'http' }, { level: process.env.COLDCHAIN_HTTP_LOG_LEVEL ?? quietest });
  const app = Fastify({ loggerInstance: httpLog as FastifyBaseLogger, bodyLimit: 1024 * 1024 }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` }));
  // Board sessions are accepted wherever an API token is.
  app.decorate('sessions', new SessionStore(deps.registry, throttleFor(deps.audit)));
  app.decorateRequest('caller', null as never);
  app.addHook('onRequest', authorize(deps.registry));
  app.addHook('onSend', securityHeaders(() => deps.registry().config.board.tileUrl ?? null));

  const board = () => ({ tileUrl: deps.registry().config.board.tileUrl ?? null, tileAttribution: deps.registry().config.board.tileAttribution });
  const resources: Array<ApiPlugin<ApiDeps & { board: typeof board }>> = [healthRoutes, sessionRoutes, readingsRoutes, rejectsRoutes, alertRoutes, alarmPerformanceRoutes, alarmTestRoutes, streamRoutes, shipmentRoutes, reportRoutes, overviewRoutes, boardRoutes];
  for (const resource of resources) await app.register(resource, { ...deps, board });
  return app;
}
