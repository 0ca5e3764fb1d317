import { watchFile, unwatchFile } from 'node:fs';
import { loadConfig } from '../core/config/load.js';
import type { Logger } from '../core/logger.js';
import { Registry } from '../core/registry.js';
import type { Config } from '../core/config/schema.js';

/**
 * The current registry, reloaded when the config file changes (e.g. `coldchain device add` while
 * the service runs). A broken edit is logged and ignored: the last good registry stays in force.
 */
export class RegistryHolder {
  private current: Registry;

  constructor(
    private readonly file: string,
    config: Config,
    private readonly log: Logger,
    /** Told of every good edit picked up, with the whole file's configuration (for the audit trail). */
    private readonly onReload?: (config: Config) => void,
  ) {
    this.current = new Registry(config);
  }

  get = (): Registry => this.current;

  watch(intervalMs = 1000): void {
    watchFile(this.file, { interval: intervalMs, persistent: false }, (now, before) => {
      if (now.mtimeMs !== before.mtimeMs) this.reload();
    });
  }

  reload(): boolean {
    try {
      const { config } = loadConfig(this.file);
      this.current = new Registry({
        ...this.current.config,
        profiles: config.profiles,
        sites: config.sites,
        devices: config.devices,
        apiTokens: config.apiTokens,
        users: config.users,
      });
      this.log.info({ devices: this.current.deviceCount }, 'registry reloaded');
      this.onReload?.(config);
      return true;
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'config change ignored: the file is invalid; the previous registry stays in force');
      return false;
    }
  }

  stop(): void {
    unwatchFile(this.file);
  }
}
