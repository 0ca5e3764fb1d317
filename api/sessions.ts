import { sessionSchema, signedInSchema, signInRefusal, signInSchema } from '../core/sessions.js';
import { bearerToken } from './auth.js';
import { unauthorized } from './http-error.js';
import type { ApiPlugin } from './route.js';

export type { SessionInfo } from '../core/sessions.js';

/** The board's sign-in (the store is `app.sessions`, core/sessions.ts). */
export const sessionRoutes: ApiPlugin = async (app) => {
  app.post('/api/v1/session', { schema: { body: signInSchema, response: { 201: signedInSchema } } }, async (request, reply) => {
    const { user: name, password } = request.body;
    const outcome = await app.sessions.signIn(name, password, request.ip);
    if (!('outcome' in outcome)) return reply.code(201).send({ token: outcome.token, ...outcome.session });
    if (outcome.outcome !== 'account' && outcome.outcome !== 'refused')
      request.log.warn({ user: name, ip: request.ip, outcome: outcome.outcome }, 'sign-in not checked');
    throw signInRefusal(outcome);
  });

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
