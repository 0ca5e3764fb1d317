import { z } from 'zod';
import { bearerToken } from './auth.js';
import { unauthorized } from './http-error.js';
import type { ApiPlugin } from './route.js';
import type { RouteDeps } from './server.js';

const ticketAnswer = z.object({ ticket: z.string(), expiresAt: z.number(), url: z.string() });
export type StreamTicket = z.infer<typeof ticketAnswer>;

/** Server-sent events for the live board (live/hub.ts), opened with the bearer header or, from a browser (whose EventSource cannot send one), a ticket (live/tickets.ts). */
export const streamRoutes: ApiPlugin<RouteDeps> = async (app, { live: { hub, tickets } }) => {
  app.post('/api/v1/stream/ticket', { schema: { response: { 201: ticketAnswer } } }, async (request, reply) => {
    const credential = app.sessions.credential(bearerToken(request));
    if (!credential) throw unauthorized('send "Authorization: Bearer <token>" (a board session or an API token)', { 'WWW-Authenticate': 'Bearer' });
    const issued = await tickets.issue(credential);
    return reply.code(201).send({ ...issued, url: `/api/v1/stream?ticket=${issued.ticket}` });
  });

  app.get('/api/v1/stream', async (request, reply) => {
    const token = bearerToken(request);
    const { ticket } = request.query as { ticket?: unknown };
    const credential = token ? app.sessions.credential(token) : typeof ticket === 'string' ? await tickets.redeem(ticket) : undefined;
    if (!credential) throw unauthorized('send "Authorization: Bearer <token>", or ?ticket= from POST /api/v1/stream/ticket (one use, valid 30 s)');
    hub.admit();
    reply.hijack();
    reply.raw.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    hub.add(reply.raw, credential, (details, message) => request.log.warn(details, message));
  });
};
