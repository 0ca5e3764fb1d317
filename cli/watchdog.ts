import { statSync } from 'node:fs';
import { createLogger } from '../core/logger.js';
import { loadWatchdogConfig } from '../watchdog/config.js';
import { Watchdog } from '../watchdog/watchdog.js';
import { environment } from './environment.js';

/** `coldchain watchdog --file watchdog.yaml [--url URL]`: runs until SIGINT/SIGTERM. */
export async function watchdogCommand(options: { file: string; url?: string }): Promise<void> {
  const config = loadWatchdogConfig(options.file);
  const url = options.url ?? config.url;
  if (!url) throw new Error(`the service to watch: give --url or url: in ${options.file}`);
  const log = createLogger(environment().logLevel ?? 'info', 'coldchain-watchdog');
  // The file may hold the SMTP password: say so when others can read it.
  if (statSync(options.file).mode & 0o077)
    log.warn({ file: options.file }, 'the watchdog file is readable by other users; chmod 600 it (it may hold the SMTP password)');
  const stop = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort());
  await new Watchdog({ ...config, url }, log).run(stop.signal);
}
