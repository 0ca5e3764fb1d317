import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { ApiRole } from '../core/config/schema.js';
import type { Caller, SessionStore } from '../core/sessions.js';
import { Refusal } from '../core/refusal.js';
import { unauthorized } from './http-error.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Who holds a bearer token, and board sign-ins (made by server.ts). */
    sessions: SessionStore;
  }
  interface FastifyContextConfig {
    /** Who may call the route (the onRequest hook checks); a route without it is open or checks for itself. */
    roles?: readonly ApiRole[];
  }
  interface FastifyRequest {
    /** Who called: set by the onRequest hook on every route that names its roles. */
    caller: Caller;
  }
}

/** The one place a bearer token is read from a request. */
export const bearerToken = (request: FastifyRequest) => /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];

/** onRequest: 401 without a known token, 403 for a role the route's `config.roles` does not name (who holds a token: core/sessions.ts). */
export const authorize: onRequestAsyncHookHandler = async (request) => {
  const roles = request.routeOptions.config.roles;
  if (!roles) return;
  const token = bearerToken(request);
  if (!token)
    throw unauthorized('send "Authorization: Bearer <token>" (create one with: coldchain token create --role viewer)', { 'WWW-Authenticate': 'Bearer' });
  const caller = request.server.sessions.identify(token);
  if (!caller) throw unauthorized('unknown or revoked API token');
  if ('refused' in caller) throw unauthorized(caller.refused);
  if (!roles.includes(caller.role)) throw new Refusal(`role ${caller.role} may not do this; needs one of ${roles.join(', ')}`, 403, 'forbidden');
  request.caller = caller;
};
