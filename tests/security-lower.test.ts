import { mkdirSync, readdirSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../app/service.js';
import { appendToList, editConfig } from '../core/config/edit.js';
import { generateToken, hashPassword, hashToken } from '../core/secrets.js';
import { auditFile } from '../audit/audit-log.js';
import { connectDevice, makeWorkspace, run, startTestService, tokenFileOf, waitFor, type Workspace } from './helpers/workspace.js';

const CLI = path.resolve('dist/cli/main.js');
const modeOf = (file: string) => statSync(file).mode & 0o777;
/** Resolves once the client's connection is closed (by the broker), false if it is still up after `ms`. */
const closedWithin = (client: MqttClient, ms: number) =>
  new Promise<boolean>((resolve) => {
    if (!client.connected) return resolve(true);
    const timer = setTimeout(() => resolve(false), ms);
    client.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });

describe('issue 12, item 16: the lower findings', () => {
  let ws: Workspace;
  let service: RunningService;
  let dataDir: string;
  beforeAll(async () => {
    ws = makeWorkspace({ devices: ['low-1', 'low-2', 'low-3'], yamlPatch: (yaml) => yaml.replace('# board: {', 'board: {') });
    // A data directory made earlier with the usual umask (0755): the service closes it.
    dataDir = path.join(ws.dir, 'data');
    mkdirSync(dataDir, { mode: 0o755 });
    chmodSync(dataDir, 0o755);
    const passwordHash = await hashPassword('olga-password-1');
    editConfig(ws.configFile, (doc) => appendToList(doc, 'users', { name: 'olga', fullName: 'Olga Operator', role: 'operator', passwordHash }));
    service = await startTestService(ws);
  });
  afterAll(async () => {
    await service?.stop();
  });

  it('keeps the data directory, spool segments and audit trail to the owner (0700 / 0600)', async () => {
    const device = await connectDevice(service.mqttPort!, 'low-1', ws.deviceTokens['low-1']!);
    await device.publishAsync('cc/v1/low-1/telemetry', JSON.stringify({ ts: Date.now() - 1000, temperature: 4 }), { qos: 1 });
    await device.endAsync();
    expect(service.dataDir).toBe(dataDir);
    expect(modeOf(dataDir)).toBe(0o700);
    const spoolDir = path.join(dataDir, 'spool');
    expect(modeOf(spoolDir)).toBe(0o700);
    const segments = readdirSync(spoolDir).filter((f) => f.endsWith('.seg'));
    expect(segments.length).toBeGreaterThan(0);
    for (const segment of segments) expect(modeOf(path.join(spoolDir, segment)), segment).toBe(0o600);
    expect(modeOf(auditFile(dataDir))).toBe(0o600);
    expect(modeOf(path.join(dataDir, 'coldchain.pid'))).toBe(0o600);
  });

  it('refuses secrets given as option values, without echoing them, and reads them from a file', async () => {
    const secret = 'cc_api_this-must-not-be-echoed';
    for (const args of [
      ['alerts', 'list', '--config', ws.configFile, '--token', secret],
      ['start', '--config', ws.configFile, '--influx-token', secret],
      ['ingest', '--config', ws.configFile, '--broker', 'mqtt://127.0.0.1:1', '--password', secret],
    ]) {
      const refused = await run(process.execPath, [CLI, ...args]);
      expect(refused.code, args.join(' ')).toBe(1);
      const flag = args.find((a) => a.startsWith('--') && ['--token', '--influx-token', '--password'].includes(a))!;
      expect(refused.stderr).toContain(
        `error: ${flag} is no longer accepted: a secret on the command line is visible to every local user (ps, /proc/<pid>/cmdline); set $`,
      );
      expect(refused.stderr).toContain(`${flag}-file <file>`);
      expect(refused.stdout + refused.stderr).not.toContain(secret);
    }
    const tokenFile = tokenFileOf(ws, 'viewer');
    const listed = await run(process.execPath, [
      CLI,
      'alerts',
      'list',
      '--config',
      ws.configFile,
      '--url',
      `http://127.0.0.1:${service.httpPort}`,
      '--token-file',
      tokenFile,
    ]);
    expect(listed.code, listed.stderr).toBe(0);
    const empty = path.join(ws.dir, 'empty.token');
    writeFileSync(empty, '\n');
    const none = await run(process.execPath, [CLI, 'alerts', 'list', '--config', ws.configFile, '--token-file', empty]);
    expect(none.stderr).toContain(`error: --token-file ${empty}: the first line is empty`);
  });

  it('disconnects a device whose token is changed or removed, and a user whose password is changed, on the registry reload', async () => {
    const changed = await connectDevice(service.mqttPort!, 'low-2', ws.deviceTokens['low-2']!);
    const removed = await connectDevice(service.mqttPort!, 'low-3', ws.deviceTokens['low-3']!);
    const kept = await connectDevice(service.mqttPort!, 'low-1', ws.deviceTokens['low-1']!);
    const follower = await mqtt.connectAsync(`mqtt://127.0.0.1:${service.mqttPort}`, { username: 'olga', password: 'olga-password-1', reconnectPeriod: 0 });
    for (const client of [changed, removed, kept, follower]) client.on('error', () => undefined);
    const newToken = generateToken('dev');
    const newPasswordHash = await hashPassword('olga-password-2');
    editConfig(ws.configFile, (doc, current) => {
      doc.setIn(['devices', current.devices.findIndex((d) => d.id === 'low-2'), 'tokenHash'], hashToken(newToken));
      doc.setIn(['users', current.users.findIndex((u) => u.name === 'olga'), 'passwordHash'], newPasswordHash);
      doc.deleteIn(['devices', current.devices.findIndex((d) => d.id === 'low-3')]);
    });
    await waitFor(async () => service.registry.get().device('low-3') === undefined, Boolean, 10_000, 'the registry reload');
    expect(await closedWithin(changed, 5000), 'device with a changed token').toBe(true);
    expect(await closedWithin(removed, 5000), 'removed device').toBe(true);
    expect(await closedWithin(follower, 5000), 'user with a changed password').toBe(true);
    expect(kept.connected, 'an unchanged device stays connected').toBe(true);
    await kept.publishAsync('cc/v1/low-1/telemetry', JSON.stringify({ ts: Date.now() - 500, temperature: 4.1 }), { qos: 1 });
    await kept.endAsync();
    await expect(connectDevice(service.mqttPort!, 'low-2', ws.deviceTokens['low-2']!)).rejects.toThrow(/Bad username or password/);
    const renewed = await connectDevice(service.mqttPort!, 'low-2', newToken);
    await renewed.endAsync();
  });

  it('sends CSP and frame options with the board and the API', async () => {
    const base = `http://127.0.0.1:${service.httpPort}`;
    for (const [url, init] of [
      [`${base}/`, {}],
      [`${base}/api/v1/alerts`, { headers: { Authorization: `Bearer ${ws.apiTokens.viewer}` } }],
      [`${base}/api/v1/alerts`, {}],
      [`${base}/no-such-page`, {}],
    ] as const) {
      const response = await fetch(url, init);
      await response.arrayBuffer();
      const csp = response.headers.get('content-security-policy') ?? '';
      expect(csp, url).toContain("script-src 'self'");
      expect(csp, url).toContain("frame-ancestors 'none'");
      expect(csp, url).toContain("object-src 'none'");
      // The sample's map tiles (board.tileUrl) may load; nothing else from outside.
      expect(csp, url).toContain("img-src 'self' data: blob: https://tile.openstreetmap.org;");
      expect(response.headers.get('x-frame-options'), url).toBe('DENY');
      expect(response.headers.get('x-content-type-options'), url).toBe('nosniff');
    }
  });
});
