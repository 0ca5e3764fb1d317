import type { FastifyRequest } from 'fastify';
import { sessionSchema, signedInSchema, signInRefusal, signInSchema, type SessionInfo, type SignIn } from '../core/sessions.js';
import { bearerToken } from './auth.js';
import { unauthorized } from './http-error.js';
import type { ApiPlugin } from './route.js';

export type { SessionInfo } from '../core/sessions.js';

/**
 * A sign-in from an HTTP request: the session and its token, or the refusal thrown (401, or 429
 * from the throttle). Shared by this route and the board's sign-in with its overview (board.ts).
 */
export async function signInOrRefuse(request: FastifyRequest, { user: name, password }: SignIn, whileChecking?: () => void): Promise<SessionInfo> {
  const outcome = await request.server.sessions.signIn(name, password, request.ip, whileChecking);
  if (!('outcome' in outcome)) return { token: outcome.token, ...outcome.session };
  if (outcome.outcome !== 'account' && outcome.outcome !== 'refused')
    request.log.warn({ user: name, ip: request.ip, outcome: outcome.outcome }, 'sign-in not checked');
  throw signInRefusal(outcome);
}

/** The board's sign-in (the store is `app.sessions`, core/sessions.ts). */
export const sessionRoutes: ApiPlugin = async (app) => {
  app.post('/api/v1/session', { schema: { body: signInSchema, response: { 201: signedInSchema } } }, async (request, reply) =>
    reply.code(201).send(await signInOrRefuse(request, request.body)),
  );

  app.get('/api/v1/session', { schema: { response: { 200: sessionSchema } } }, async (request) => {
    const token = bearerToken(request);
    const session = token ? app.sessions.lookup(token) : undefined;
    if (!session) throw unauthorized('not signed in');
    return session;
  });

  app.delete('/api/v1/session', async (request, reply) => {
    const token = bearerToken(request);
    if (token) app.sessions.signOut(token);
    return reply.code(204).send();
  });
};
