import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

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
