import { createHash, randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import type { Registry } from '../core/registry.js';
import type { IngestPipeline } from '../ingestor/pipeline.js';
import type { AlertService, IncidentView } from '../alerts/service.js';
import type { AcceptedBatch } from '../ingestor/records.js';
import type { Alert, AlertEvent } from '../alerts/book.js';
import { apiTokenValid, bearerToken, identify, type Credential } from './auth.js';
import { HttpError } from './http-error.js';
import type { ApiPlugin } from './zod.js';

/**
 * A client this far behind (a stalled phone, a dead TCP peer) is dropped with a warning; its
 * EventSource reconnects. Below it, events queue in memory (`res.write` returning false only
 * means the kernel's buffer is full): a short stall loses nothing, a long one costs at most this.
 */
const MAX_BUFFERED_BYTES = 1024 * 1024;
/**
 * Open streams at once. Every event is written to every client on the main thread that also
 * acknowledges device publishes; a board is a few clients per control room, so this is generous
 * and still bounds what a holder of one viewer token can cost.
 */
export const MAX_STREAM_CLIENTS = 100;
/** A ticket is used at once by the page that asked for it: short-lived and good for one stream. */
const TICKET_MS = 30_000;
const MAX_TICKETS = 1000;
/** How often open streams' credentials are checked again (a token removed from the registry ends its streams). */
const RECHECK_MS = 5_000;

/** The stream's events: `reading`, `alert` (the alert with what just happened to it) and `incident`. */
export type LiveReading = Pick<AcceptedBatch, 'deviceId' | 'siteId' | 'locationId'> & AcceptedBatch['readings'][number];
export type LiveAlert = Alert & { event: AlertEvent['event'] };
const ticketAnswer = z.object({ ticket: z.string(), expiresAt: z.number(), url: z.string() });
export type StreamTicket = z.infer<typeof ticketAnswer>;

interface Client {
  res: ServerResponse;
  credential: Credential;
  warn: (details: object, message: string) => void;
}

/**
 * A cluster's stream tickets (cluster/api-link.ts): the page asks for one on whichever node the
 * load balancer picks and opens the stream on whichever it picks next. Only the ticket's hash is a key.
 */
export interface SharedTickets {
  put(key: string, value: string, ttlMs: number): Promise<void>;
  /** The value, removed in the same step (one use). */
  take(key: string): Promise<string | null>;
}
const sharedTicketSchema = z.object({
  credential: z.union([z.object({ kind: z.literal('session'), key: z.string() }), z.object({ kind: z.literal('api'), id: z.string(), tokenHash: z.string() })]),
  expiresAt: z.number(),
});

const ticketKey = (ticket: string) => createHash('sha256').update(ticket).digest('hex');

/**
 * GET /api/v1/stream: server-sent events for the live board — `reading` for every accepted
 * reading, `alert` and `incident` for every change. Browsers' EventSource cannot send headers,
 * and a bearer token in the URL ends up in request logs and browser history, so the page first
 * asks POST /api/v1/stream/ticket (bearer header) for a one-use ticket valid 30 s, then opens
 * ?ticket=. Clients that can send headers use the bearer header directly.
 */
export const streamRoutes: ApiPlugin<{
  registry: () => Registry;
  pipeline: IngestPipeline;
  alerts?: AlertService;
  cluster?: { tickets: SharedTickets };
}> = async (app, deps) => {
  const clients = new Set<Client>();
  const tickets = new Map<string, { credential: Credential; expiresAt: number }>();

  const stillValid = (c: Credential): boolean => (c.kind === 'session' ? app.sessions.byKey(c.key) !== undefined : apiTokenValid(deps.registry, c));
  const end = (client: Client, why: string) => {
    if (client.res.writableEnded || client.res.destroyed) return;
    client.res.write(`event: end\ndata: ${JSON.stringify({ reason: why })}\n\n`);
    // The connection goes too: it was opened with a credential that no longer holds.
    const socket = client.res.socket;
    client.res.end(() => socket?.destroySoon());
  };

  // Serialized once per event, then the same string goes to every client.
  const broadcast = (frame: string) => {
    for (const client of clients) {
      const { res } = client;
      // Ended at shutdown or dropped: its 'close' (which unsubscribes) may still be on its way.
      if (res.writableEnded || res.destroyed) continue;
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        client.warn({ buffered: res.writableLength }, 'live stream client is not reading; dropping it');
        res.destroy();
        continue;
      }
      res.write(frame);
    }
  };
  const frame = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
  const onReadings = (batch: AcceptedBatch) => {
    if (clients.size === 0) return;
    let text = '';
    for (const r of batch.readings) text += frame('reading', { deviceId: batch.deviceId, siteId: batch.siteId, locationId: batch.locationId, ...r });
    broadcast(text);
  };
  const onAlert = (event: AlertEvent) => clients.size > 0 && broadcast(frame('alert', { event: event.event, ...event.alert }));
  const onIncident = (view: IncidentView) => clients.size > 0 && broadcast(frame('incident', view));
  deps.pipeline.on('accepted', onReadings);
  deps.alerts?.on('event', onAlert);
  deps.alerts?.on('incident', onIncident);

  // Signing out ends that session's streams at once; a revoked API token's within RECHECK_MS.
  const stopListening = app.sessions.onEnd((key, why) => {
    for (const client of clients) if (client.credential.kind === 'session' && client.credential.key === key) end(client, why);
  });
  const heartbeat = setInterval(() => broadcast(': keep-alive\n\n'), 15_000);
  const recheck = setInterval(() => {
    for (const client of clients) if (!stillValid(client.credential)) end(client, client.credential.kind === 'session' ? 'session ended' : 'API token revoked');
    const now = Date.now();
    for (const [key, t] of tickets) if (t.expiresAt <= now) tickets.delete(key);
  }, RECHECK_MS);
  heartbeat.unref();
  recheck.unref();

  // Streams never end on their own: end them before the server waits for its connections. An
  // ended response counts as finished, so server.close() cuts off even a client that stopped
  // reading and would never take the end.
  app.addHook('preClose', (done) => {
    clearInterval(heartbeat);
    clearInterval(recheck);
    stopListening();
    deps.pipeline.off('accepted', onReadings);
    deps.alerts?.off('event', onAlert);
    deps.alerts?.off('incident', onIncident);
    for (const client of clients) client.res.end();
    done();
  });

  app.post('/api/v1/stream/ticket', { schema: { response: { 201: ticketAnswer } } }, async (request, reply) => {
    const token = bearerToken(request);
    const credential = token ? identify(request, deps.registry, token)?.credential : undefined;
    if (!credential)
      throw new HttpError(401, 'unauthorized', 'send "Authorization: Bearer <token>" (a board session or an API token)', { 'WWW-Authenticate': 'Bearer' });
    const now = Date.now();
    if (tickets.size >= MAX_TICKETS) for (const [key, t] of tickets) if (t.expiresAt <= now) tickets.delete(key);
    if (tickets.size >= MAX_TICKETS)
      throw new HttpError(429, 'too_many_requests', `${MAX_TICKETS} stream tickets are waiting to be used; try again in 30 s`, { 'Retry-After': '30' });
    const ticket = `cc_tkt_${randomBytes(24).toString('base64url')}`;
    if (deps.cluster) await deps.cluster.tickets.put(ticketKey(ticket), JSON.stringify({ credential, expiresAt: now + TICKET_MS }), TICKET_MS);
    else tickets.set(ticketKey(ticket), { credential, expiresAt: now + TICKET_MS });
    return reply.code(201).send({ ticket, expiresAt: now + TICKET_MS, url: `/api/v1/stream?ticket=${ticket}` });
  });

  const takeShared = async (key: string) => {
    const value = await deps.cluster!.tickets.take(key);
    if (!value) return undefined;
    const parsed = sharedTicketSchema.safeParse(JSON.parse(value));
    return parsed.success ? (parsed.data as { credential: Credential; expiresAt: number }) : undefined;
  };

  app.get('/api/v1/stream', async (request, reply) => {
    let credential: Credential | undefined;
    const token = bearerToken(request);
    const { ticket } = request.query as { ticket?: unknown };
    if (token) credential = identify(request, deps.registry, token)?.credential;
    else if (typeof ticket === 'string') {
      const key = ticketKey(ticket);
      const held = deps.cluster ? await takeShared(key) : tickets.get(key);
      tickets.delete(key); // one use, whatever happens next
      if (held && held.expiresAt > Date.now() && stillValid(held.credential)) credential = held.credential;
    }
    if (!credential)
      throw new HttpError(401, 'unauthorized', 'send "Authorization: Bearer <token>", or ?ticket= from POST /api/v1/stream/ticket (one use, valid 30 s)');
    if (clients.size >= MAX_STREAM_CLIENTS) {
      request.log.warn({ clients: clients.size }, 'live stream refused: too many clients');
      throw new HttpError(
        503,
        'stream_full',
        `the live stream already serves ${MAX_STREAM_CLIENTS} clients (its limit); close a board elsewhere or try again in 30 s`,
        { 'Retry-After': '30' },
      );
    }
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    res.write(': coldchain live stream\n\n');
    const client: Client = { res, credential, warn: (details, message) => request.log.warn(details, message) };
    clients.add(client);
    res.on('close', () => clients.delete(client));
  });
};
