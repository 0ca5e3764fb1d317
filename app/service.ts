import path from 'node:path';
import { formatPath, readTls, type LoadedConfig } from '../core/config/load.js';
import type { Config } from '../core/config/schema.js';
import type { Logger } from '../core/logger.js';
import { Spool } from '../ingestor/spool.js';
import type { SpoolWriter } from '../ingestor/writer.js';
import { IngestPipeline } from '../ingestor/pipeline.js';
import { knowStoredReadings } from '../ingestor/stored-readings.js';
import { createApi } from '../api/server.js';
import { createMetrics } from '../ingestor/metrics.js';
import { AuditLog, auditFile } from '../audit/audit-log.js';
import { startAuditAnchor } from '../audit/anchor.js';
import { AlertService } from '../alerts/service.js';
import { Notifier } from '../alerts/notifier.js';
import { SystemAlarms } from '../alerts/system-alarms.js';
import { CalibrationAlarms } from '../calibration/alarms.js';
import { ConflictAlarms } from '../ingestor/conflict-alarms.js';
import { ClockWatch } from '../alerts/clock-watch.js';
import { ntpServer } from '../core/config/alarm-policy.js';
import type { AcceptedBatch } from '../ingestor/records.js';
import { CalibrationService } from '../calibration/service.js';
import { StabilityAlarms } from '../stability/alarms.js';
import { StabilityService } from '../stability/service.js';
import { ledgerSchema } from '../stability/schema.js';
import { configuredReportPool, type ReportPool } from '../reports/pool.js';
import { ShipmentService } from '../shipments/service.js';
import { LinkSigner } from '../shipments/links.js';
import { BackupScheduler } from '../backup/scheduler.js';
import { ConfigAuditor } from '../audit/config-changes.js';
import { checkGsp } from '../core/config/compliance.js';
import { ConsigneeNotices } from '../shipments/consignee-notices.js';
import { RegistryHolder } from './registry-holder.js';
import { RangeRecorder } from '../reports/range-recorder.js';
import { lockDataDir } from './data-dir-lock.js';
import { beginDataDirMigration } from './data-dir-layout.js';
import { Parts } from './parts.js';
import { ownBroker, upstreamBroker, type FrontDoor, type FrontDoorDeps } from './front-door.js';
import { startInfluxDb, startWriter, storageHealth } from './storage.js';
import { HourMarks } from '../reports/hour-marks.js';
import { clusterEngines, type ClusterSettings } from '../cluster/engines.js';
import { alertLink } from '../cluster/alert-link.js';
import { apiLink } from '../cluster/api-link.js';
import { warmPasswordHashing } from '../core/secrets.js';

/*
 * The composition root. It wires the stages in the order a reading travels through them:
 *
 *   devices ─MQTT─▶ broker ─▶ ingest pipeline (validate → durable spool) ─▶ writer ─▶ InfluxDB
 *                                   └─▶ rules engine (alerts) ─▶ MQTT alert topics, e-mail, webhooks
 *   HTTP API and board on top: queries InfluxDB, follows alerts, takes custody and signatures.
 *
 * Each started part is recorded in `parts` next to its start, with how it stops; a failed start
 * and `stop()` both stop what started, in reverse order. Nothing here reads the environment: the
 * CLI reads it once (core/env.ts) and hands over a config that already holds what it supplied.
 */

/** Command-line values that win over the config file. */
export interface Overrides {
  dataDir?: string;
  mqttPort?: number;
  httpPort?: number;
  influxUrl?: string;
  influxDb?: string;
  influxToken?: string;
  /** One node of a cluster: aedes' state in Redis (`coldchain start --cluster`), InfluxDB shared. */
  cluster?: { settings: ClusterSettings; password?: string };
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
  /** The report workers (their load: running and queued reports). */
  reports: ReportPool;
  /** The QA alarms' raisers (alerts/qa-alarms.ts): a test runs a round at once instead of waiting for the next. */
  qaAlarms: { calibration: CalibrationAlarms; conflicts: ConflictAlarms; stability: StabilityAlarms };
  stop(): Promise<void>;
}

