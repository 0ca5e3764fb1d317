import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry as PromRegistry } from 'prom-client';
import type { Logger } from '../core/logger.js';
import type { Registry } from '../core/registry.js';
import { InfluxError, type InfluxClient } from '../storage/influx.js';
import { readingsRoutes } from './readings.js';
import { rejectsRoutes } from './rejects.js';
import { alertRoutes } from './alerts.js';
import { alarmPerformanceRoutes } from './alarm-performance.js';
import { streamRoutes } from './stream.js';
import { shipmentRoutes } from './shipments.js';
import { reportRoutes } from './reports.js';
import { sessionRoutes } from './sessions.js';
import { overviewRoutes } from './overview.js';
import { boardRoutes } from './board.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { ShipmentService } from '../shipments/service.js';
import type { AlertService } from '../alerts/service.js';
import type { IngestPipeline } from '../ingestor/pipeline.js';

export interface ComponentHealth {
  ready: boolean;
  [detail: string]: unknown;
}

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

export async function createApi(deps: ApiDeps): Promise<FastifyInstance> {
  // Request lines are logged at info; the API's own child logger keeps them out unless asked for.
  const quietest = deps.log.levelVal > 40 ? deps.log.level : 'warn';
  const httpLog = deps.log.child({ component: 'http' }, { level: process.env.COLDCHAIN_HTTP_LOG_LEVEL ?? quietest });
  const app = Fastify({ loggerInstance: httpLog as FastifyBaseLogger, bodyLimit: 1024 * 1024 });

  app.setErrorHandler((err: Error, request, reply) => {
    if (err instanceof InfluxError) {
      request.log.error({ err: err.message }, 'InfluxDB query failed');
      return reply.code(503).send({ error: 'influxdb_unavailable', message: err.message });
    }
    const status = (err as { statusCode?: number }).statusCode ?? 500;
    if (status >= 500) request.log.error({ err }, 'request failed');
    return reply.code(status).send({ error: status >= 500 ? 'internal_error' : 'bad_request', message: err.message });
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` }));

  app.get('/healthz', async (_request, reply) => {
    const components = deps.health();
    const ready = Object.values(components).every((c) => c.ready);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ok' : 'unavailable', components });
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await deps.metrics.metrics();
    return reply.type(deps.metrics.contentType).send(text);
  });

  // Sessions first: the routes below accept a board session wherever they accept an API token.
  sessionRoutes(app, deps);
  readingsRoutes(app, deps);
  rejectsRoutes(app, deps);
  alertRoutes(app, deps);
  alarmPerformanceRoutes(app, deps);
  streamRoutes(app, deps);
  shipmentRoutes(app, deps);
  reportRoutes(app, deps);
  overviewRoutes(app, deps);
  boardRoutes(app, { board: () => ({ tileUrl: deps.registry().config.board.tileUrl ?? null, tileAttribution: deps.registry().config.board.tileAttribution }) });
  return app;
}
