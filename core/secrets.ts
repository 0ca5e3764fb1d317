import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { passwordHasher } from './password-hasher.js';

/**
 * Device and API tokens are 256-bit random strings, so a fast hash is enough to store them
 * (nothing to brute-force); user passwords need a slow KDF instead.
 */
export function generateToken(prefix: 'dev' | 'api'): string {
  return `cc_${prefix}_${randomBytes(32).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return `sha256:${createHash('sha256').update(token, 'utf8').digest('hex')}`;
}

/** Compares a presented token with a stored hash in constant time. */
export function tokenMatches(presented: string | Buffer | undefined, storedHash: string): boolean {
  if (presented === undefined) return false;
  const expected = Buffer.from(storedHash.slice('sha256:'.length), 'hex');
  const actual = createHash('sha256').update(presented).digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

const SCRYPT = { N: 16384, r: 8, p: 1, keylen: 32 } as const;

function scryptAsync(password: string, salt: Buffer, N: number, r: number, p: number, keylen: number): Promise<Buffer> {
  return passwordHasher.hash(password, salt, N, r, p, keylen);
}

/**
 * Two throwaway hashes with the parameters passwords are stored with, on the hasher's thread at
 * its low priority, when the service starts: the first two hashes of a process took 2–3 × as long
 * as the rest (72–85 ms against 30–37 ms here) while the 16 MiB scrypt works in was first touched
 * (from the second one on, the allocator keeps it), and the board's first sign-ins after a start
 * waited for them (the password check 200 ms, the median of three sign-ins in `npm run bench`).
 * They are not the throttle's (core/throttle.ts): a sign-in in the first ≈ 0.2 s after a start
 * waits behind them, once.
 */
export function warmPasswordHashing(): void {
  const salt = randomBytes(16);
  for (let i = 0; i < 2; i++) scryptAsync(randomBytes(16).toString('base64'), salt, SCRYPT.N, SCRYPT.r, SCRYPT.p, SCRYPT.keylen).catch(() => undefined);
}

/** User passwords: scrypt (slow on purpose), stored as scrypt$N$r$p$salt$hash. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, SCRYPT.N, SCRYPT.r, SCRYPT.p, SCRYPT.keylen);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = await scryptAsync(password, Buffer.from(salt, 'base64'), Number(n), Number(r), Number(p), expected.length);
  return timingSafeEqual(expected, actual);
}
