import { resolveConfigPath } from '../core/config/load.js';
import { appendToList, editConfig } from '../core/config/edit.js';
import { generateToken, hashToken } from '../core/secrets.js';

export function tokenCreateCommand(options: { role: string; id?: string; config?: string }): void {
  const file = resolveConfigPath(options.config);
  const token = generateToken('api');
  const createdAt = new Date().toISOString();
  let id = options.id ?? '';
  editConfig(file, (doc, current) => {
    const taken = new Set(current.apiTokens.map((t) => t.id));
    if (options.id && taken.has(options.id)) throw new Error(`API token "${options.id}" already exists in ${file}`);
    if (!id) {
      const base = `${options.role}-${createdAt.slice(0, 10)}`;
      id = base;
      for (let n = 2; taken.has(id); n++) id = `${base}-${n}`;
    }
    appendToList(doc, 'apiTokens', { id, role: options.role, tokenHash: hashToken(token), createdAt });
  });
  process.stdout.write(`created API token ${id} (role ${options.role}) in ${file}; use it as "Authorization: Bearer <token>". Shown once.\n`);
  process.stdout.write(`${token}\n`);
}
