import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadConfig, resolveConfigPath } from '../core/config/load.js';
import { createLogger } from '../core/logger.js';
import type { Config } from '../core/config/schema.js';
import { lockDataDir } from '../app/data-dir-lock.js';
import { ManagedInfluxd } from '../storage/influxd.js';
import { InfluxClient } from '../storage/influx.js';
import { createBackup, restoreBackup, verifyBackup } from '../backup/backup.js';

const progress = (text: string) => process.stderr.write(`[backup] ${text}\n`);

/**
 * The database of a configuration while the service is stopped: `influx.url` when set, else the
 * managed influxd under the data directory, started here under the data directory's lock (a
 * running service holds it: its own influxd cannot be shared).
 */
export async function withDatabase<T>(config: Config, dataDir: string, work: (influx: InfluxClient) => Promise<T>): Promise<T> {
  let unlock: () => void;
  try {
    unlock = lockDataDir(dataDir);
  } catch (err) {
    throw new Error(`${(err as Error).message}; stop the service first (its managed InfluxDB is reachable only from it), or run it with influx.url set`);
  }
  const log = createLogger('warn', 'backup');
  let managed: ManagedInfluxd | undefined;
  try {
    let url = config.influx.url;
    if (!url) {
      managed = new ManagedInfluxd({ dataDir: path.join(dataDir, 'influxdb'), log, supervise: false, secure: true });
      await managed.start();
      url = managed.url;
    }
    const influx = new InfluxClient(
      {
        url,
        database: config.influx.database,
        ...(managed ? managed.credentials : { token: config.influx.token, username: config.influx.username, password: config.influx.password }),
      },
      120_000,
    );
    return await work(influx);
  } finally {
    await managed?.stop();
    unlock();
  }
}

export async function backupCommand(options: { config?: string; out: string }): Promise<void> {
  const loaded = loadConfig(options.config);
  const manifest = await withDatabase(loaded.config, loaded.dataDir, (influx) =>
    createBackup({ influx, dataDir: loaded.dataDir, configFile: loaded.file, out: options.out, progress }),
  );
  process.stdout.write(
    `backup written to ${path.resolve(options.out)}: ${manifest.measurements.map((m) => `${m.name} ${m.points}`).join(', ')}; ${manifest.files.length} files with SHA-256 digests in manifest.json; audit anchor ${manifest.auditLastHash ?? 'none'}\n`,
  );
}

export async function restoreCommand(options: { config?: string; from: string }): Promise<void> {
  const manifest = await verifyBackup(options.from);
  // A restore onto a machine without a configuration takes the one in the backup.
  const configFile = resolveConfigPath(options.config);
  const loaded = existsSync(configFile) ? loadConfig(configFile) : (await restoreConfigOnly(options.from, configFile), loadConfig(configFile));
  await withDatabase(loaded.config, loaded.dataDir, async (influx) => {
    await influx.ensureDatabase(loaded.config.influx.retention);
    await restoreBackup({ from: options.from, influx, dataDir: loaded.dataDir, progress });
  });
  process.stdout.write(
    `restored ${manifest.measurements.reduce((n, m) => n + m.points, 0)} points and ${manifest.files.length} files from ${path.resolve(options.from)} (made ${manifest.createdAt}) into ${loaded.dataDir}; run "coldchain audit verify" and start the service\n`,
  );
}

async function restoreConfigOnly(from: string, configFile: string): Promise<void> {
  const { copyFile } = await import('node:fs/promises');
  await copyFile(path.join(from, 'files', 'config.yaml'), configFile);
}