export function applyOverrides(loaded: LoadedConfig, overrides: Overrides): { config: Config; dataDir: string } {
  const config = structuredClone(loaded.config);
  if (overrides.mqttPort !== undefined) config.mqtt.port = overrides.mqttPort;
  if (overrides.httpPort !== undefined) config.http.port = overrides.httpPort;
  if (overrides.influxUrl !== undefined) config.influx.url = overrides.influxUrl;
  if (overrides.influxDb !== undefined) config.influx.database = overrides.influxDb;
  if (overrides.influxToken !== undefined) config.influx.token = overrides.influxToken;
  const dataDir = overrides.dataDir ? path.resolve(overrides.dataDir) : loaded.dataDir;
  return { config, dataDir };
}

/** Everything in one process: broker, ingestion, InfluxDB (managed unless a URL is given), HTTP. */
export function startService(loaded: LoadedConfig, overrides: Overrides, log: Logger): Promise<RunningService> {
  const cluster = overrides.cluster;
  // Every node writes its own spool into one InfluxDB: a managed influxd per node would split the record.
  if (cluster && !(overrides.influxUrl ?? loaded.config.influx.url))
    throw new Error('cluster: every node must write to one shared InfluxDB; set influx.url in the config (or --influx-url)');
  return assemble(loaded, overrides, log, (deps) =>
    ownBroker(deps, cluster ? () => clusterEngines(cluster.settings, cluster.password, deps.log.child({ component: 'cluster' })) : undefined),
  );
}

/** Ingestion from an external broker (Mosquitto, EMQX) plus HTTP, without our own broker. */
export function startIngestService(
  loaded: LoadedConfig,
  overrides: Overrides & { brokerUrl: string; clientId: string; username?: string; password?: string },
  log: Logger,
): Promise<RunningService> {
  return assemble(loaded, overrides, log, (deps) => upstreamBroker(overrides, deps));
}

