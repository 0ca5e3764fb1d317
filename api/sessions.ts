import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { apiRoles } from '../core/config/schema.js';
import type { Registry } from '../core/registry.js';
import { userRefusal } from '../core/accounts.js';
import { verifyPassword } from '../core/secrets.js';
import { explainVerdict, shortName, type AuthThrottle, type Verdict } from '../core/throttle.js';
import type { AuditLog } from '../audit/audit-log.js';
import { bearerToken, sessionKey } from './auth.js';
import { HttpError } from './http-error.js';
import type { ApiPlugin } from './zod.js';

export const sessionSchema = z.object({ user: z.string(), fullName: z.string(), role: z.enum(apiRoles), expiresAt: z.number() });
export type Session = z.infer<typeof sessionSchema>;
/** What a sign-in answers: the session and its bearer token. */
export const signedInSchema = sessionSchema.extend({ token: z.string() });
export type SessionInfo = z.infer<typeof signedInSchema>;

declare module 'fastify' {
  interface FastifyInstance {
    sessions: SessionStore;
  }
}

const SESSION_MS = 12 * 3_600_000;

/**
 * A cluster's shared sign-ins (cluster/api-link.ts): a session started on one node is accepted by
 * every node, and outlives the node it started on. Only the token's hash (the session key) and the
 * session travel; the token itself stays with the browser.
 */
export interface SessionShare {
  started(key: string, session: Session): void;
  /** A request used the session (sent at most every few seconds per session: idle time is cluster-wide). */
  used(key: string, at: number): void;
  ended(key: string): void;
  follow(handlers: { started(key: string, session: Session): void; used(key: string, at: number): void; ended(key: string): void }): Promise<void>;
  /** The sessions open now (a node that starts, or restarts, takes them up). */
  load(): Promise<Array<{ key: string; session: Session; lastUsed: number }>>;
}

/**
 * Sign-ins of registry users for the board: a random bearer token per session, kept in memory
 * (only its hash), valid for a shift. A restart signs everyone out; that is acceptable for a
 * board and keeps no secret on disk.
 */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  /** When each session was last used by a request (an open stream is not use): idle ones end (accounts.sessionIdle). */
  private readonly lastUsed = new Map<string, number>();
  private readonly endListeners = new Set<(key: string, why: string) => void>();
  private sweeper: NodeJS.Timeout | undefined;
  private share: SessionShare | undefined;

  constructor(
    private readonly registry: () => Registry,
    private readonly throttle: AuthThrottle,
  ) {}

  /** Cluster: takes up the sessions open on the other nodes and follows them from now on. */
  async join(share: SessionShare): Promise<void> {
    this.share = share;
    const adopt = (key: string, session: Session, lastUsed: number) => {
      this.sessions.set(key, session);
      this.lastUsed.set(key, Math.max(lastUsed, this.lastUsed.get(key) ?? 0));
      if (this.idleMs > 0) this.startSweeping();
    };
    await share.follow({
      started: (key, session) => adopt(key, session, Date.now()),
      used: (key, at) => {
        if (this.sessions.has(key)) this.lastUsed.set(key, Math.max(at, this.lastUsed.get(key) ?? 0));
      },
      ended: (key) => this.end(key, 'signed out', false),
    });
    for (const { key, session, lastUsed } of await share.load()) adopt(key, session, lastUsed);
  }

  private get idleMs(): number {
    return this.registry().config.accounts.sessionIdle;
  }

  /** The session a request presents, if it is still valid; the request counts as use. */
  lookup(token: string): Session | undefined {
    if (!token.startsWith('cc_ses_')) return undefined;
    const key = sessionKey(token);
    const session = this.byKey(key);
    if (session) {
      const now = Date.now();
      const before = this.lastUsed.get(key) ?? 0;
      this.lastUsed.set(key, now);
      // Told to the other nodes often enough that none of them ends the session as idle.
      if (this.share && now - before >= Math.min(Math.max(this.idleMs / 4, 1000), 10_000)) this.share.used(key, now);
    }
    return session;
  }

  /** The session by its key (see sessionKey), if it is still valid (not counted as use). */
  byKey(key: string): Session | undefined {
    const session = this.sessions.get(key);
    if (!session) return undefined;
    // The user may have been removed or disabled since signing in.
    const user = this.registry().config.users.find((u) => u.name === session.user);
    const idle = this.idleMs > 0 && Date.now() - (this.lastUsed.get(key) ?? 0) >= this.idleMs;
    const why =
      session.expiresAt <= Date.now() ? 'session expired' : !user ? 'user removed' : user.disabledAt ? 'user disabled' : idle ? 'session idle' : undefined;
    if (why || !user) {
      this.end(key, why ?? 'user removed');
      return undefined;
    }
    return { ...session, role: user.role };
  }

  /** Ends idle sessions (and so their streams) without waiting for their next request. */
  private sweep(): void {
    for (const key of [...this.sessions.keys()]) this.byKey(key);
    if (!this.sessions.size) this.stopSweeping();
  }

  private startSweeping(): void {
    if (this.sweeper) return;
    const every = Math.min(Math.max(this.idleMs / 4, 250), 10_000);
    this.sweeper = setInterval(() => this.sweep(), every);
    this.sweeper.unref();
  }

  private stopSweeping(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  /** Called with a session's key when it ends (sign-out, expiry, user removed): what it opened must close. */
  onEnd(listener: (key: string, why: string) => void): () => void {
    this.endListeners.add(listener);
    return () => this.endListeners.delete(listener);
  }

  private end(key: string, why: string, tell = true): void {
    this.lastUsed.delete(key);
    if (!this.sessions.delete(key)) return;
    if (tell) this.share?.ended(key);
    for (const listener of this.endListeners) listener(key, why);
  }

  /** `name` and `password` must already be bounded (signInSchema): they reach the throttle and the audit trail. */
  /**
   * A right password of a disabled user, or one past accounts.passwordMaxAge, is `{ outcome:
   * 'account', reason }`: said only after the password was checked, so it tells nothing to a guesser.
   */
  async signIn(
    name: string,
    password: string,
    address: string,
  ): Promise<{ token: string; session: Session } | Exclude<Verdict, { outcome: 'ok' }> | { outcome: 'account'; reason: string }> {
    const config = this.registry().config;
    const user = config.users.find((u) => u.name === name);
    const verdict = await this.throttle.attempt({ account: name, address, channel: 'http' }, user !== undefined, () =>
      verifyPassword(password, user!.passwordHash),
    );
    if (verdict.outcome !== 'ok') return verdict;
    const reason = userRefusal(user!, config.accounts);
    if (reason) return { outcome: 'account', reason };
    const token = `cc_ses_${randomBytes(32).toString('base64url')}`;
    const session = { user: user!.name, fullName: user!.fullName, role: user!.role, expiresAt: Date.now() + SESSION_MS };
    const key = sessionKey(token);
    this.sessions.set(key, session);
    this.lastUsed.set(key, Date.now());
    this.share?.started(key, session);
    if (this.idleMs > 0) this.startSweeping();
    return { token, session };
  }

  signOut(token: string): void {
    this.end(sessionKey(token), 'signed out');
  }
}

