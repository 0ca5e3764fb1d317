import path from 'node:path';
import type { LoadedConfig } from '../core/config/load.js';
import type { Config } from '../core/config/schema.js';
import type { Logger } from '../core/logger.js';
import { InfluxClient } from '../storage/influx.js';
import { ManagedInfluxd } from '../storage/influxd.js';
import { Spool } from '../ingestor/spool.js';
import { SpoolWriter, deadLetterPath } from '../ingestor/writer.js';
import { IngestPipeline } from '../ingestor/pipeline.js';
import { startStandaloneIngestor } from '../ingestor/standalone.js';
import { DeviceBroker } from '../broker/broker.js';
import { startListeners } from '../broker/listeners.js';
import { createApi, type ComponentHealth } from '../api/server.js';
import { createMetrics } from '../api/metrics.js';
import { RegistryHolder } from './registry-holder.js';
import { lockDataDir } from './data-dir-lock.js';
import { AuditLog, auditFile } from '../audit/audit-log.js';
import { AlertService } from '../alerts/service.js';
import { Notifier } from '../alerts/notifier.js';
import { ShipmentService } from '../shipments/service.js';
import { LinkSigner } from '../shipments/links.js';
import { deviceCustodyHandler } from '../shipments/device-custody.js';

/** Command-line values that win over the config file. */
export interface Overrides {
  dataDir?: string;
  mqttPort?: number;
  httpPort?: number;
  influxUrl?: string;
  influxDb?: string;
  influxToken?: string;
}

export interface RunningService {
  config: Config;
  dataDir: string;
  mqttPort?: number;
  mqttsPort?: number;
  wsPort?: number;
  httpPort: number;
  influxUrl: string;
  pipeline: IngestPipeline;
  spool: Spool;
  writer: SpoolWriter;
  registry: RegistryHolder;
  alerts: AlertService;
  shipments: ShipmentService;
  stop(): Promise<void>;
}

export function applyOverrides(loaded: LoadedConfig, overrides: Overrides): { config: Config; dataDir: string } {
  const config = structuredClone(loaded.config);
  if (overrides.mqttPort !== undefined) config.mqtt.port = overrides.mqttPort;
  if (overrides.httpPort !== undefined) config.http.port = overrides.httpPort;
  if (overrides.influxUrl !== undefined) config.influx.url = overrides.influxUrl;
  if (overrides.influxDb !== undefined) config.influx.database = overrides.influxDb;
  if (overrides.influxToken !== undefined) config.influx.token = overrides.influxToken;
  config.influx.token ??= process.env.COLDCHAIN_INFLUX_TOKEN;
  const dataDir = overrides.dataDir ? path.resolve(overrides.dataDir) : loaded.dataDir;
  return { config, dataDir };
}

/** Storage half shared by `start` and `ingest`: InfluxDB, spool, writer, validation. */
async function startStorage(config: Config, dataDir: string, log: Logger) {
  let managed: ManagedInfluxd | undefined;
  let url = config.influx.url;
  if (!url) {
    managed = new ManagedInfluxd({ dataDir: path.join(dataDir, 'influxdb'), log: log.child({ component: 'influxd' }), supervise: true, secure: true });
    await managed.start();
    url = managed.url;
  }
  // The managed influxd is signed in to with its own admin (issue 12, item 15); config credentials are for an external one.
  const influx = new InfluxClient({ url, database: config.influx.database, ...(managed ? managed.credentials : { token: config.influx.token, username: config.influx.username, password: config.influx.password }) });
  let influxReady = false;
  if (config.influx.createDatabase) {
    try {
      await influx.ensureDatabase(config.influx.retention);
      influxReady = true;
    } catch (err) {
      // The spool keeps everything meanwhile; the writer retries until InfluxDB is there.
      log.warn({ err: (err as Error).message, url }, 'could not create the InfluxDB database and retention policy; continuing, writes are spooled');
    }
  }
  const spool = new Spool(path.join(dataDir, 'spool'), config.spool.segmentBytes, log.child({ component: 'spool' }));
  await spool.open();
  const writer = new SpoolWriter(spool, influx, log.child({ component: 'writer' }), {
    lingerMs: config.spool.writeLinger,
    retryMaxMs: config.spool.retryMax,
    deadLetterFile: deadLetterPath(dataDir),
    ...(config.influx.createDatabase ? { ensureDatabase: () => influx.ensureDatabase(config.influx.retention) } : {}),
  });
  writer.start();
  const pipeline = new IngestPipeline(spool, {
    maxPayloadBytes: config.ingest.maxPayloadBytes,
    maxBatchReadings: config.ingest.maxBatchReadings,
    maxFutureSkewMs: config.ingest.maxFutureSkew,
    maxPastAgeMs: config.ingest.maxPastAge,
  });

  const ping = async () => {
    influxReady = await influx.ping();
  };
  if (!influxReady) await ping();
  const pinger = setInterval(() => void ping(), 5000);
  pinger.unref();

  return {
    url,
    influx,
    spool,
    writer,
    pipeline,
    health(): Record<string, ComponentHealth> {
      const depth = spool.depth;
      return {
        spool: { ready: spool.healthy, records: depth.records, bytes: depth.bytes },
        influxdb: { ready: influxReady, url, managed: managed !== undefined, writer: writer.stats.state, lastError: writer.stats.lastError ?? null },
      };
    },
    async stop(flushTimeoutMs: number) {
      clearInterval(pinger);
      const flushed = await writer.flush(flushTimeoutMs);
      if (!flushed) log.warn({ pendingRecords: spool.depth.records }, 'stopping with readings still in the spool; they are written on the next start');
      await writer.stop();
      await spool.close();
      await managed?.stop();
    },
  };
}

