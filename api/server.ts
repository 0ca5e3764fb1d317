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
import { sessionRoutes } from './sessions.js';
import { SessionStore, type SessionShare } from '../core/sessions.js';
import { readingsRoutes } from './readings.js';
import { alertRoutes } from './alerts.js';
import { auditRoutes } from './audit.js';
import { streamRoutes } from './stream.js';
import type { SharedTickets } from '../live/tickets.js';
import { boardLive, type BoardLive } from '../live/board-live.js';
import { shipmentRoutes } from './shipments.js';
import { receiverRoutes } from './receiver.js';
import { calibrationRoutes } from './calibration.js';
import type { CalibrationService } from '../calibration/service.js';
import { reportRoutes } from './reports.js';
import { boardRoutes } from './board.js';
import { securityHeaders } from './security-headers.js';
import type { ReportPool } from '../reports/pool.js';
import { stabilityRoutes } from './stability.js';
import type { StabilityService } from '../stability/service.js';

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
  /** Sensors' calibration records (absent: no calibration routes). */
  calibration?: CalibrationService;
  /** Base URL receivers use (verification links). */
  publicUrl: () => string;
  audit?: AuditLog;
  /** HTTPS with this certificate and key (`readTls`, core/config/load.ts); plain HTTP without. */
  tls?: { cert: Buffer; key: Buffer };
  /** The report workers (reports/pool.ts): every report is built there; the service owns and closes them. */
  reports: ReportPool;
  /** Batches' stability budgets (absent: no batch routes). */
  stability?: StabilityService;
  /** One node of a cluster: board sessions and stream tickets shared with the other nodes (cluster/api-link.ts). */
  cluster?: { sessions: SessionShare; tickets: SharedTickets };
}

/** What the routes are given: the service's parts, and the board's (made here, beside the sessions they follow). */
export type RouteDeps = ApiDeps & { live: BoardLive };

/** The HTTP API: one plugin per resource; who may call what is each route's `config.roles`, checked by one hook. */
export async function createApi(deps: ApiDeps): Promise<FastifyInstance> {
  // Request lines are logged at info; the API's own child logger keeps them out unless asked for.
  const quietest = deps.log.levelVal > 40 ? deps.log.level : 'warn';
  const httpLog = deps.log.child({ component: 'http' }, { level: process.env.COLDCHAIN_HTTP_LOG_LEVEL ?? quietest });
  const options = { loggerInstance: httpLog as FastifyBaseLogger, bodyLimit: 1024 * 1024 };
  // HTTPS when the config gives a certificate (issue 12, item 10); the instance is used the same way either way.
  const server = (deps.tls ? Fastify({ ...options, https: { cert: deps.tls.cert, key: deps.tls.key } }) : Fastify(options)) as unknown as FastifyInstance;
  const app = server.withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` }));
  // Board sessions are accepted wherever an API token is.
  app.decorate('sessions', new SessionStore(deps.registry, throttleFor(deps.audit), deps.audit));
  if (deps.cluster) await app.sessions.join(deps.cluster.sessions);
  const live = boardLive({ ...deps, sessions: app.sessions, ...(deps.cluster ? { sharedTickets: deps.cluster.tickets } : {}) });
  app.addHook('preClose', (done) => {
    live.endStreams();
    done();
  });
  app.addHook('onClose', async () => live.close());
  app.decorateRequest('caller', null as never);
  app.addHook('onRequest', authorize);
  app.addHook(
    'onSend',
    securityHeaders(() => deps.registry().config.board.tileUrl ?? null),
  );

  const resources: ApiPlugin<RouteDeps>[] = [
    healthRoutes,
    sessionRoutes,
    readingsRoutes,
    alertRoutes,
    auditRoutes,
    streamRoutes,
    shipmentRoutes,
    receiverRoutes,
    calibrationRoutes,
    stabilityRoutes,
    reportRoutes,
    boardRoutes,
  ];
  for (const resource of resources) await app.register(resource, { ...deps, live });
  return app;
}
