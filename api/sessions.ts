import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ApiRole } from '../core/config/schema.js';
import type { Registry } from '../core/registry.js';
import { verifyPassword } from '../core/secrets.js';
import { explainVerdict, shortName, throttleFor, type AuthThrottle, type Verdict } from '../core/throttle.js';
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

const hash = (token: string) => createHash('sha256').update(token).digest('hex');
/** How other parts (the live stream) name a session without keeping its token. */
export const sessionKey = hash;

/**
 * Sign-ins of registry users for the board: a random bearer token per session, kept in memory
 * (only its hash), valid for a shift. A restart signs everyone out; that is acceptable for a
 * board and keeps no secret on disk.
 */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  private readonly endListeners = new Set<(key: string) => void>();

  constructor(
    private readonly registry: () => Registry,
    private readonly throttle: AuthThrottle,
  ) {}

  lookup(token: string): Session | undefined {
    if (!token.startsWith('cc_ses_')) return undefined;
    return this.byKey(hash(token));
  }

  /** The session by its key (see sessionKey), if it is still valid. */
  byKey(key: string): Session | undefined {
    const session = this.sessions.get(key);
    if (!session) return undefined;
    // The user may have been removed from the registry since signing in.
    const user = this.registry().config.users.find((u) => u.name === session.user);
    if (session.expiresAt <= Date.now() || !user) {
      this.end(key);
      return undefined;
    }
    return { ...session, role: user.role };
  }

  /** Called with a session's key when it ends (sign-out, expiry, user removed): what it opened must close. */
  onEnd(listener: (key: string) => void): () => void {
    this.endListeners.add(listener);
    return () => this.endListeners.delete(listener);
  }

  private end(key: string): void {
    if (!this.sessions.delete(key)) return;
    for (const listener of this.endListeners) listener(key);
  }

  /** `name` and `password` must already be bounded (signInSchema): they reach the throttle and the audit trail. */
  async signIn(name: string, password: string, address: string): Promise<{ token: string; session: Session } | Exclude<Verdict, { outcome: 'ok' }>> {
    const user = this.registry().config.users.find((u) => u.name === name);
    const verdict = await this.throttle.attempt({ account: name, address, channel: 'http' }, user !== undefined, () => verifyPassword(password, user!.passwordHash));
    if (verdict.outcome !== 'ok') return verdict;
    const token = `cc_ses_${randomBytes(32).toString('base64url')}`;
    const session = { user: user!.name, fullName: user!.fullName, role: user!.role, expiresAt: Date.now() + SESSION_MS };
    this.sessions.set(hash(token), session);
    return { token, session };
  }

  signOut(token: string): void {
    this.end(hash(token));
  }
}

/**
 * Bounded before anything is hashed or written to the audit trail: a user name is a registry
 * identifier (1-64 safe characters), so a refused sign-in cannot carry 50 KB into the trail.
 */
const signInSchema = z.object({
  user: z.string().min(1).max(64, 'a user name has at most 64 characters').regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a user name is letters, digits, "-", "_" or "." and starts with a letter or digit'),
  password: z.string().min(1).max(1024, 'a password has at most 1024 characters'),
});

export function sessionRoutes(app: FastifyInstance, deps: { registry: () => Registry; audit?: AuditLog }): void {
  app.decorate('sessions', new SessionStore(deps.registry, throttleFor(deps.audit)));

  app.post('/api/v1/session', async (request, reply) => {
    const body = signInSchema.safeParse(request.body ?? {});
    if (!body.success) return sendValidationError(reply, body.error, 'body');
    const outcome = await app.sessions.signIn(body.data.user, body.data.password, request.ip);
    if ('outcome' in outcome) {
      if (outcome.outcome === 'refused') {
        // Names that are no user are kept apart from real actors, so the trail's actors stay real people.
        const known = deps.registry().config.users.some((u) => u.name === body.data.user);
        await deps.audit?.append({ actor: known ? body.data.user : '(unknown user)', action: 'session.refused', target: 'board', details: { ip: request.ip, ...(known ? {} : { name: shortName(body.data.user) }) } });
        return reply.code(401).send({ error: 'unauthorized', message: 'wrong user name or password' });
      }
      const seconds = outcome.outcome === 'locked' ? Math.ceil(outcome.retryAfterMs / 1000) : 2;
      request.log.warn({ user: body.data.user, ip: request.ip, outcome: outcome.outcome }, 'sign-in not checked');
      return reply.code(429).header('Retry-After', String(seconds)).send({ error: 'too_many_requests', message: `sign-in refused: ${explainVerdict(outcome)}` });
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
