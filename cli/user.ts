import { loadConfig, resolveConfigPath } from '../core/config/load.js';
import { appendToList, editConfig } from '../core/config/edit.js';
import { hashPassword, verifyPassword } from '../core/secrets.js';
import { readSecret } from './prompt.js';

/** The current password and this many before it may not be set again (21 CFR 11.300(b)). */
const REMEMBERED = 5;

async function readNewPassword(name: string): Promise<string> {
  const password = await readSecret(`password for ${name}: `);
  if (password.length < 10) throw new Error('the password must have at least 10 characters');
  if (process.stdin.isTTY && (await readSecret('again: ')) !== password) throw new Error('the two passwords differ');
  return password;
}

export async function userAddCommand(name: string, options: { role: string; fullName: string; config?: string }): Promise<void> {
  const file = resolveConfigPath(options.config);
  const password = await readNewPassword(name);
  const passwordHash = await hashPassword(password);
  editConfig(file, (doc, current) => {
    if (current.users.some((u) => u.name === name)) throw new Error(`user "${name}" already exists in ${file}`);
    appendToList(doc, 'users', { name, fullName: options.fullName, role: options.role, passwordHash, passwordSetAt: new Date().toISOString() });
  });
  process.stdout.write(`added user ${name} (${options.fullName}, ${options.role}) to ${file}; only an scrypt hash of the password is stored\n`);
}

/** A new password (stdin or prompted twice), none of the last five; the old hash is kept to refuse it later. */
export async function userPasswordCommand(name: string, options: { config?: string }): Promise<void> {
  const file = resolveConfigPath(options.config);
  const before = loadConfig(options.config).config.users.find((u) => u.name === name);
  if (!before) throw new Error(`no user "${name}" in ${file}`);
  const password = await readNewPassword(name);
  const recent = [before.passwordHash, ...(before.previousHashes ?? [])].slice(0, REMEMBERED);
  for (const hash of recent)
    if (await verifyPassword(password, hash).catch(() => false)) throw new Error(`this password was one of the last ${REMEMBERED} of ${name}; choose another`);
  const passwordHash = await hashPassword(password);
  editConfig(file, (doc, current) => {
    const index = current.users.findIndex((u) => u.name === name);
    const user = current.users[index];
    if (!user) throw new Error(`no user "${name}" in ${file}`);
    if (user.passwordHash !== before.passwordHash) throw new Error(`the password of ${name} was changed meanwhile; run the command again`);
    doc.setIn(['users', index, 'passwordHash'], passwordHash);
    doc.setIn(['users', index, 'passwordSetAt'], new Date().toISOString());
    doc.setIn(['users', index, 'previousHashes'], doc.createNode(recent.slice(0, REMEMBERED - 1)));
  });
  process.stdout.write(`set a new password for ${name} in ${file}; only scrypt hashes are stored\n`);
}

/** Disable (keep the user, refuse sign-in, signatures and MQTT) or enable again. */
export function userEnableCommand(name: string, enable: boolean, options: { config?: string }): void {
  const file = resolveConfigPath(options.config);
  const at = new Date().toISOString();
  editConfig(file, (doc, current) => {
    const index = current.users.findIndex((u) => u.name === name);
    const user = current.users[index];
    if (!user) throw new Error(`no user "${name}" in ${file}`);
    if (enable) {
      if (!user.disabledAt) throw new Error(`user ${name} is not disabled`);
      doc.deleteIn(['users', index, 'disabledAt']);
    } else {
      if (user.disabledAt) throw new Error(`user ${name} is already disabled (since ${user.disabledAt})`);
      doc.setIn(['users', index, 'disabledAt'], at);
    }
  });
  process.stdout.write(
    enable
      ? `enabled user ${name} in ${file}\n`
      : `disabled user ${name} in ${file} at ${at}: no sign-in, signature or MQTT login until coldchain user enable ${name}\n`,
  );
}
