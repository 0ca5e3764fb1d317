import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_CONFIG_FILE, parseConfigText } from '../core/config/load.js';
import { SAMPLE_CONFIG } from './sample-config.js';
import { ensureSelfSigned } from './self-signed.js';

/** Writes the sample config and its data directory; returns the config path. */
export function writeSampleConfig(file: string): string {
  parseConfigText(SAMPLE_CONFIG, file); // the sample must always be valid
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, SAMPLE_CONFIG, { mode: 0o600 });
  // The owner's alone: readings, audit trail, keys, the managed influxd's credentials (issue 12, item 16).
  mkdirSync(path.join(path.dirname(file), 'data'), { recursive: true, mode: 0o700 });
  return file;
}

/** The sample config, and a self-signed certificate for HTTPS (its http.tls lines point to it) unless one is there. */
export function writeSampleSetup(file: string): { config: string; tls: ReturnType<typeof ensureSelfSigned> } {
  writeSampleConfig(file);
  return { config: file, tls: ensureSelfSigned(path.join(path.dirname(file), 'data')) };
}

export function initCommand(options: { dir: string; force?: boolean; config?: string }): void {
  const file = path.resolve(options.config ?? path.join(options.dir, DEFAULT_CONFIG_FILE));
  if (existsSync(file) && !options.force) {
    throw new Error(`${file} already exists; pass --force to overwrite it`);
  }
  const { tls } = writeSampleSetup(file);
  process.stdout.write(
    [
      `wrote ${file} (demo site: 2–8 °C cold room, −25…−15 °C freezer, ambient zone, reefer truck)`,
      `created ${path.join(path.dirname(file), 'data')}`,
      `${tls.created ? 'wrote a self-signed certificate' : 'kept the certificate'} ${tls.cert} and key ${tls.key} (0600) for HTTPS: uncomment http.tls in the config to serve other machines`,
      'next:',
      `  coldchain device add dc-sh-cr1-s1 --location dc-sh-cold-room-1 --config ${file}`,
      `  coldchain start --config ${file}`,
      '',
    ].join('\n'),
  );
}