async function startHttp(config: Config, log: Logger, deps: Parameters<typeof createApi>[0]) {
  const api = await createApi(deps);
  await api.listen({ port: config.http.port, host: config.http.host });
  const httpPort = (api.server.address() as { port: number }).port;
  log.info({ httpPort, host: config.http.host }, 'http api ready');
  return { api, httpPort };
}

/** What receives device messages: our broker, or a subscription to someone else's. */
interface FrontEnd {
  /** Publishes alert messages to MQTT followers (our broker only). */
  publish?: (topic: string, payload: string) => void;
  mqttPort?: number;
  mqttsPort?: number;
  wsPort?: number;
  connectedDevices(): number;
  health(): Record<string, ComponentHealth>;
  /** Stops taking messages; returns once none is between validation and acknowledgement. */
  stop(): Promise<void>;
}

type Storage = Awaited<ReturnType<typeof startStorage>>;

/** Storage, registry, HTTP and orderly shutdown around a front end. */
async function assemble(loaded: LoadedConfig, overrides: Overrides, log: Logger, startFront: (config: Config, registry: RegistryHolder, storage: Storage, shipments: ShipmentService, audit: AuditLog) => Promise<FrontEnd>): Promise<RunningService> {
  const { config, dataDir } = applyOverrides(loaded, overrides);
  const unlock = lockDataDir(dataDir);
  const registry = new RegistryHolder(loaded.file, config, log);
  let storage: Storage | undefined;
  let front: FrontEnd | undefined;
  let alerts: AlertService | undefined;
  let shipments: ShipmentService | undefined;
  const audit = new AuditLog(auditFile(dataDir));
  const notifier = new Notifier(config.notifications, log.child({ component: 'notify' }));
  let started: Awaited<ReturnType<typeof startHttp>>;
  try {
    const verified = await audit.open();
    if (!verified.ok) log.error({ problem: verified.problem }, 'the audit trail does not verify; new entries continue the chain from its last valid entry');
    storage = await startStorage(config, dataDir, log);
    // Alerts follow the pipeline before the first device can connect, so no reading escapes them.
    let publish: FrontEnd['publish'];
    alerts = new AlertService({ registry: registry.get, config: () => registry.get().config, pipeline: storage.pipeline, spool: storage.spool, influx: storage.influx, audit, notifier, publish: (topic, payload) => publish?.(topic, payload), log: log.child({ component: 'alerts' }) });
    // Alerts are rebuilt from InfluxDB: let what the spool recovered from the last run (alert
    // events and readings written just before a stop or crash) land there first.
    if (storage.spool.depth.records > 0 && !(await storage.writer.flush(15_000))) {
      log.warn({ pendingRecords: storage.spool.depth.records }, 'InfluxDB has not taken the recovered spool yet; alerts are rebuilt from what it has');
    }
    await alerts.start();
    shipments = new ShipmentService({ registry: registry.get, spool: storage.spool, influx: storage.influx, audit, links: LinkSigner.open(dataDir), log: log.child({ component: 'shipments' }), maxFutureSkewMs: config.ingest.maxFutureSkew });
    await shipments.start();
    front = await startFront(config, registry, storage, shipments, audit);
    publish = front.publish;
    const { counters } = storage.pipeline;
    const metrics = createMetrics({ counters, spool: storage.spool, writer: storage.writer, connectedDevices: front.connectedDevices });
    const health = () => ({ ...front!.health(), ...storage!.health() });
    let publicUrl = config.http.publicUrl;
    started = await startHttp(config, log, { log, registry: registry.get, influx: storage.influx, metrics, health, pipeline: storage.pipeline, alerts, shipments, audit, publicUrl: () => publicUrl! });
    publicUrl ??= `http://${['0.0.0.0', '::'].includes(config.http.host) ? '127.0.0.1' : config.http.host}:${started.httpPort}`;
  } catch (err) {
    // A port in use or an unreadable certificate: undo what started (managed influxd above all).
    alerts?.stop();
    await audit.close().catch(() => undefined);
    await front?.stop().catch(() => undefined);
    await storage?.stop(0).catch(() => undefined);
    unlock();
    throw err;
  }
  const { api, httpPort } = started;
  registry.watch();
  log.info({ mqttPort: front.mqttPort, mqttsPort: front.mqttsPort, wsPort: front.wsPort, httpPort, influx: storage.url, dataDir, devices: registry.get().deviceCount }, 'coldchain service started');

  let stopping: Promise<void> | undefined;
  return {
    config,
    dataDir,
    mqttPort: front.mqttPort,
    mqttsPort: front.mqttsPort,
    wsPort: front.wsPort,
    httpPort,
    influxUrl: storage.url,
    pipeline: storage.pipeline,
    spool: storage.spool,
    writer: storage.writer,
    registry,
    alerts: alerts!,
    shipments: shipments!,
    stop() {
      stopping ??= (async () => {
        registry.stop();
        alerts!.stop();
        await front!.stop();
        await api.close();
        notifier.close();
        await audit.close();
        await storage!.stop(5000);
        unlock();
        log.info('coldchain service stopped');
      })();
      return stopping;
    },
  };
}

