import { existsSync } from 'node:fs';
import { loadConfig, resolveConfigPath, DEFAULT_CONFIG_FILE } from '../core/config/load.js';
import { createLogger, type Logger } from '../core/logger.js';
import { startIngestService, startService, type Overrides, type RunningService } from '../app/service.js';
import { writeSampleConfig } from './init.js';

interface ServiceFlags extends Overrides {
  config?: string;
}

function overridesOf(flags: ServiceFlags): Overrides {
  return { dataDir: flags.dataDir, mqttPort: flags.mqttPort, httpPort: flags.httpPort, influxUrl: flags.influxUrl, influxDb: flags.influxDb, influxToken: flags.influxToken };
}

/** Stops cleanly on SIGINT/SIGTERM; a second signal exits at once. */
function stopOnSignals(service: RunningService, log: Logger): void {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) process.exit(130);
    signalled = true;
    log.info({ signal }, 'shutting down');
    service.stop().then(
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

export async function startCommand(flags: ServiceFlags): Promise<void> {
  const file = resolveConfigPath(flags.config);
  const log = createLogger();
  if (!flags.config && !process.env.COLDCHAIN_CONFIG && !existsSync(file)) {
    // The quick start: no config yet means "show me the demo".
    writeSampleConfig(file);
    log.info({ file }, `no ${DEFAULT_CONFIG_FILE} here; wrote the sample configuration (coldchain init)`);
  }
  const loaded = loadConfig(file);
  log.level = loaded.config.log.level;
  const service = await startService(loaded, overridesOf(flags), log);
  stopOnSignals(service, log);
}

export async function ingestCommand(flags: ServiceFlags & { broker: string; clientId: string; username?: string; password?: string }): Promise<void> {
  const log = createLogger();
  const loaded = loadConfig(flags.config);
  log.level = loaded.config.log.level;
  const service = await startIngestService(
    loaded,
    { ...overridesOf(flags), brokerUrl: flags.broker, clientId: flags.clientId, username: flags.username, password: flags.password ?? process.env.COLDCHAIN_BROKER_PASSWORD },
    log,
  );
  stopOnSignals(service, log);
}
