import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiRole } from '../core/config/schema.js';
import type { Registry } from '../core/registry.js';
import { tokenMatches } from '../core/secrets.js';

export interface Caller {
  tokenId: string;
  role: ApiRole;
}

/**
 * Resolves the bearer token (an API token, or a board session of a registry user) to a caller,
 * or answers 401/403 and returns undefined.
 */
export function requireCaller(registry: () => Registry, roles: readonly ApiRole[]) {
  return (request: FastifyRequest, reply: FastifyReply): Caller | undefined => {
    const header = request.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!match) {
      void reply.code(401).header('WWW-Authenticate', 'Bearer').send({ error: 'unauthorized', message: 'send "Authorization: Bearer <token>" (create one with: coldchain token create --role viewer)' });
      return undefined;
    }
    const token = match[1]!;
    const session = request.server.sessions?.lookup(token);
    if (session) {
      if (!roles.includes(session.role)) {
        void reply.code(403).send({ error: 'forbidden', message: `role ${session.role} may not do this; needs one of ${roles.join(', ')}` });
        return undefined;
      }
      return { tokenId: `user:${session.user}`, role: session.role };
    }
    const entry = registry().config.apiTokens.find((candidate) => tokenMatches(token, candidate.tokenHash));
    if (!entry) {
      void reply.code(401).send({ error: 'unauthorized', message: 'unknown or revoked API token' });
      return undefined;
    }
    if (!roles.includes(entry.role)) {
      void reply.code(403).send({ error: 'forbidden', message: `role ${entry.role} may not do this; needs one of ${roles.join(', ')}` });
      return undefined;
    }
    return { tokenId: entry.id, role: entry.role };
  };
}
