import type { AuditInput } from '../audit/audit-log.js';
import { identifier } from './config/schema.js';

/**
 * Password checks (scrypt) for people: HTTP sign-in, MQTT user login, e-signatures.
 *
 * Two costs an attacker can push onto us without any credential, both bounded here:
 * - CPU: every hash is ~16 MB of memory-hard work. Hashes run one at a time process-wide, in a
 *   thread at a low priority (password-hasher.ts), with a short queue; past it the attempt is
 *   refused as busy without hashing.
 * - guessing: failures are counted per account and per address in a sliding window; past the
 *   limit that account (or address) is locked for a while and answered without hashing. The
 *   lockout is written to the audit trail once, not per attempt, so a flood cannot grow it.
 *
 * Device logins are not throttled: device tokens are 256-bit random strings compared as SHA-256
 * (cheap, nothing to guess), and locking devices out would lose readings.
 */
export const THROTTLE_LIMITS = {
  /** Failed attempts on one account within the window before it is locked. */
  accountFailures: 5,
  /** Failed attempts from one address within the window (over all accounts) before it is locked. */
  addressFailures: 20,
  windowMs: 15 * 60_000,
  lockoutMs: 15 * 60_000,
  /** scrypt hashes at once, for the whole process (they queue for the one hasher thread anyway). */
  concurrentHashes: 1,
  /** Attempts waiting for the hash slot; one more is refused as busy. */
  queuedHashes: 16,
  /** Accounts and addresses tracked; the oldest are forgotten first (a spray of names cannot grow memory). */
  trackedKeys: 10_000,
};
export type ThrottleLimits = typeof THROTTLE_LIMITS;

export type Channel = 'http' | 'mqtt' | 'signature';

export interface Attempt {
  /** The name as presented; already bounded by the caller's schema. */
  account: string;
  /** The peer's address when known (not for e-signatures, which come through an authenticated API call). */
  address?: string;
  channel: Channel;
}

export type Verdict = { outcome: 'ok' } | { outcome: 'refused' } | { outcome: 'locked'; retryAfterMs: number } | { outcome: 'busy' };

export interface AuditSink {
  append(input: AuditInput): Promise<unknown>;
}

/** Process-wide: the hasher thread is the process's. */
class HashSlots {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limits: () => ThrottleLimits) {}

  /** Resolves to a release function, or undefined when the queue is full. */
  acquire(): Promise<() => void> | undefined {
    const release = () => {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    };
    if (this.running < this.limits().concurrentHashes) {
      this.running++;
      return Promise.resolve(release);
    }
    if (this.waiting.length >= this.limits().queuedHashes) return undefined;
    return new Promise((resolve) => this.waiting.push(() => resolve(release)));
  }

  get active(): number {
    return this.running;
  }
}

let processLimits: ThrottleLimits = THROTTLE_LIMITS;
const slots = new HashSlots(() => processLimits);

/** Tests shrink the limits; returns a function that restores them. */
export function setThrottleLimitsForTest(limits: Partial<ThrottleLimits>): () => void {
  const before = processLimits;
  processLimits = { ...before, ...limits };
  return () => (processLimits = before);
}

export const hashesRunning = () => slots.active;

interface Failures {
  times: number[];
  lockedUntil: number;
}

/** A Map used as an LRU: re-inserting moves a key to the end, the first key is the oldest. */
function touch(map: Map<string, Failures>, key: string, max: number): Failures {
  let entry = map.get(key);
  if (entry) map.delete(key);
  entry ??= { times: [], lockedUntil: 0 };
  map.set(key, entry);
  while (map.size > max) map.delete(map.keys().next().value!);
  return entry;
}

/** Names that can be registry users; anything else is refused without a hash and logged shortened. */
export const isAccountName = (name: string): boolean => identifier.safeParse(name).success;

/** For logs and the audit trail: a presented name that is not a user, bounded and printable. */
export function shortName(name: string, max = 64): string {
  const printable = name.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > max ? `${printable.slice(0, max)}…(${name.length} chars)` : printable;
}

