import { readFileSync, statSync } from 'node:fs';
import { z } from 'zod';
import { parseYamlWith } from '../core/config/load.js';

/**
 * The secrets a validation run uses, from a file (never the command line): the validation
 * device's MQTT token, the signer's password and, unless `$COLDCHAIN_API_TOKEN` or
 * `--token-file` gives it, an API token (role qa or admin: the audit trail is read).
 */
export const credentialsSchema = z.object({
  apiToken: z.string().min(1).optional().describe('an API token of role qa or admin'),
  device: z.object({
    id: z.string().min(1).describe('the validation device (alone at a validation place)'),
    token: z.string().min(1).describe('its MQTT token'),
  }),
  signer: z.object({
    user: z.string().min(1).describe('a user of role qa or admin who signs the test alarm'),
    password: z.string().min(1),
  }),
});
export type Credentials = z.output<typeof credentialsSchema>;

export function loadCredentials(file: string): { credentials: Credentials; openToOthers: boolean } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`--credentials ${file}: ${(err as Error).message}`);
  }
  return { credentials: parseYamlWith(credentialsSchema, text, file, 'credentials file'), openToOthers: (statSync(file).mode & 0o077) !== 0 };
}