async function assemble(
  loaded: LoadedConfig,
  overrides: Overrides,
  log: Logger,
  frontDoor: (deps: FrontDoorDeps) => Promise<FrontDoor>,
): Promise<RunningService> {
  const { config, dataDir } = applyOverrides(loaded, overrides);
  const parts = new Parts(log);
  // Links in alarm messages and receivers' verification links: http.publicUrl, else where HTTP listens.
  let listeningAt = '';
  const publicUrl = () => config.http.publicUrl ?? listeningAt;
  try {
    // The data directory is this process's alone while it runs.
    parts.add('data directory lock', lockDataDir(dataDir), (unlock) => unlock());
    // A data directory an earlier version made is upgraded (VERSION, app/data-dir-layout.ts); a newer one is refused.
    const migration = beginDataDirMigration(dataDir, log);
    // The audit trail: who did what, hash-chained (21 CFR Part 11).
    const audit = parts.add('audit trail', new AuditLog(auditFile(dataDir)), (audit) => audit.close());
    const verified = await audit.open();
    if (!verified.ok) log.error({ problem: verified.problem }, 'the audit trail does not verify; new entries continue the chain from its last valid entry');
    // Every configuration change is in the audit trail: those made while stopped now, later ones as they are picked up.
    const configAudit = new ConfigAuditor({ audit, dataDir, file: loaded.file, log });
    await configAudit.record(loaded.config, 'at start');
    // The GSP check (coldchain check) at every start: errors loud, warnings counted.
    const findings = checkGsp(loaded.config);
    for (const f of findings.filter((f) => f.level === 'error')) log.error({ key: formatPath(f.path), rule: f.rule }, `GSP: ${f.message}`);
    log.info(
      { errors: findings.filter((f) => f.level === 'error').length, warnings: findings.filter((f) => f.level === 'warning').length },
      'configuration checked against GSP (coldchain check lists every finding)',
    );
    // Product range versions (signed means frozen): recorded once storage is up; edits picked up later add versions.
    let rangeRecorder: RangeRecorder | undefined;
    const registry = new RegistryHolder(loaded.file, config, log, (edited) => {
      void configAudit.record(edited, 'picked up while running');
      void rangeRecorder?.record(edited).catch(() => undefined);
    });

    // Storage: InfluxDB, the durable spool in front of it, and the writer between them.
    const db = await startInfluxDb(config, dataDir, log, parts);
    await migration.finish({ audit, influx: db.influx, managedInfluxd: db.managed });
    // The trail's last hash anchored in InfluxDB every 10 minutes and at stop: a cut tail is detected (audit verify).
    parts.add('audit anchor', startAuditAnchor({ audit, influx: db.influx, log: log.child({ component: 'audit' }) }), (anchor) => anchor.stop());
    const spool = parts.add('spool', new Spool(path.join(dataDir, 'spool'), config.spool.segmentBytes, log.child({ component: 'spool' })), (spool) =>
      spool.close(),
    );
    await spool.open();
    // Ingestion: every device message is validated here and appended to the spool before it is acknowledged.
    // Made before the writer, which counts the conflicts it finds at write time in the pipeline's counters.
    const pipeline = new IngestPipeline(spool, {
      maxPayloadBytes: config.ingest.maxPayloadBytes,
      maxBatchReadings: config.ingest.maxBatchReadings,
      maxFutureSkewMs: config.ingest.maxFutureSkew,
      maxPastAgeMs: config.ingest.maxPastAge,
    });
    const onConflicts = (count: number) => (pipeline.counters.readingConflicts += count);
    // The hours the writer wrote, so the report cache trusts the others without asking InfluxDB (reports/hour-marks.ts).
    // Not in a cluster: other nodes write the same InfluxDB, and only InfluxDB's fingerprint sees their writes.
    const hourMarks = overrides.cluster ? undefined : HourMarks.create();
    const writer = parts.add(
      'writer',
      startWriter(config, dataDir, spool, db.influx, log, onConflicts, hourMarks ? (bytes) => hourMarks.markWritten(bytes) : undefined),
      async (writer, orderly) => {
        if (!(await writer.flush(orderly ? 5000 : 0)))
          log.warn({ pendingRecords: spool.depth.records }, 'stopping with readings still in the spool; they are written on the next start');
        await writer.stop();
      },
    );

    // Alerts and shipments are rebuilt from InfluxDB: let what the spool recovered from the last
    // run (alert events, custody and readings written just before a stop or crash) land there first.
    if (spool.depth.records > 0 && !(await writer.flush(15_000))) {
      log.warn({ pendingRecords: spool.depth.records }, 'InfluxDB has not taken the recovered spool yet; alerts are rebuilt from what it has');
    }
    if (spool.depth.records === 0) await knowStoredReadings(pipeline.recent, db.influx, log, config.ingest.maxPastAge);
    const shipments = new ShipmentService({
      registry: registry.get,
      spool,
      influx: db.influx,
      audit,
      links: LinkSigner.open(dataDir),
      log: log.child({ component: 'shipments' }),
      maxFutureSkewMs: config.ingest.maxFutureSkew,
    });
    await shipments.start();
    rangeRecorder = new RangeRecorder({ spool, influx: db.influx, audit, log: log.child({ component: 'ranges' }) });
    await rangeRecorder.start(config);

    // The front door, still closed to devices: our broker (or the upstream subscription).
    const front = await frontDoor({ config, registry, pipeline, shipments, audit, log, parts });

    // The rules engine beside the writer: it follows the pipeline and publishes on the broker.
    const notifier = parts.add('notifier', new Notifier(config.notifications, log.child({ component: 'notify' }), publicUrl), (notifier) => notifier.close());
    const alerts = parts.add(
      'rules engine',
      new AlertService({
        registry: registry.get,
        config: () => registry.get().config,
        pipeline,
        spool,
        influx: db.influx,
        audit,
        notifier,
        publish: front.publish,
        log: log.child({ component: 'alerts' }),
        ...(front.cluster ? { cluster: alertLink(front.cluster.bus, log.child({ component: 'cluster' })) } : {}),
      }),
      (alerts) => alerts.stop(),
    );
    await alerts.start();
    // Cluster: the node holding a device's connection judges its readings (cluster/README.md).
    if (front.cluster)
      front.onDeviceConnected?.((deviceId) => {
        alerts.deviceConnected(deviceId);
        // The node it was connected to before may have stored its readings up to now (and up to maxFutureSkew ahead).
        pipeline.recent.raiseFloor(deviceId, Date.now() + config.ingest.maxFutureSkew);
      });
    // GDP 9.2: a shipment's consignee hears of excursions at the places carrying its goods.
    new ConsigneeNotices({ shipments, alerts, notifier, registry: registry.get, log: log.child({ component: 'consignee-notices' }) }).start();

    // The daily backup (GSP): the whole record once a day, the newest kept.
    const backup = parts.add(
      'daily backup',
      new BackupScheduler({
        influx: db.influx,
        dataDir,
        configFile: loaded.file,
        settings: {
          dir: path.resolve(path.dirname(loaded.file), config.backup.dir),
          at: config.backup.at,
          timeZone: config.reports.timeZone,
          keep: config.backup.keep,
        },
        log: log.child({ component: 'backup' }),
      }),
      (backup) => backup.stop(),
    );
    if (config.backup.enabled) await backup.start();

    // The server clock against NTP (alarms.system.ntp) or, where none answers, the devices' clocks.
    const clock = parts.add(
      'clock watch',
      new ClockWatch({
        servers: () => registry.get().config.alarms.system.ntp.map(ntpServer),
        everyMs: () => registry.get().config.alarms.system.clockCheckEvery,
        log: log.child({ component: 'clock' }),
      }),
      (clock) => clock.stop(),
    );
    pipeline.on('accepted', (batch: AcceptedBatch) => {
      let newest = Number.NEGATIVE_INFINITY;
      for (const r of batch.readings) if (r.ts > newest) newest = r.ts;
      if (Number.isFinite(newest)) clock.observe(batch.deviceId, newest, batch.receivedAt);
    });
    clock.start();
    // The monitoring system watching itself: InfluxDB, spool, backup, audit trail and clock raise alarms like any place (alarms.system).
    const systemAlarms = parts.add(
      'system alarms',
      new SystemAlarms({
        alerts,
        config: () => registry.get().config,
        probes: {
          influxReachable: db.ready,
          oldestPendingAt: () => writer.stats.oldestPendingAt,
          spoolBytes: () => spool.depth.bytes,
          ...(config.backup.enabled ? { backup: () => backup.status() } : {}),
          clock: () => clock.reading(),
        },
        audit,
        log: log.child({ component: 'system-alarms' }),
      }),
      (systemAlarms) => systemAlarms.stop(),
    );
    if (!verified.ok) systemAlarms.auditBroken(verified.problem ?? 'the audit trail does not verify');
    systemAlarms.start();
    // Sensors' calibration: records in the config (devices[].calibration), due and overdue alarms at each site's system place.
    const calibration = new CalibrationService({
      registry: registry.get,
      reload: () => registry.reload(),
      configFile: loaded.file,
      dataDir,
      audit,
      log: log.child({ component: 'calibration' }),
    });
    const calibrationAlarms = parts.add(
      'calibration alarms',
      new CalibrationAlarms({ alerts, registry: registry.get, audit, log: log.child({ component: 'calibration' }) }),
      (alarms) => alarms.stop(),
    );
    calibrationAlarms.start();
    // Conflicting readings (a different reading for a stored device time) raised to QA, read back from their records.
    const conflictAlarms = parts.add(
      'reading-conflict alarms',
      new ConflictAlarms({
        alerts,
        registry: registry.get,
        influx: db.influx,
        audit,
        log: log.child({ component: 'integrity' }),
        oldestPendingAt: () => writer.stats.oldestPendingAt,
      }),
      (alarms) => alarms.stop(),
    );
    conflictAlarms.start();

    // The report workers: the API's reports and the batches' stability ledgers (built from shipment reports).
    const reports = parts.add(
      'report workers',
      configuredReportPool({
        config: () => registry.get().config,
        influx: db.influx.target,
        log: log.child({ component: 'reports' }),
        ranges: () => rangeRecorder?.list() ?? [],
        buckets: path.join(dataDir, 'report-buckets'),
        ...(hourMarks ? { marks: hourMarks.handle } : {}),
      }),
      (pool) => pool.close(),
    );
    // Stability budgets per batch (issue 17): add-backs as facts, ledgers in the report workers, low/exhausted alarms.
    const stability = new StabilityService({
      registry: registry.get,
      spool,
      influx: db.influx,
      audit,
      log: log.child({ component: 'stability' }),
      shipments: () => shipments.book.list(),
      ledger: async (subject) => {
        const { reports: settings } = registry.get().config;
        const built = await reports.run({ subject: { kind: 'stability', ...subject }, format: 'json', lang: settings.lang, timeZone: settings.timeZone });
        return ledgerSchema.parse(JSON.parse(Buffer.from(built.body).toString('utf8')));
      },
    });
    await stability.start();
    const stabilityAlarms = parts.add(
      'stability alarms',
      new StabilityAlarms({ alerts, stability, registry: registry.get, audit, log: log.child({ component: 'stability' }) }),
      (alarms) => alarms.stop(),
    );
    stabilityAlarms.start();

    // Devices may connect from here on.
    const ports = await front.open();

    // HTTP API and board on top.
    const metrics = createMetrics({
      counters: pipeline.counters,
      spool,
      writer,
      connectedDevices: front.connectedDevices,
      ...(config.backup.enabled ? { backup: () => backup.status() } : {}),
    });
    // An overdue backup is reported, not a reason to stop serving: ready stays true.
    const health = () => ({
      ...front.health(),
      ...storageHealth(spool, writer, db),
      ...(config.backup.enabled ? { backup: { ready: true, ...backup.status() } } : {}),
    });
    // HTTPS with http.tls; plain HTTP only on loopback or with http.allowPlainHttp (checked at config load).
    const tls = readTls(config.http.tls);
    warmPasswordHashing();
    const api = parts.add(
      'http api',
      await createApi({
        log,
        registry: registry.get,
        influx: db.influx,
        metrics,
        health,
        pipeline,
        alerts,
        shipments,
        calibration,
        stability,
        reports,
        audit,
        publicUrl,
        tls,
        ...(front.cluster ? { cluster: apiLink(front.cluster.bus, log.child({ component: 'cluster' })) } : {}),
      }),
      (api) => api.close(),
    );
    await api.listen({ port: config.http.port, host: config.http.host });
    const httpPort = (api.server.address() as { port: number }).port;
    listeningAt = `${tls ? 'https' : 'http'}://${['0.0.0.0', '::'].includes(config.http.host) ? '127.0.0.1' : config.http.host}:${httpPort}`;
    log.info({ httpPort, host: config.http.host, tls: tls !== undefined }, `http api ready at ${listeningAt}`);

    // Registry edits (coldchain device add) take effect while the service runs.
    registry.watch();
    parts.add('registry watch', registry, (registry) => registry.stop());

    log.info({ ...ports, httpPort, influx: db.url, dataDir, devices: registry.get().deviceCount, parts: parts.names }, 'coldchain service started');
    return {
      config,
      dataDir,
      ...ports,
      httpPort,
      influxUrl: db.url,
      pipeline,
      spool,
      writer,
      registry,
      alerts,
      shipments,
      reports,
      qaAlarms: { calibration: calibrationAlarms, conflicts: conflictAlarms, stability: stabilityAlarms },
      stop: async () => {
        await parts.stopAll(true);
        log.info('coldchain service stopped');
      },
    };
  } catch (err) {
    // A port in use or an unreadable certificate: undo what started (a managed influxd above all).
    await parts.stopAll(false);
    throw err;
  }
}
