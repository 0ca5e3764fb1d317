import { z } from 'zod';
import type { ApiRole, User } from '../core/config/schema.js';
import { verifyPassword } from '../core/secrets.js';
import type { AuditLog } from './audit-log.js';

/** What a signer presents (21 CFR 11.200: two identification components, plus the meaning). */
export interface Signature {
  user: string;
  password: string;
  meaning: string;
  comment: string;
}

/** A signature as it is kept on a record: printed name, time and meaning (21 CFR 11.50). */
export const signatureRecordSchema = z.object({ by: z.string(), printedName: z.string(), at: z.number(), meaning: z.string(), comment: z.string() });
export type SignatureRecord = z.infer<typeof signatureRecordSchema>;

export class SignatureError extends Error {
  constructor(
    message: string,
    readonly status: 401 | 403,
  ) {
    super(message);
  }
}

// A real scrypt hash of nothing: unknown users cost the same time as known ones.
const DECOY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

/**
 * Checks user and password, then role; every refusal is written to the audit trail before the
 * error is thrown, so failed signing attempts are on record too.
 */
export async function verifySigner(deps: { users: readonly User[]; audit: AuditLog }, signature: Signature, request: { action: string; target: string; roles: readonly ApiRole[]; what: string }): Promise<User> {
  const user = deps.users.find((u) => u.name === signature.user);
  // Both components are checked before anything is said about either.
  const ok = user ? await verifyPassword(signature.password, user.passwordHash) : await verifyPassword(signature.password, DECOY_HASH).then(() => false);
  if (!user || !ok) {
    await deps.audit.append({ actor: signature.user, action: 'signature.refused', target: request.target, details: { attempted: request.action, reason: 'wrong user name or password' } });
    throw new SignatureError('signature refused: wrong user name or password', 401);
  }
  if (!request.roles.includes(user.role)) {
    await deps.audit.append({ actor: user.name, printedName: user.fullName, action: 'signature.refused', target: request.target, details: { attempted: request.action, reason: `role ${user.role}` } });
    throw new SignatureError(`${user.fullName} (${user.role}) may not ${request.what}; needs ${request.roles.join(' or ')}`, 403);
  }
  return user;
}
