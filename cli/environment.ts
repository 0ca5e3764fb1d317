import type { Command } from 'commander';
import { readEnvironment, type Environment } from '../core/env.js';

let read: Environment | undefined;

/**
 * The environment, read once per CLI run (core/env.ts lists every variable). This is the only
 * place the program looks at `process.env`; commands get what it holds as option values or as
 * the config `withEnvironment` returns.
 */
export function environment(): Environment {
  read ??= readEnvironment(process.env);
  return read;
}

/**
 * Fills what an option left unset from the environment: `--config` from $COLDCHAIN_CONFIG (not
 * for `init`, which writes where it is told or in --dir), the API token from $COLDCHAIN_API_TOKEN
 * and the broker password from $COLDCHAIN_BROKER_PASSWORD (a --token-file / --password-file wins).
 */
export function fillFromEnvironment(command: Command): void {
  const env = environment();
  const has = (key: string) => command.options.some((o) => o.attributeName() === key);
  const options = command.opts();
  const fill = (key: string, value: string | undefined) => {
    if (value !== undefined && has(key) && options[key] === undefined) command.setOptionValueWithSource(key, value, 'env');
  };
  if (command.name() !== 'init') fill('config', env.configFile);
  fill('token', env.apiToken);
  fill('password', env.brokerPassword);
}
