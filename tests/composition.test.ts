import { describe, expect, it } from 'vitest';
import { Parts } from '../app/parts.js';
import { readEnvironment, withEnvironment } from '../core/env.js';
import { testLog } from './helpers/workspace.js';
import type { LoadedConfig } from '../core/config/load.js';

describe('the composition root stops what started, last first, once', () => {
  it('stops in reverse order, tells orderly stops from undoing a failed start, and stops once', async () => {
    const stopped: string[] = [];
    const parts = new Parts(testLog);
    for (const name of ['lock', 'spool', 'writer', 'broker'])
      parts.add(name, name, (value, orderly) => void stopped.push(`${value}:${orderly ? 'orderly' : 'undo'}`));
    expect(parts.names).toEqual(['lock', 'spool', 'writer', 'broker']);
    await Promise.all([parts.stopAll(false), parts.stopAll(true)]);
    expect(stopped).toEqual(['broker:undo', 'writer:undo', 'spool:undo', 'lock:undo']);
  });

  it('a part that fails to stop does not keep the others running; an orderly stop then reports it', async () => {
    const stopped: string[] = [];
    const parts = new Parts(testLog);
    parts.add('lock', 1, () => void stopped.push('lock'));
    parts.add('writer', 2, () => {
      throw new Error('writer stuck');
    });
    parts.add('http', 3, async () => void stopped.push('http'));
    await expect(parts.stopAll(true)).rejects.toThrow('writer stuck');
    expect(stopped).toEqual(['http', 'lock']);
  });
});

describe('the environment is read once, against one schema (core/env.ts)', () => {
  it('takes the variables it knows, treats empty ones as unset, and names a bad log level', () => {
    const env = readEnvironment({
      COLDCHAIN_CONFIG: '/srv/cc.yaml',
      COLDCHAIN_INFLUX_TOKEN: '',
      COLDCHAIN_LOG_LEVEL: 'debug',
      PATH: '/usr/bin',
      HOME: '/root',
    });
    expect(env).toEqual({
      configFile: '/srv/cc.yaml',
      logLevel: 'debug',
      httpLogLevel: undefined,
      influxToken: undefined,
      apiToken: undefined,
      brokerPassword: undefined,
    });
    expect(() => readEnvironment({ COLDCHAIN_LOG_LEVEL: 'loud' })).toThrow(/\$COLDCHAIN_LOG_LEVEL: Invalid option/);
  });

  it('fills the InfluxDB token only where the config file has none, without changing what it was given', () => {
    const loaded = { file: 'cc.yaml', dataDir: '/tmp/cc', config: { influx: { token: undefined } } } as unknown as LoadedConfig;
    const env = readEnvironment({ COLDCHAIN_INFLUX_TOKEN: 'from-env' });
    expect(withEnvironment(loaded, env).config.influx.token).toBe('from-env');
    expect(loaded.config.influx.token).toBeUndefined();
    const configured = { ...loaded, config: { influx: { token: 'from-file' } } } as unknown as LoadedConfig;
    expect(withEnvironment(configured, env).config.influx.token).toBe('from-file');
  });
});
