import { z } from 'zod';
import { LiveHub, MAX_STREAM_CLIENTS } from '../live/hub.js';
import { MAX_TICKETS, StreamTickets } from '../live/tickets.js';
import { bearerToken } from './auth.js';
import { HttpError } from './http-error.js';
import type { ApiPlugin } from './route.js';

const ticketAnswer = z.object({ ticket: z.string(), expiresAt: z.number(), url: z.string() });
export type StreamTicket = z.infer<typeof ticketAnswer>;

/** Server-sent events for the live board (live/hub.ts), opened with the bearer header or, from a browser (whose EventSource cannot send one), a ticket (live/tickets.ts). */
export const streamRoutes: ApiPlugin = async (app, { pipeline, alerts, cluster }) => {
  const hub = new LiveHub({ pipeline, alerts, sessions: app.sessions });
  const tickets = new StreamTickets(cluster?.tickets, (credential) => app.sessions.holds(credential));
  app.addHook('preClose', (done) => {
    tickets.close();
    hub.close();
    done();
  });

  app.post('/api/v1/stream/ticket', { schema: { response: { 201: ticketAnswer } } }, async (request, reply) => {
    const credential = app.sessions.credential(bearerToken(request));
    if (!credential)
      throw new HttpError(401, 'unauthorized', 'send "Authorization: Bearer <token>" (a board session or an API token)', { 'WWW-Authenticate': 'Bearer' });
    const issued = await tickets.issue(credential);
    if (!issued)
      throw new HttpError(429, 'too_many_requests', `${MAX_TICKETS} stream tickets are waiting to be used; try again in 30 s`, { 'Retry-After': '30' });
    return reply.code(201).send({ ...issued, url: `/api/v1/stream?ticket=${issued.ticket}` });
  });

  app.get('/api/v1/stream', async (request, reply) => {
    const token = bearerToken(request);
    const { ticket } = request.query as { ticket?: unknown };
    const credential = token ? app.sessions.credential(token) : typeof ticket === 'string' ? await tickets.redeem(ticket) : undefined;
    if (!credential)
      throw new HttpError(401, 'unauthorized', 'send "Authorization: Bearer <token>", or ?ticket= from POST /api/v1/stream/ticket (one use, valid 30 s)');
    if (hub.full) {
      request.log.warn({ clients: hub.size }, 'live stream refused: too many clients');
      throw new HttpError(
        503,
        'stream_full',
        `the live stream already serves ${MAX_STREAM_CLIENTS} clients (its limit); close a board elsewhere or try again in 30 s`,
        { 'Retry-After': '30' },
      );
    }
    reply.hijack();
    reply.raw.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    hub.add(reply.raw, credential, (details, message) => request.log.warn(details, message));
  });
};
