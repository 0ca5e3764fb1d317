import { existsSync } from 'node:fs';
import path from 'node:path';
import { lockDataDir } from '../app/data-dir-lock.js';
import { loadConfig, resolveConfigPath } from '../core/config/load.js';
import { createLogger } from '../core/logger.js';
import { Spool } from '../ingestor/spool.js';
import { deadLetterPath, SpoolWriter } from '../ingestor/writer.js';
import { InfluxClient } from '../storage/influx.js';
import { environment } from './environment.js';
import { withEnvironment } from '../core/env.js';

const PROGRESS_EVERY_MS = 2000;

/**
 * `coldchain spool drain DIR`: delivers what another node acknowledged but never wrote (its
 * spool) into the shared InfluxDB, for a cluster node that died and is not coming back. The
 * node's data directory is locked while this runs, so the node cannot start and deliver the
 * same spool at the same time; a redelivery is harmless anyway (a reading at a stored device
 * time with the same values stays one point).
 */
export async function spoolDrainCommand(dir: string, options: { config?: string; influxUrl?: string; influxDb?: string }): Promise<void> {
  const dataDir = path.resolve(dir);
  const spoolDir = path.join(dataDir, 'spool');
  if (!existsSync(spoolDir)) throw new Error(`${dataDir}: no spool here (expected ${spoolDir}); give the data directory of the node whose spool to deliver`);
  const loaded = withEnvironment(loadConfig(resolveConfigPath(options.config)), environment());
  const config = loaded.config;
  const url = options.influxUrl ?? config.influx.url;
  if (!url) throw new Error('--influx-url: the shared InfluxDB the cluster writes to (or influx.url in the config)');
  let unlock: () => void;
  try {
    unlock = lockDataDir(dataDir);
  } catch (err) {
    throw new Error(`${(err as Error).message}; a node still runs on this data directory and delivers its own spool`);
  }
  const log = createLogger(environment().logLevel ?? 'warn', 'spool-drain');
  const spool = new Spool(spoolDir, config.spool.segmentBytes, log);
  let writer: SpoolWriter | undefined;
  try {
    await spool.open();
    const total = spool.depth.records;
    process.stderr.write(`${total} records to deliver from ${spoolDir} into ${url} (database ${options.influxDb ?? config.influx.database})\n`);
    const influx = new InfluxClient({
      url,
      database: options.influxDb ?? config.influx.database,
      token: config.influx.token,
      username: config.influx.username,
      password: config.influx.password,
    });
    writer = new SpoolWriter(spool, influx, log, {
      lingerMs: 0,
      retryMaxMs: config.spool.retryMax,
      deadLetterFile: deadLetterPath(dataDir),
      ...(config.influx.createDatabase ? { ensureDatabase: () => influx.ensureDatabase(config.influx.retention) } : {}),
    });
    writer.start();
    while (!(await writer.flush(PROGRESS_EVERY_MS))) {
      const left = spool.depth.records;
      process.stderr.write(
        `${total - left}/${total} delivered${writer.stats.state === 'retrying' ? `; InfluxDB refuses for now (${writer.stats.lastError}), retrying` : ''}\n`,
      );
    }
    process.stdout.write(
      `delivered ${total} records (${writer.stats.pointsWritten} points) from ${spoolDir}${writer.stats.pointsDropped ? `; ${writer.stats.pointsDropped} refused by InfluxDB, kept in ${deadLetterPath(dataDir)}` : ''}\n`,
    );
  } finally {
    await writer?.stop();
    await spool.close();
    unlock();
  }
}
