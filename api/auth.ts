import { createHash } from 'node:crypto';
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { ApiRole } from '../core/config/schema.js';
import type { Registry } from '../core/registry.js';
import { tokenRefusal } from '../core/accounts.js';
import { tokenMatches } from '../core/secrets.js';
import { HttpError } from './http-error.js';

export const ANYONE = ['admin', 'operator', 'qa', 'viewer'] as const satisfies readonly ApiRole[];
/** Those who sign: alarms, custody, dispositions. */
export const HANDLERS = ['admin', 'operator', 'qa'] as const satisfies readonly ApiRole[];
export const REVIEWERS = ['admin', 'qa'] as const satisfies readonly ApiRole[];

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route (the onRequest hook checks); a route without it is open or checks for itself. */
    roles?: readonly ApiRole[];
  }
  interface FastifyRequest {
    /** Who called: set by the onRequest hook on every route that names its roles. */
    caller: Caller;
  }
}

/** What a credential is kept as without the secret itself, so what it opened can end with it. */
export type Credential = { kind: 'session'; key: string } | { kind: 'api'; id: string; tokenHash: string };

export interface Caller {
  tokenId: string;
  role: ApiRole;
  credential: Credential;
}

/** How a session is named without keeping its token. */
export const sessionKey = (token: string) => createHash('sha256').update(token).digest('hex');

/** The one place a bearer token is read from a request. */
export const bearerToken = (request: FastifyRequest) => /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];

/**
 * Who holds a token: a board session of a registry user, or an API token from the config; or,
 * for an API token that is revoked or expired, why it is refused (21 CFR 11.300).
 */
export function identifyOrRefuse(request: FastifyRequest, registry: () => Registry, token: string): Caller | { refused: string } | undefined {
  const session = request.server.sessions.lookup(token);
  if (session) return { tokenId: `user:${session.user}`, role: session.role, credential: { kind: 'session', key: sessionKey(token) } };
  const entry = registry().config.apiTokens.find((candidate) => tokenMatches(token, candidate.tokenHash));
  if (!entry) return undefined;
  const refused = tokenRefusal(entry);
  if (refused) return { refused };
  return { tokenId: entry.id, role: entry.role, credential: { kind: 'api', id: entry.id, tokenHash: entry.tokenHash } };
}

/** Who holds a token (see identifyOrRefuse); undefined for an unknown, revoked or expired one. */
export function identify(request: FastifyRequest, registry: () => Registry, token: string): Caller | undefined {
  const caller = identifyOrRefuse(request, registry, token);
  return caller && 'refused' in caller ? undefined : caller;
}

/** Whether an API token a stream was opened with still holds: in the config, neither revoked nor expired. */
export function apiTokenValid(registry: () => Registry, credential: { id: string; tokenHash: string }): boolean {
  const entry = registry().config.apiTokens.find((t) => t.id === credential.id && t.tokenHash === credential.tokenHash);
  return entry !== undefined && tokenRefusal(entry) === undefined;
}

/** onRequest: 401 without a known token, 403 for a role the route's `config.roles` does not name. */
export function authorize(registry: () => Registry): onRequestAsyncHookHandler {
  return async (request) => {
    const roles = request.routeOptions.config.roles;
    if (!roles) return;
    const token = bearerToken(request);
    if (!token)
      throw new HttpError(401, 'unauthorized', 'send "Authorization: Bearer <token>" (create one with: coldchain token create --role viewer)', {
        'WWW-Authenticate': 'Bearer',
      });
    const caller = identifyOrRefuse(request, registry, token);
    if (!caller) throw new HttpError(401, 'unauthorized', 'unknown or revoked API token');
    if ('refused' in caller) throw new HttpError(401, 'unauthorized', caller.refused);
    if (!roles.includes(caller.role)) throw new HttpError(403, 'forbidden', `role ${caller.role} may not do this; needs one of ${roles.join(', ')}`);
    request.caller = caller;
  };
}
