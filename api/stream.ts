import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Registry } from '../core/registry.js';
import { tokenMatches } from '../core/secrets.js';
import type { IngestPipeline } from '../ingestor/pipeline.js';
import type { AlertService, IncidentView } from '../alerts/service.js';
import type { AcceptedBatch } from '../ingestor/records.js';
import type { AlertEvent } from '../alerts/book.js';

/**
 * A client this far behind (a stalled phone, a dead TCP peer) is dropped with a warning; its
 * EventSource reconnects. Below it, events queue in memory (`res.write` returning false only
 * means the kernel's buffer is full): a short stall loses nothing, a long one costs at most this.
 */
const MAX_BUFFERED_BYTES = 1024 * 1024;

/**
 * GET /api/v1/stream: server-sent events for the live board — `reading` for every accepted
 * reading, `alert` for every alert change. Browsers' EventSource cannot send headers, so the
 * bearer token may also come as ?token=.
 */
export function streamRoutes(app: FastifyInstance, deps: { registry: () => Registry; pipeline: IngestPipeline; alerts?: AlertService }): void {
  const open = new Set<ServerResponse>();
  // Streams never end on their own: end them before the server waits for its connections. An
  // ended response counts as finished, so server.close() cuts off even a client that stopped
  // reading and would never take the end.
  app.addHook('preClose', (done) => {
    for (const res of open) res.end();
    done();
  });
  app.get<{ Querystring: { token?: string } }>('/api/v1/stream', (request, reply) => {
    const header = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
    const token = header ?? request.query.token;
    if (!token || (!app.sessions?.lookup(token) && !deps.registry().config.apiTokens.some((t) => tokenMatches(token, t.tokenHash)))) {
      return reply.code(401).send({ error: 'unauthorized', message: 'send "Authorization: Bearer <token>" or ?token=<token>' });
    }
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    res.write(': coldchain live stream\n\n');
    open.add(res);
    const send = (event: string, data: unknown) => {
      // Ended at shutdown or dropped: its 'close' (which unsubscribes) may still be on its way.
      if (res.writableEnded || res.destroyed) return;
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        request.log.warn({ buffered: res.writableLength }, 'live stream client is not reading; dropping it');
        res.destroy();
        return;
      }
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const onReadings = (batch: AcceptedBatch) => {
      for (const r of batch.readings) send('reading', { deviceId: batch.deviceId, siteId: batch.siteId, locationId: batch.locationId, ...r });
    };
    const onAlert = (event: AlertEvent) => send('alert', { event: event.event, ...event.alert });
    deps.pipeline.on('accepted', onReadings);
    deps.alerts?.on('event', onAlert);
    const onIncident = (view: IncidentView) => send('incident', view);
    deps.alerts?.on('incident', onIncident);
    const heartbeat = setInterval(() => {
      if (!res.writableEnded && !res.destroyed) res.write(': keep-alive\n\n');
    }, 15_000);
    res.on('close', () => {
      open.delete(res);
      clearInterval(heartbeat);
      deps.pipeline.off('accepted', onReadings);
      deps.alerts?.off('event', onAlert);
      deps.alerts?.off('incident', onIncident);
    });
  });
}
