import { z } from 'zod';
import type { LoadedConfig } from './config/load.js';

const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);
const nonEmpty = z.string().min(1).optional();

/**
 * Every environment variable the service reads. They are read once, by the CLI (the composition
 * root: cli/environment.ts), and passed down as values; no other module looks at `process.env`.
 */
export const environmentSchema = z
  .object({
    /** The config file when `--config` is not given. */
    COLDCHAIN_CONFIG: nonEmpty,
    /** Log level; wins over `log.level` in the config. */
    COLDCHAIN_LOG_LEVEL: logLevel.optional(),
    /** Level of the HTTP request log (off unless asked for: `info` logs every request). */
    COLDCHAIN_HTTP_LOG_LEVEL: logLevel.optional(),
    /** InfluxDB 2.x/3.x token when the config has none (`--influx-token` wins over both). */
    COLDCHAIN_INFLUX_TOKEN: nonEmpty,
    /** API token for the CLI's commands that go through the running service (`--token` wins). */
    COLDCHAIN_API_TOKEN: nonEmpty,
    /** Password for `coldchain ingest` at an external broker (`--password` wins). */
    COLDCHAIN_BROKER_PASSWORD: nonEmpty,
    /** Password of the cluster's Redis (`coldchain start --cluster`); never in the URL. */
    COLDCHAIN_REDIS_PASSWORD: nonEmpty,
  })
  .transform((env) => ({
    configFile: env.COLDCHAIN_CONFIG,
    logLevel: env.COLDCHAIN_LOG_LEVEL,
    httpLogLevel: env.COLDCHAIN_HTTP_LOG_LEVEL,
    influxToken: env.COLDCHAIN_INFLUX_TOKEN,
    apiToken: env.COLDCHAIN_API_TOKEN,
    brokerPassword: env.COLDCHAIN_BROKER_PASSWORD,
    redisPassword: env.COLDCHAIN_REDIS_PASSWORD,
  }));

export type Environment = z.output<typeof environmentSchema>;

/** Reads the variables above; an empty variable counts as unset, a bad log level is named. */
export function readEnvironment(env: Readonly<Record<string, string | undefined>>): Environment {
  const present = Object.fromEntries(Object.entries(env).filter(([key, value]) => key.startsWith('COLDCHAIN_') && value !== ''));
  const parsed = environmentSchema.safeParse(present);
  if (!parsed.success) throw new Error(`environment: ${parsed.error.issues.map((i) => `$${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

/** The config as the service runs it: the file, with what the environment supplies where the file is silent. */
export function withEnvironment(loaded: LoadedConfig, env: Environment): LoadedConfig {
  const config = structuredClone(loaded.config);
  config.influx.token ??= env.influxToken;
  return { ...loaded, config };
}
