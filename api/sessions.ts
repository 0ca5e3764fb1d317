import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ApiRole } from '../core/config/schema.js';
import type { Registry } from '../core/registry.js';
import { verifyPassword } from '../core/secrets.js';
import type { AuditLog } from '../audit/audit-log.js';
import { sendValidationError } from './errors.js';

export interface Session {
  user: string;
  fullName: string;
  role: ApiRole;
  expiresAt: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    sessions: SessionStore;
  }
}

const SESSION_MS = 12 * 3_600_000;
/** scrypt runs on libuv's small thread pool, shared with the spool's fsyncs: bound the logins. */
const MAX_CONCURRENT_LOGINS = 2;

const hash = (token: string) => createHash('sha256').update(token).digest('hex');

/**
 * Sign-ins of registry users for the board: a random bearer token per session, kept in memory
 * (only its hash), valid for a shift. A restart signs everyone out; that is acceptable for a
 * board and keeps no secret on disk.
 */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  private verifying = 0;

  constructor(private readonly registry: () => Registry) {}

  lookup(token: string): Session | undefined {
    if (!token.startsWith('cc_ses_')) return undefined;
    const session = this.sessions.get(hash(token));
    if (!session) return undefined;
    // The user may have been removed from the registry since signing in.
    const user = this.registry().config.users.find((u) => u.name === session.user);
    if (session.expiresAt <= Date.now() || !user) {
      this.sessions.delete(hash(token));
      return undefined;
    }
    return { ...session, role: user.role };
  }

  async signIn(name: string, password: string): Promise<{ token: string; session: Session } | 'refused' | 'busy'> {
    if (this.verifying >= MAX_CONCURRENT_LOGINS) return 'busy';
    this.verifying++;
    try {
      const user = this.registry().config.users.find((u) => u.name === name);
      const ok = await verifyPassword(password, user?.passwordHash ?? 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=').catch(() => false);
      if (!user || !ok) return 'refused';
      const token = `cc_ses_${randomBytes(32).toString('base64url')}`;
      const session = { user: user.name, fullName: user.fullName, role: user.role, expiresAt: Date.now() + SESSION_MS };
      this.sessions.set(hash(token), session);
      return { token, session };
    } finally {
      this.verifying--;
    }
  }

  signOut(token: string): void {
    this.sessions.delete(hash(token));
  }
}

const signInSchema = z.object({ user: z.string().min(1), password: z.string().min(1) });

export function sessionRoutes(app: FastifyInstance, deps: { registry: () => Registry; audit?: AuditLog }): void {
  app.decorate('sessions', new SessionStore(deps.registry));

  app.post('/api/v1/session', async (request, reply) => {
    const body = signInSchema.safeParse(request.body ?? {});
    if (!body.success) return sendValidationError(reply, body.error, 'body');
    const outcome = await app.sessions.signIn(body.data.user, body.data.password);
    if (outcome === 'busy') return reply.code(429).header('Retry-After', '1').send({ error: 'too_many_requests', message: 'too many sign-ins at once; try again in a second' });
    if (outcome === 'refused') {
      await deps.audit?.append({ actor: body.data.user, action: 'session.refused', target: 'board', details: { ip: request.ip } });
      return reply.code(401).send({ error: 'unauthorized', message: 'wrong user name or password' });
    }
    await deps.audit?.append({ actor: outcome.session.user, action: 'session.start', target: 'board', details: { ip: request.ip } });
    const { user, fullName, role, expiresAt } = outcome.session;
    return reply.code(201).send({ token: outcome.token, user, fullName, role, expiresAt });
  });

  app.get('/api/v1/session', async (request, reply) => {
    const token = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
    const session = token ? app.sessions.lookup(token) : undefined;
    if (!session) return reply.code(401).send({ error: 'unauthorized', message: 'not signed in' });
    return session;
  });

  app.delete('/api/v1/session', async (request, reply) => {
    const token = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
    if (token) app.sessions.signOut(token);
    return reply.code(204).send();
  });
}