export class AuthThrottle {
  private readonly accounts = new Map<string, Failures>();
  private readonly addresses = new Map<string, Failures>();
  /** Typical scrypt time, so that refusing a name that is no user takes as long as a wrong password. */
  private hashMs = 50;

  constructor(private readonly audit?: AuditSink) {}

  /**
   * Runs `verify` (the password hash) under the lockout and the process-wide hash limit.
   * `verify` must be the hash only: it is skipped when the attempt is locked or the queue full.
   * When `known` is false (no such user), no hash runs: the answer waits as long as one would.
   */
  async attempt(who: Attempt, known: boolean, verify: () => Promise<boolean>): Promise<Verdict> {
    const now = Date.now();
    const limits = processLimits;
    const account = touch(this.accounts, `${who.account}`, limits.trackedKeys);
    const address = who.address === undefined ? undefined : touch(this.addresses, who.address, limits.trackedKeys);
    const lockedUntil = Math.max(account.lockedUntil, address?.lockedUntil ?? 0);
    if (lockedUntil > now) return { outcome: 'locked', retryAfterMs: lockedUntil - now };

    let ok = false;
    if (known) {
      const acquired = slots.acquire();
      if (!acquired) return { outcome: 'busy' };
      const release = await acquired;
      // Attempts queued together all passed the check above; the ones behind a lockout must not hash.
      const lockedMeanwhile = Math.max(account.lockedUntil, address?.lockedUntil ?? 0);
      if (lockedMeanwhile > Date.now()) {
        release();
        return { outcome: 'locked', retryAfterMs: lockedMeanwhile - Date.now() };
      }
      const started = performance.now();
      try {
        ok = await verify().catch(() => false);
      } finally {
        release();
      }
      // Follows the machine's load quickly: a stale estimate would make unknown names answer faster.
      this.hashMs = 0.5 * this.hashMs + 0.5 * (performance.now() - started);
    } else {
      await this.imitateHash();
    }
    if (ok) {
      account.times = [];
      return { outcome: 'ok' };
    }
    await this.fail(who, 'account', account, limits.accountFailures, limits);
    if (address) await this.fail(who, 'address', address, limits.addressFailures, limits);
    return { outcome: 'refused' };
  }

  /** Waits about as long as a password hash takes, without hashing (a timer costs no CPU). */
  imitateHash(): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, this.hashMs * (0.9 + 0.2 * Math.random())));
  }

  private async fail(who: Attempt, scope: 'account' | 'address', entry: Failures, max: number, limits: ThrottleLimits): Promise<void> {
    const now = Date.now();
    entry.times = entry.times.filter((t) => t > now - limits.windowMs);
    entry.times.push(now);
    if (entry.times.length < max || entry.lockedUntil > now) return;
    entry.lockedUntil = now + limits.lockoutMs;
    entry.times = [];
    await this.audit?.append({
      actor: 'system',
      action: 'security.lockout',
      target: scope === 'account' ? `account:${shortName(who.account)}` : `address:${who.address}`,
      details: {
        scope,
        failures: max,
        windowMinutes: limits.windowMs / 60_000,
        lockedUntil: new Date(now + limits.lockoutMs).toISOString(),
        channel: who.channel,
        ...(scope === 'address' ? { lastAccount: shortName(who.account) } : { address: who.address ?? null }),
      },
    });
  }
}

const perTrail = new WeakMap<AuditSink, AuthThrottle>();

/**
 * One throttle per audit trail, i.e. per running service: sign-in, MQTT user login and
 * e-signatures all reach the trail, so they share one count of failures without more wiring.
 */
export function throttleFor(audit: AuditSink | undefined): AuthThrottle {
  if (!audit) return new AuthThrottle();
  let throttle = perTrail.get(audit);
  if (!throttle) perTrail.set(audit, (throttle = new AuthThrottle(audit)));
  return throttle;
}

/** A human sentence for a refused attempt that was not a wrong password. */
export function explainVerdict(verdict: Verdict): string | undefined {
  if (verdict.outcome === 'locked') return `too many failed attempts; locked for another ${Math.ceil(verdict.retryAfterMs / 60_000)} min`;
  if (verdict.outcome === 'busy') return 'too many password checks at once; try again in a few seconds';
  return undefined;
}
