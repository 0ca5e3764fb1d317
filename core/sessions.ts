import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { apiRoles, type ApiRole } from './config/schema.js';
import type { Registry } from './registry.js';
import { tokenRefusal, userRefusal } from './accounts.js';
import { tokenMatches, verifyPassword } from './secrets.js';
import { Refusal } from './refusal.js';
import { explainVerdict, shortName, type AuditSink, type AuthThrottle, type Verdict } from './throttle.js';

export const sessionSchema = z.object({ user: z.string(), fullName: z.string(), role: z.enum(apiRoles), expiresAt: z.number() });
export type Session = z.infer<typeof sessionSchema>;
/** What a sign-in answers: the session and its bearer token. */
export const signedInSchema = sessionSchema.extend({ token: z.string() });
export type SessionInfo = z.infer<typeof signedInSchema>;

/**
 * Bounded before anything is hashed or written to the audit trail: a user name is a registry
 * identifier (1-64 safe characters), so a refused sign-in cannot carry 50 KB into the trail.
 */
export const signInSchema = z.object({
  user: z
    .string()
    .min(1)
    .max(64, 'a user name has at most 64 characters')
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a user name is letters, digits, "-", "_" or "." and starts with a letter or digit'),
  password: z.string().min(1).max(1024, 'a password has at most 1024 characters'),
});
export type SignIn = z.infer<typeof signInSchema>;

/** A sign-in that did not start a session: the person's (401: the account, or a wrong name or password, never which) or the throttle's (429, and when to try again). */
export type SignInRefused = Exclude<Verdict, { outcome: 'ok' }> | { outcome: 'account'; reason: string };
export function signInRefusal(refused: SignInRefused): Refusal {
  if (refused.outcome === 'account') return new Refusal(`sign-in refused: ${refused.reason}`, 401, 'unauthorized');
  if (refused.outcome === 'refused') return new Refusal('wrong user name or password', 401, 'unauthorized');
  const seconds = refused.outcome === 'locked' ? Math.ceil(refused.retryAfterMs / 1000) : 2;
  return new Refusal(`sign-in refused: ${explainVerdict(refused)}`, 429, 'too_many_requests', { 'Retry-After': String(seconds) });
}

/** How a session is named without keeping its token. */
export const sessionKey = (token: string) => createHash('sha256').update(token).digest('hex');

/** What a credential is kept as without the secret itself, so what it opened can end with it. */
export type Credential = { kind: 'session'; key: string } | { kind: 'api'; id: string; tokenHash: string };

/** Who holds a bearer token: its name (`user:<name>` for a session), role and credential. */
export interface Caller {
  tokenId: string;
  role: ApiRole;
  credential: Credential;
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
 * board and keeps no secret on disk. Also who holds any bearer token (`identify`): a session, or
 * an API token from the config.
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
    /** Where sign-ins and refused ones are recorded (absent: nowhere). */
    private readonly audit?: AuditSink,
  ) {}

  /**
   * Who holds a token: a board session of a registry user, or an API token from the config; or,
   * for an API token that is revoked or expired, why it is refused (21 CFR 11.300).
   */
  identify(token: string): Caller | { refused: string } | undefined {
    const session = this.lookup(token);
    if (session) return { tokenId: `user:${session.user}`, role: session.role, credential: { kind: 'session', key: sessionKey(token) } };
    const entry = this.registry().config.apiTokens.find((candidate) => tokenMatches(token, candidate.tokenHash));
    if (!entry) return undefined;
    const refused = tokenRefusal(entry);
    if (refused) return { refused };
    return { tokenId: entry.id, role: entry.role, credential: { kind: 'api', id: entry.id, tokenHash: entry.tokenHash } };
  }

  /** The credential of a bearer token that holds now (a session, or an API token neither revoked nor expired). */
  credential(token: string | undefined): Credential | undefined {
    const caller = token ? this.identify(token) : undefined;
    return caller && !('refused' in caller) ? caller.credential : undefined;
  }

  /** Whether a credential still holds: its session valid, or its API token in the config and neither revoked nor expired. */
  holds(credential: Credential): boolean {
    if (credential.kind === 'session') return this.byKey(credential.key) !== undefined;
    const entry = this.registry().config.apiTokens.find((t) => t.id === credential.id && t.tokenHash === credential.tokenHash);
    return entry !== undefined && tokenRefusal(entry) === undefined;
  }

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

  /**
   * `name` and `password` must already be bounded: they reach the throttle and the audit trail.
   * A right password of a disabled user, or one past accounts.passwordMaxAge, is `{ outcome:
   * 'account', reason }`: said only after the password was checked, so it tells nothing to a guesser.
   * A sign-in and a refused one are audited (`session.start`, `session.refused`); a name that is no
   * user is kept apart from real actors, so the trail's actors stay real people.
   */
  /**
   * `whileChecking` is called when the password's hash starts (the attempt was let through and the
   * user exists), for work the answer will need once it was right: it runs beside the hash.
   */
  async signIn(name: string, password: string, address: string, whileChecking?: () => void): Promise<{ token: string; session: Session } | SignInRefused> {
    const config = this.registry().config;
    const user = config.users.find((u) => u.name === name);
    const verdict = await this.throttle.attempt({ account: name, address, channel: 'http' }, user !== undefined, () => {
      const verified = verifyPassword(password, user!.passwordHash);
      whileChecking?.();
      return verified;
    });
    const refused = (actor: string, details: Record<string, unknown>) =>
      this.audit?.append({ actor, action: 'session.refused', target: 'board', details: { ip: address, ...details } });
    if (verdict.outcome === 'refused') await refused(user ? name : '(unknown user)', user ? {} : { name: shortName(name) });
    if (verdict.outcome !== 'ok') return verdict;
    const reason = userRefusal(user!, config.accounts);
    if (reason) {
      await refused(name, { reason });
      return { outcome: 'account', reason };
    }
    const token = `cc_ses_${randomBytes(32).toString('base64url')}`;
    const session = { user: user!.name, fullName: user!.fullName, role: user!.role, expiresAt: Date.now() + SESSION_MS };
    const key = sessionKey(token);
    this.sessions.set(key, session);
    this.lastUsed.set(key, Date.now());
    this.share?.started(key, session);
    if (this.idleMs > 0) this.startSweeping();
    await this.audit?.append({ actor: session.user, action: 'session.start', target: 'board', details: { ip: address } });
    return { token, session };
  }

  signOut(token: string): void {
    this.end(sessionKey(token), 'signed out');
  }
}
