import { loadConfig, resolveConfigPath } from '../core/config/load.js';
import { appendToList, editConfig } from '../core/config/edit.js';
import { parseDuration } from '../core/duration.js';
import { tokenState } from '../core/accounts.js';
import { generateToken, hashToken } from '../core/secrets.js';

/** How long a token lives unless `--expires` says otherwise (21 CFR 11.300(b): credentials are checked and renewed). */
export const DEFAULT_TOKEN_LIFETIME = '90d';

export function tokenCreateCommand(options: { role: string; id?: string; expires?: string; service?: string; config?: string }): void {
  const file = resolveConfigPath(options.config);
  const expires = options.expires ?? DEFAULT_TOKEN_LIFETIME;
  let lifetime: number | undefined;
  if (expires === 'never') {
    if (!options.service?.trim())
      throw new Error('--expires never is only for a service token an administrator creates for a named service: add --service "<what uses it>"');
  } else {
    lifetime = parseDuration(expires);
    if (!lifetime) throw new Error(`--expires ${expires}: write a duration such as 30d, 12h or 90d, or "never" (service tokens, with --service)`);
  }
  const token = generateToken('api');
  const now = Date.now();
  const createdAt = new Date(now).toISOString();
  const expiresAt = lifetime === undefined ? undefined : new Date(now + lifetime).toISOString();
  let id = options.id ?? '';
  editConfig(file, (doc, current) => {
    const taken = new Set(current.apiTokens.map((t) => t.id));
    if (options.id && taken.has(options.id)) throw new Error(`API token "${options.id}" already exists in ${file}`);
    if (!id) {
      const base = `${options.role}-${createdAt.slice(0, 10)}`;
      id = base;
      for (let n = 2; taken.has(id); n++) id = `${base}-${n}`;
    }
    appendToList(doc, 'apiTokens', {
      id,
      role: options.role,
      tokenHash: hashToken(token),
      createdAt,
      ...(expiresAt ? { expiresAt } : { service: options.service!.trim() }),
    });
  });
  const until = expiresAt ? `expires ${expiresAt}` : `service token for ${options.service!.trim()}, never expires`;
  process.stdout.write(`created API token ${id} (role ${options.role}, ${until}) in ${file}; use it as "Authorization: Bearer <token>". Shown once.\n`);
  process.stdout.write(`${token}\n`);
}

/** One line per token: id, role, created, expires, state; never the hash. */
export function tokenListCommand(options: { config?: string }): void {
  const { config } = loadConfig(options.config);
  const rows = [
    ['ID', 'ROLE', 'CREATED', 'EXPIRES', 'STATE'],
    ...config.apiTokens.map((t) => {
      const state = tokenState(t);
      return [
        t.id,
        t.role,
        t.createdAt ?? '-',
        t.expiresAt ?? (t.service ? `never (service: ${t.service})` : 'never'),
        state === 'revoked' ? `revoked ${t.revokedAt}` : state,
      ];
    }),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const row of rows)
    process.stdout.write(
      `${row
        .map((cell, c) => cell.padEnd(widths[c]!))
        .join('  ')
        .trimEnd()}\n`,
    );
}

/** Marks a token revoked (kept in the config, so the record shows it and when); the service refuses it within a second. */
export function tokenRevokeCommand(id: string, options: { config?: string }): void {
  const file = resolveConfigPath(options.config);
  const revokedAt = new Date().toISOString();
  editConfig(file, (doc, current) => {
    const index = current.apiTokens.findIndex((t) => t.id === id);
    if (index < 0) throw new Error(`no API token "${id}" in ${file}; see coldchain token list`);
    const already = current.apiTokens[index]!.revokedAt;
    if (already) throw new Error(`API token ${id} was already revoked on ${already}`);
    doc.setIn(['apiTokens', index, 'revokedAt'], revokedAt);
  });
  process.stdout.write(`revoked API token ${id} at ${revokedAt} in ${file}; it stays listed as revoked\n`);
}
