import { resolveConfigPath } from '../core/config/load.js';
import { appendToList, editConfig } from '../core/config/edit.js';
import { hashPassword } from '../core/secrets.js';
import { readSecret } from './prompt.js';

export async function userAddCommand(name: string, options: { role: string; fullName: string; config?: string }): Promise<void> {
  const file = resolveConfigPath(options.config);
  const password = await readSecret(`password for ${name}: `);
  if (password.length < 10) throw new Error('the password must have at least 10 characters');
  if (process.stdin.isTTY && (await readSecret('again: ')) !== password) throw new Error('the two passwords differ');
  const passwordHash = await hashPassword(password);
  editConfig(file, (doc, current) => {
    if (current.users.some((u) => u.name === name)) throw new Error(`user "${name}" already exists in ${file}`);
    appendToList(doc, 'users', { name, fullName: options.fullName, role: options.role, passwordHash });
  });
  process.stdout.write(`added user ${name} (${options.fullName}, ${options.role}) to ${file}; only an scrypt hash of the password is stored\n`);
}
