import path from 'node:path';
import type { Config } from '../core/config/schema.js';
import type { Logger } from '../core/logger.js';
import { InfluxClient } from '../storage/influx.js';
import { ManagedInfluxd } from '../storage/influxd.js';
import type { Spool } from '../ingestor/spool.js';
import { SpoolWriter, deadLetterPath } from '../ingestor/writer.js';
import type { ComponentHealth } from '../api/server.js';
import type { Parts } from './parts.js';

/*
 * The storage the composition root (service.ts) starts: InfluxDB, managed or the configured one,
 * and the writer that drains the spool into it; and how both report their health.
 */

/** InfluxDB: the managed child process (the embedded default) or the one the config names; pinged for /health. */
export async function startInfluxDb(config: Config, dataDir: string, log: Logger, parts: Parts) {
  let managed: ManagedInfluxd | undefined;
  let url = config.influx.url;
  if (!url) {
    const influxd = parts.add(
      'managed influxd',
      new ManagedInfluxd({ dataDir: path.join(dataDir, 'influxdb'), log: log.child({ component: 'influxd' }), supervise: true, secure: true }),
      (influxd) => influxd.stop(),
    );
    await influxd.start();
    managed = influxd;
    url = influxd.url;
  }
  // The managed influxd is signed in to with its own admin (issue 12, item 15); config credentials are for an external one.
  const influx = new InfluxClient({
    url,
    database: config.influx.database,
    ...(managed ? managed.credentials : { token: config.influx.token, username: config.influx.username, password: config.influx.password }),
  });
  let ready = false;
  if (config.influx.createDatabase) {
    try {
      const { kept } = await influx.ensureDatabase(config.influx.retention);
      // GSP: records are never deleted because a setting changed; shortening is a signed command.
      if (kept)
        log.warn(
          { configured: config.influx.retention, kept },
          'influx.retention is shorter than the database keeps; the longer retention stays (coldchain retention shorten deletes records, signed and audited)',
        );
      ready = true;
    } catch (err) {
      // The spool keeps everything meanwhile; the writer retries until InfluxDB is there.
      log.warn({ err: (err as Error).message, url }, 'could not create the InfluxDB database and retention policy; continuing, writes are spooled');
    }
  }
  const ping = async () => {
    ready = await influx.ping();
  };
  if (!ready) await ping();
  const pinger = parts.add(
    'influxdb ping',
    setInterval(() => void ping(), 5000),
    (pinger) => clearInterval(pinger),
  );
  pinger.unref();
  return { url, influx, managed: managed !== undefined, ready: () => ready };
}

/** The writer: drains the spool into InfluxDB in order, retrying while InfluxDB is away. */
export function startWriter(
  config: Config,
  dataDir: string,
  spool: Spool,
  influx: InfluxClient,
  log: Logger,
  onConflicts: (count: number) => void,
  onWritten?: (bytes: Buffer) => void,
): SpoolWriter {
  const writer = new SpoolWriter(spool, influx, log.child({ component: 'writer' }), {
    onConflicts,
    ...(onWritten ? { onWritten } : {}),
    lingerMs: config.spool.writeLinger,
    retryMaxMs: config.spool.retryMax,
    deadLetterFile: deadLetterPath(dataDir),
    ...(config.influx.createDatabase ? { ensureDatabase: () => influx.ensureDatabase(config.influx.retention).then(() => undefined) } : {}),
  });
  writer.start();
  return writer;
}

export function storageHealth(spool: Spool, writer: SpoolWriter, db: { url: string; managed: boolean; ready(): boolean }): Record<string, ComponentHealth> {
  const depth = spool.depth;
  return {
    spool: { ready: spool.healthy, records: depth.records, bytes: depth.bytes },
    influxdb: { ready: db.ready(), url: db.url, managed: db.managed, writer: writer.stats.state, lastError: writer.stats.lastError ?? null },
  };
}