/** Everything in one process: broker, ingestion, InfluxDB (managed unless a URL is given), HTTP. */
export function startService(loaded: LoadedConfig, overrides: Overrides, log: Logger): Promise<RunningService> {
  return assemble(loaded, overrides, log, async (config, registry, storage, shipments, audit) => {
    const broker = await DeviceBroker.create({ registry: registry.get, pipeline: storage.pipeline, log: log.child({ component: 'broker' }), ratePerDevice: config.mqtt.ratePerDevice, rateBurst: config.mqtt.rateBurst, custody: deviceCustodyHandler(shipments, registry.get), audit });
    const listeners = await startListeners(broker.instance, config.mqtt, log.child({ component: 'mqtt' }));
    return {
      publish: (topic, payload) => broker.publish(topic, payload),
      mqttPort: listeners.mqttPort,
      mqttsPort: listeners.mqttsPort,
      wsPort: listeners.wsPort,
      connectedDevices: () => broker.connectedDevices,
      health: () => ({ broker: { ready: true, connectedDevices: broker.connectedDevices, mqttPort: listeners.mqttPort } }),
      async stop() {
        const listenersClosed = listeners.close();
        await broker.drain(5000);
        await broker.close();
        await listenersClosed;
      },
    };
  });
}

/** Ingestion from an external broker (Mosquitto, EMQX) plus HTTP, without our own broker. */
export function startIngestService(loaded: LoadedConfig, overrides: Overrides & { brokerUrl: string; clientId: string; username?: string; password?: string }, log: Logger): Promise<RunningService> {
  return assemble(loaded, overrides, log, async (_config, registry, storage, shipments) => {
    const consumer = await startStandaloneIngestor({ brokerUrl: overrides.brokerUrl, clientId: overrides.clientId, username: overrides.username, password: overrides.password, registry: registry.get, pipeline: storage.pipeline, custody: deviceCustodyHandler(shipments, registry.get), log: log.child({ component: 'ingest' }) });
    return {
      connectedDevices: () => 0,
      health: () => ({ upstream: { ready: consumer.client.connected, broker: overrides.brokerUrl } }),
      stop: () => consumer.stop(),
    };
  });
}
