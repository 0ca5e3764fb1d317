import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../core/config/load.js';
import { startService, type RunningService } from '../app/service.js';
import { InfluxClient } from '../storage/influx.js';
import { ManagedInfluxd } from '../storage/influxd.js';
import { connectDevice, makeWorkspace, readingCount, readingsStored, testLog } from './helpers/workspace.js';

/** Resolves 'refused' when nothing listens on 127.0.0.1:port, 'open' when something accepts. */
function probe(port: number): Promise<'refused' | 'open'> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('open');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNREFUSED' ? resolve('refused') : reject(err)));
  });
}

/** The RPC and inner HTTP ports influxd was configured with (from the config file it was started with). */
function configuredPorts(influxDir: string): { rpc: number; http: number } {
  const conf = readFileSync(path.join(influxDir, 'influxd.conf'), 'utf8');
  const rpc = /^bind-address = "[^"]*:(\d+)"/m.exec(conf);
  const http = /^\[http\]\n(?:.*\n)*?\s+bind-address = "[^"]*:(\d+)"/m.exec(conf);
  return { rpc: Number(rpc![1]), http: Number(http![1]) };
}

describe('managed influxd: authentication on, RPC out of reach (issue 12, item 15)', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it('refuses unauthenticated /query and /write, keeps the RPC port closed, and the service still writes and reads, also on a data directory from before authentication', async () => {
    const ws = makeWorkspace({ devices: ['auth-1'] });
    const dataDir = mkdtempSync(path.join(tmpdir(), 'cc-influxd-auth-'));
    const influxDir = path.join(dataDir, 'influxdb');

    // A data directory written by the managed influxd as it was before: no authentication, no users.
    const before = new ManagedInfluxd({ dataDir: influxDir, log: testLog });
    await before.start();
    const old = new InfluxClient({ url: before.url, database: ws.database });
    await old.ensureDatabase(1830 * 86_400_000); // as the service did, with its default retention policy
    await old.write(`readings,deviceId=auth-1 temperature=5.5 ${(Date.now() - 3_600_000) * 1e6}`);
    await before.stop();

    const start = () => startService(loadConfig(ws.configFile), { mqttPort: 0, httpPort: 0, influxUrl: undefined, influxDb: ws.database, dataDir }, testLog);
    let service: RunningService = await start();
    cleanups.push(() => service.stop());
    const base = service.influxUrl;

    // Without credentials, or with wrong ones: 401, for reads, writes and creating an admin.
    expect((await fetch(`${base}/query?q=${encodeURIComponent('SHOW DATABASES')}`)).status).toBe(401);
    expect((await fetch(`${base}/query?db=${ws.database}&q=${encodeURIComponent('SELECT * FROM readings')}`)).status).toBe(401);
    expect((await fetch(`${base}/write?db=${ws.database}`, { method: 'POST', body: 'readings,deviceId=auth-1 temperature=99' })).status).toBe(401);
    const createAdmin = new URLSearchParams({ q: `CREATE USER "intruder" WITH PASSWORD 'x' WITH ALL PRIVILEGES` });
    expect((await fetch(`${base}/query`, { method: 'POST', body: createAdmin })).status).toBe(401);
    const wrong = { Authorization: `Basic ${Buffer.from('coldchain:guess').toString('base64')}` };
    expect((await fetch(`${base}/query?q=${encodeURIComponent('SHOW DATABASES')}`, { headers: wrong })).status).toBe(401);

    // Neither the RPC (backup/restore, no authentication in 1.x) nor influxd's own HTTP port is reachable on the host.
    const ports = configuredPorts(influxDir);
    expect(await probe(ports.rpc), `RPC port ${ports.rpc}`).toBe('refused');
    expect(await probe(ports.http), `influxd's HTTP port ${ports.http}`).toBe('refused');

    // The password: in a 0600 file in a 0700 directory, not on influxd's command line, not in its log.
    const credentialsFile = path.join(influxDir, 'admin-credentials.json');
    expect(statSync(credentialsFile).mode & 0o777).toBe(0o600);
    expect(statSync(influxDir).mode & 0o777).toBe(0o700);
    const credentials = JSON.parse(readFileSync(credentialsFile, 'utf8')) as { username: string; password: string };
    expect(credentials.password.length).toBeGreaterThanOrEqual(40);
    const pid = Number(readFileSync(path.join(influxDir, 'influxd.pid'), 'utf8'));
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).not.toContain(credentials.password);
    expect(readFileSync(path.join(influxDir, 'influxd.log'), 'utf8')).not.toContain(credentials.password);

    // The service writes (MQTT → spool → influxd) and reads (API) as the admin; the old reading is still there.
    const admin = new InfluxClient({ url: base, database: ws.database, ...credentials });
    const device = await connectDevice(service.mqttPort!, 'auth-1', ws.deviceTokens['auth-1']!);
    await device.publishAsync('cc/v1/auth-1/telemetry', JSON.stringify({ ts: Date.now() - 1000, temperature: 4.2 }), { qos: 1 });
    await device.endAsync();
    await readingsStored(admin, 'auth-1', (n) => n >= 2, 'the new reading beside the old one');
    const api = await fetch(`http://127.0.0.1:${service.httpPort}/api/v1/devices/auth-1/readings?from=${Date.now() - 7_200_000}`, {
      headers: { Authorization: `Bearer ${ws.apiTokens.viewer}` },
    });
    expect(api.status).toBe(200);
    expect(JSON.stringify(await api.json())).toContain('4.2');

    // A second start signs in with the stored password (no second admin, nothing to re-create).
    await service.stop();
    service = await start();
    expect((await fetch(`${service.influxUrl}/query?q=${encodeURIComponent('SHOW DATABASES')}`)).status).toBe(401);
    const users = await new InfluxClient({ url: service.influxUrl, database: ws.database, ...credentials }).query('SHOW USERS', { database: null });
    expect(users[0]!.values).toEqual([['coldchain', true]]);
    expect(await readingCount(new InfluxClient({ url: service.influxUrl, database: ws.database, ...credentials }), 'auth-1')).toBe(2);
  });
});