/**
 * Bounded before anything is hashed or written to the audit trail: a user name is a registry
 * identifier (1-64 safe characters), so a refused sign-in cannot carry 50 KB into the trail.
 */
const signInSchema = z.object({
  user: z
    .string()
    .min(1)
    .max(64, 'a user name has at most 64 characters')
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a user name is letters, digits, "-", "_" or "." and starts with a letter or digit'),
  password: z.string().min(1).max(1024, 'a password has at most 1024 characters'),
});

/** POST/GET/DELETE /api/v1/session: the board's sign-in (the store is `app.sessions`, made by server.ts). */
export const sessionRoutes: ApiPlugin<{ registry: () => Registry; audit?: AuditLog }> = async (app, deps) => {
  app.post('/api/v1/session', { schema: { body: signInSchema, response: { 201: signedInSchema } } }, async (request, reply) => {
    const { user: name, password } = request.body;
    const outcome = await app.sessions.signIn(name, password, request.ip);
    if ('outcome' in outcome) {
      if (outcome.outcome === 'account') {
        await deps.audit?.append({ actor: name, action: 'session.refused', target: 'board', details: { ip: request.ip, reason: outcome.reason } });
        throw new HttpError(401, 'unauthorized', `sign-in refused: ${outcome.reason}`);
      }
      if (outcome.outcome === 'refused') {
        // Names that are no user are kept apart from real actors, so the trail's actors stay real people.
        const known = deps.registry().config.users.some((u) => u.name === name);
        await deps.audit?.append({
          actor: known ? name : '(unknown user)',
          action: 'session.refused',
          target: 'board',
          details: { ip: request.ip, ...(known ? {} : { name: shortName(name) }) },
        });
        throw new HttpError(401, 'unauthorized', 'wrong user name or password');
      }
      request.log.warn({ user: name, ip: request.ip, outcome: outcome.outcome }, 'sign-in not checked');
      const seconds = outcome.outcome === 'locked' ? Math.ceil(outcome.retryAfterMs / 1000) : 2;
      throw new HttpError(429, 'too_many_requests', `sign-in refused: ${explainVerdict(outcome)}`, { 'Retry-After': String(seconds) });
    }
    await deps.audit?.append({ actor: outcome.session.user, action: 'session.start', target: 'board', details: { ip: request.ip } });
    return reply.code(201).send({ token: outcome.token, ...outcome.session });
  });

  app.get('/api/v1/session', { schema: { response: { 200: sessionSchema } } }, async (request) => {
    const token = bearerToken(request);
    const session = token ? app.sessions.lookup(token) : undefined;
    if (!session) throw new HttpError(401, 'unauthorized', 'not signed in');
    return session;
  });

  app.delete('/api/v1/session', async (request, reply) => {
    const token = bearerToken(request);
    if (token) app.sessions.signOut(token);
    return reply.code(204).send();
  });
};
