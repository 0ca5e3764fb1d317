import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SAMPLE_CONFIG } from '../cli/sample-config.js';
import { run } from './helpers/workspace.js';

const CLI = path.resolve('dist/cli/main.js');
const coldchain = (args: string[], input?: string) => run(process.execPath, [CLI, ...args], input, 30_000);

describe('coldchain CLI', () => {
  it('init writes a valid, commented sample config and refuses to overwrite it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cc-cli-'));
    const first = await coldchain(['init', '--dir', dir]);
    expect(first.code, first.stderr).toBe(0);
    const text = readFileSync(path.join(dir, 'coldchain.yaml'), 'utf8');
    expect(text).toContain('# Cold-chain telemetry service configuration.');
    expect(text).toMatch(/kind: freezer/);
    const again = await coldchain(['init', '--dir', dir]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already exists; pass --force');
  });

  it('device add stores only a hash, prints the token on the last line, keeps comments', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cc-cli-'));
    await coldchain(['init', '--dir', dir]);
    const config = path.join(dir, 'coldchain.yaml');
    const added = await coldchain(['device', 'add', 'room1-s1', '--location', 'dc-sh-cold-room-1', '--interval', '30s', '--config', config]);
    expect(added.code, added.stderr).toBe(0);
    const token = added.stdout.trim().split('\n').at(-1)!;
    expect(token).toMatch(/^cc_dev_[A-Za-z0-9_-]{43}$/);
    const text = readFileSync(config, 'utf8');
    expect(text).not.toContain(token);
    expect(text).toMatch(/id: room1-s1[\s\S]*interval: 30s[\s\S]*tokenHash: sha256:[0-9a-f]{64}/);
    expect(text).toContain('# Product profiles');

    const duplicate = await coldchain(['device', 'add', 'room1-s1', '--location', 'dc-sh-cold-room-1', '--config', config]);
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toContain('device "room1-s1" already exists (devices[0]');
    const nowhere = await coldchain(['device', 'add', 'x1', '--location', 'attic', '--config', config]);
    expect(nowhere.stderr).toContain('unknown location "attic"; known: dc-sh-cold-room-1');
    const api = await coldchain(['token', 'create', '--role', 'qa', '--config', config]);
    expect(api.code, api.stderr).toBe(0);
    expect(api.stdout.trim().split('\n').at(-1)).toMatch(/^cc_api_/);
    const badRole = await coldchain(['token', 'create', '--role', 'boss', '--config', config]);
    expect(badRole.code).not.toBe(0);
    expect(badRole.stderr).toContain('Allowed choices are admin, operator, qa, viewer');
  });

  it('user add reads the password from stdin and stores only an scrypt hash', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cc-cli-'));
    await coldchain(['init', '--dir', dir]);
    const config = path.join(dir, 'coldchain.yaml');
    const added = await coldchain(['user', 'add', 'quinn', '--role', 'qa', '--full-name', 'Quinn QA', '--config', config], 'correct horse battery\n');
    expect(added.code, added.stderr).toBe(0);
    const text = readFileSync(config, 'utf8');
    expect(text).toMatch(/name: quinn\n\s+fullName: Quinn QA\n\s+role: qa\n\s+passwordHash: scrypt\$16384\$8\$1\$/);
    expect(text).not.toContain('correct horse');
    const short = await coldchain(['user', 'add', 'sam', '--role', 'qa', '--full-name', 'Sam', '--config', config], 'short\n');
    expect(short.stderr).toContain('the password must have at least 10 characters');
  });

  const badConfigs: Array<{ name: string; edit: (yaml: string) => string; expected: RegExp }> = [
    {
      name: 'a location naming an unknown profile',
      edit: (y) => y.replace('profile: vaccines-2-8, areaM2: 120', 'profile: vaccines, areaM2: 120'),
      expected: /line \d+: sites\[0\]\.locations\[0\]\.profile: unknown profile "vaccines"/,
    },
    {
      name: 'a port that is not a number',
      edit: (y) => y.replace('port: 1883 ', 'port: "mqtt" '),
      expected: /line 10: mqtt\.port: Invalid input: expected number, received string/,
    },
    {
      name: 'a bad duration',
      edit: (y) => y.replace('maxFutureSkew: 5m', 'maxFutureSkew: soon'),
      expected: /line \d+: ingest\.maxFutureSkew: "soon" is not a duration/,
    },
    {
      name: 'an inverted range',
      edit: (y) => y.replace('temperature: { min: 2, max: 8 }', 'temperature: { min: 8, max: 2 }'),
      expected: /profiles\[0\]\.temperature: min must be below max/,
    },
    {
      name: 'a plain token instead of a hash',
      edit: (y) => y.replace('devices: []', 'devices:\n  - { id: d1, location: dc-sh-cold-room-1, tokenHash: secret }'),
      expected: /devices\[0\]\.tokenHash: must be "sha256:"/,
    },
    { name: 'broken YAML', edit: (y) => y.replace('http:\n', 'http:\n  - [\n'), expected: /line \d+: YAML syntax/ },
    {
      name: 'an unknown location kind',
      edit: (y) => y.replace('kind: freezer', 'kind: fridge'),
      expected: /sites\[0\]\.locations\[1\]\.kind: Invalid option: expected one of "cold_room"\|"freezer"/,
    },
  ];

  it.each(badConfigs)('start with $name exits non-zero naming the key, without a stack trace', async ({ edit, expected }) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cc-cli-'));
    const file = path.join(dir, 'coldchain.yaml');
    const text = edit(SAMPLE_CONFIG);
    expect(text).not.toBe(SAMPLE_CONFIG);
    writeFileSync(file, text);
    const result = await coldchain(['start', '--config', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${file}: invalid configuration`);
    expect(result.stderr).toMatch(expected);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('start with a missing config file says how to create one', async () => {
    const result = await coldchain(['start', '--config', '/nonexistent/coldchain.yaml']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('file not found; create one with "coldchain init"');
  });

  it('start on an MQTT port in use names the key and stops its managed influxd', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cc-cli-'));
    const blocker = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      await coldchain(['init', '--dir', dir]);
      const result = await coldchain(['start', '--config', path.join(dir, 'coldchain.yaml'), '--mqtt-port', String(port), '--http-port', '0']);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`error: mqtt.port: cannot listen on 0.0.0.0:${port} (port already in use)`);
      expect(existsSync(path.join(dir, 'data', 'influxdb', 'influxd.pid'))).toBe(false);
    } finally {
      blocker.close();
    }
  });

  it('rejects a bad port option with a precise message', async () => {
    const result = await coldchain(['start', '--mqtt-port', '99999']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("option '--mqtt-port <port>' argument '99999' is invalid. expected a port number 0-65535");
  });
});
