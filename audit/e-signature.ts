import { userRefusal } from '../core/accounts.js';
import type { Accounts, ApiRole, User } from '../core/config/schema.js';
import { Refusal } from '../core/refusal.js';
import { verifyPassword } from '../core/secrets.js';
import { explainVerdict, isAccountName, shortName, throttleFor } from '../core/throttle.js';
import type { AuditLog } from './audit-log.js';
import type { Signature } from './signature-record.js';

export { signatureInput, signatureRecordSchema, type Signature, type SignatureRecord } from './signature-record.js';

/** accounts.passwordMaxAge's default, for a caller that does not pass the configuration's. */
const DEFAULT_PASSWORD_MAX_AGE = 180 * 86_400_000;

export class SignatureError extends Refusal<401 | 403 | 429> {}

/**
 * Checks user and password, then role; every refusal is written to the audit trail before the
 * error is thrown, so failed signing attempts are on record too.
 */
export async function verifySigner(
  deps: { users: readonly User[]; audit: AuditLog; accounts?: Pick<Accounts, 'passwordMaxAge'> },
  signature: Signature,
  request: { action: string; target: string; roles: readonly ApiRole[]; what: string },
): Promise<User> {
  const user = deps.users.find((u) => u.name === signature.user);
  // The name is bounded before it reaches the trail: a name that is no user is kept apart from real actors.
  const actor = user ? user.name : '(unknown user)';
  const named = user ? {} : { name: shortName(signature.user) };
  // Both components are checked before anything is said about either; the throttle makes an
  // unknown name take as long as a wrong password, and bounds the hashes (shared with sign-in).
  const verdict = isAccountName(signature.user)
    ? await throttleFor(deps.audit).attempt({ account: signature.user, channel: 'signature' }, user !== undefined, () =>
        signature.password.length > 1024 ? Promise.resolve(false) : verifyPassword(signature.password, user!.passwordHash),
      )
    : ({ outcome: 'refused' } as const);
  if (verdict.outcome === 'locked' || verdict.outcome === 'busy') {
    // A lockout is recorded once by the throttle; each attempt during it is not (a flood would grow the trail).
    throw new SignatureError(`signature refused: ${explainVerdict(verdict)}`, 429);
  }
  if (verdict.outcome !== 'ok') {
    await deps.audit.append({
      actor,
      action: 'signature.refused',
      target: request.target,
      details: { attempted: request.action, reason: 'wrong user name or password', ...named },
    });
    throw new SignatureError('signature refused: wrong user name or password', 401);
  }
  const signer = user!;
  // 21 CFR 11.300: a disabled account, or a password past accounts.passwordMaxAge, does not sign.
  const refusal = userRefusal(signer, deps.accounts ?? { passwordMaxAge: DEFAULT_PASSWORD_MAX_AGE });
  if (refusal) {
    await deps.audit.append({
      actor: signer.name,
      action: 'signature.refused',
      target: request.target,
      details: { attempted: request.action, reason: refusal },
    });
    throw new SignatureError(`signature refused: ${refusal}`, 403);
  }
  if (!request.roles.includes(signer.role)) {
    await deps.audit.append({
      actor: signer.name,
      printedName: signer.fullName,
      action: 'signature.refused',
      target: request.target,
      details: { attempted: request.action, reason: `role ${signer.role}` },
    });
    throw new SignatureError(`${signer.fullName} (${signer.role}) may not ${request.what}; needs ${request.roles.join(' or ')}`, 403);
  }
  return signer;
}
