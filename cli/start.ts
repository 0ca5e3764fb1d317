import { existsSync } from 'node:fs';
import { loadConfig, resolveConfigPath, DEFAULT_CONFIG_FILE } from '../core/config/load.js';
import { createLogger, type Logger } from '../core/logger.js';
import { withEnvironment } from '../core/env.js';
import { environment } from './environment.js';
import { clusterSettingsSchema } from '../cluster/engines.js';
import { startIngestService, startService, type Overrides, type RunningService } from '../app/service.js';
import { writeSampleSetup } from './init.js';
import { prepareScenario, profilesByLocation } from './simulate.js';
import { scenarioDevices } from '../simulator/render.js';
import { provisionDevices, tokensFile } from '../simulator/provision.js';
import { runSimulation } from '../simulator/runner.js';

interface ServiceFlags extends Omit<Overrides, 'cluster'> {
  config?: string;
  demo?: boolean;
  /** Redis URL: this process is one node of a cluster. */
  cluster?: string;
  nodeId?: string;
}

function overridesOf(flags: ServiceFlags): Overrides {
  return {
    dataDir: flags.dataDir,
    mqttPort: flags.mqttPort,
    httpPort: flags.httpPort,
    influxUrl: flags.influxUrl,
    influxDb: flags.influxDb,
    influxToken: flags.influxToken,
  };
}

/**
 * The quick start's live data: the demo scenario's devices are registered (tokens kept in the
 * data directory) and publish over MQTT in real time, exactly as real devices would.
 */
async function startDemo(service: RunningService, configFile: string, log: Logger): Promise<() => Promise<void>> {
  const scenario = prepareScenario({ scenario: 'demo' }, service.config);
  const { tokens } = provisionDevices(configFile, service.dataDir, scenarioDevices(scenario));
  service.registry.reload();
  const abort = new AbortController();
  let lastLog = 0;
  const running = runSimulation(
    {
      scenario,
      brokerUrl: `mqtt://127.0.0.1:${service.mqttPort}`,
      tokens,
      profileByLocation: profilesByLocation(service.config),
      seed: Date.now(),
      speed: 1,
      signal: abort.signal,
      progressEveryMs: 10_000,
      onProgress: (p) => {
        if (p.elapsedMs - lastLog < 60_000 && lastLog !== 0) return;
        lastLog = p.elapsedMs || 1;
        log.info({ devices: p.devicesConnected, readingsSent: p.readingsSent, acknowledged: p.acknowledged }, 'demo simulator publishing');
      },
    },
    tokensFile(service.dataDir),
  ).catch((err: Error) => log.error({ err: err.message }, 'demo simulator stopped'));
  log.info(
    { devices: scenarioDevices(scenario).length, scenario: scenario.name },
    'demo simulator started (coldchain start without --demo runs the service alone)',
  );
  await demoShipment(service, log);
  return async () => {
    abort.abort();
    await running;
  };
}

/**
 * A waybill in the demo's cold room, so the board's shipments view and the QA reports have
 * something to show from the first minute. Created once; a later start finds it.
 */
async function demoShipment(service: RunningService, log: Logger): Promise<void> {
  const id = 'SH-DEMO-0001';
  if (service.shipments.book.has(id) || !service.registry.get().location('dc-sh-cold-room-1')) return;
  const actor = { by: 'demo', source: 'cli' as const };
  try {
    await service.shipments.create(
      {
        id,
        product: 'Influenza vaccine 0.5 ml (demo)',
        profile: 'vaccines-2-8',
        batch: 'DEMO-LOT-1',
        quantity: 40,
        unit: 'cases',
        shipper: 'Shanghai distribution centre',
        consignee: 'Pudong hospital pharmacy',
      },
      actor,
    );
    await service.shipments.addCustody(id, { event: 'stored', locationId: 'dc-sh-cold-room-1', at: Date.now(), by: 'demo' }, actor);
    log.info({ shipment: id }, "demo shipment stored in the cold room (see the board's Shipments view)");
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'demo shipment not created');
  }
}

/** Stops cleanly on SIGINT/SIGTERM; a second signal exits at once. */
function stopOnSignals(service: RunningService, log: Logger, before: () => Promise<void> = async () => undefined): void {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) process.exit(130);
    signalled = true;
    log.info({ signal }, 'shutting down');
    before()
      .then(() => service.stop())
      .then(
        () => process.exit(0),
        (err: Error) => {
          log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/** The logger, and the config with what the environment supplies ($COLDCHAIN_LOG_LEVEL wins over log.level). */
function prepare(file: string | undefined, log: Logger) {
  const env = environment();
  const loaded = withEnvironment(loadConfig(file), env);
  log.level = env.logLevel ?? loaded.config.log.level;
  return loaded;
}

/** `--cluster URL [--node-id ID]`, checked here so a bad value is named as the option it came from. */
function clusterOf(flags: ServiceFlags): Pick<Overrides, 'cluster'> {
  if (flags.cluster === undefined) {
    if (flags.nodeId !== undefined) throw new Error('--node-id: only with --cluster');
    return {};
  }
  const parsed = clusterSettingsSchema.safeParse({ redis: flags.cluster, ...(flags.nodeId !== undefined ? { nodeId: flags.nodeId } : {}) });
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `--${i.path[0] === 'redis' ? 'cluster' : 'node-id'}: ${i.message}`).join('; '));
  const password = environment().redisPassword;
  return { cluster: { settings: parsed.data, ...(password ? { password } : {}) } };
}

export async function startCommand(flags: ServiceFlags): Promise<void> {
  const file = resolveConfigPath(flags.config);
  const log = createLogger(environment().logLevel);
  if (!flags.config && !existsSync(file)) {
    // The quick start: no config yet means "show me the demo".
    const { tls } = writeSampleSetup(file);
    log.info({ file, tlsCert: tls.cert }, `no ${DEFAULT_CONFIG_FILE} here; wrote the sample configuration and a self-signed certificate (coldchain init)`);
  }
  const loaded = prepare(file, log);
  const service = await startService(loaded, { ...overridesOf(flags), ...clusterOf(flags) }, log);
  const stopDemo = flags.demo ? await startDemo(service, loaded.file, log) : undefined;
  stopOnSignals(service, log, stopDemo);
}

export async function ingestCommand(flags: ServiceFlags & { broker: string; clientId: string; username?: string; password?: string }): Promise<void> {
  const log = createLogger(environment().logLevel);
  const loaded = prepare(flags.config, log);
  const service = await startIngestService(
    loaded,
    { ...overridesOf(flags), brokerUrl: flags.broker, clientId: flags.clientId, username: flags.username, password: flags.password },
    log,
  );
  stopOnSignals(service, log);
}
