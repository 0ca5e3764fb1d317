import type { Accounts, ApiToken, User } from './config/schema.js';

/** 21 CFR 11.300: why an API token may no longer be used (revoked, expired), or undefined while it is valid. */
export function tokenRefusal(token: Pick<ApiToken, 'id' | 'expiresAt' | 'revokedAt'>, now = Date.now()): string | undefined {
  if (token.revokedAt) return `API token ${token.id} was revoked on ${token.revokedAt}`;
  if (token.expiresAt && Date.parse(token.expiresAt) <= now) return `API token ${token.id} expired on ${token.expiresAt}`;
  return undefined;
}

export const tokenState = (token: ApiToken, now = Date.now()): 'active' | 'expired' | 'revoked' =>
  token.revokedAt ? 'revoked' : token.expiresAt && Date.parse(token.expiresAt) <= now ? 'expired' : 'active';

/** When a user's password expires (undefined: it does not, or was set before ageing was recorded). */
export function passwordExpiresAt(user: Pick<User, 'passwordSetAt'>, accounts: Pick<Accounts, 'passwordMaxAge'> | undefined): number | undefined {
  if (!user.passwordSetAt || !accounts?.passwordMaxAge) return undefined;
  return Date.parse(user.passwordSetAt) + accounts.passwordMaxAge;
}

/**
 * Why a user, whose password was right, may not sign in or sign: disabled, or the password is
 * older than accounts.passwordMaxAge. Undefined when the user may.
 */
export function userRefusal(
  user: Pick<User, 'name' | 'disabledAt' | 'passwordSetAt'>,
  accounts: Pick<Accounts, 'passwordMaxAge'> | undefined,
  now = Date.now(),
): string | undefined {
  if (user.disabledAt)
    return `user ${user.name} is disabled (since ${user.disabledAt}); an administrator can enable it with coldchain user enable ${user.name}`;
  const expires = passwordExpiresAt(user, accounts);
  if (expires !== undefined && expires <= now) return `password expired; set a new one with coldchain user password ${user.name}`;
  return undefined;
}
