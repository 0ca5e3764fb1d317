import { resolveConfigPath } from '../core/config/load.js';
import { appendToList, editConfig } from '../core/config/edit.js';
import { parseDuration } from '../core/duration.js';
import { generateToken, hashToken } from '../core/secrets.js';

export function deviceAddCommand(id: string, options: { location: string; interval: string; name?: string; config?: string }): void {
  const file = resolveConfigPath(options.config);
  if (parseDuration(options.interval) === undefined) throw new Error(`--interval "${options.interval}" is not a duration; write e.g. 30s, 60s, 5m`);
  const token = generateToken('dev');
  editConfig(file, (doc, current) => {
    const existing = current.devices.findIndex((d) => d.id === id);
    if (existing !== -1) throw new Error(`device "${id}" already exists (devices[${existing}] in ${file})`);
    const locations = current.sites.flatMap((s) => s.locations.map((l) => l.id));
    if (!locations.includes(options.location))
      throw new Error(`unknown location "${options.location}"; known: ${locations.join(', ') || 'none (add sites first)'}`);
    appendToList(doc, 'devices', {
      id,
      location: options.location,
      interval: options.interval,
      ...(options.name ? { name: options.name } : {}),
      tokenHash: hashToken(token),
    });
  });
  process.stdout.write(`registered device ${id} at ${options.location} (reporting every ${options.interval}) in ${file}\n`);
  process.stdout.write(`MQTT: username ${id}, password below; publish to cc/v1/${id}/telemetry. Shown once; only its hash is stored.\n`);
  process.stdout.write(`${token}\n`);
}
