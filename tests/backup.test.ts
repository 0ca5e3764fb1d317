import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createBackup, restoreBackup, verifyBackup } from '../backup/backup.js';
import { BackupScheduler } from '../backup/scheduler.js';
import { readdirSync } from 'node:fs';
import { pino } from 'pino';
import { AuditLog, auditFile } from '../audit/audit-log.js';
import { InfluxClient } from '../storage/influx.js';
import { connectDevice, makeWorkspace, run, startTestService, waitFor } from './helpers/workspace.js';
import type { RunningService } from '../app/service.js';

const MIN = 60_000;

/** Every point of every measurement, exactly (nanosecond times, typed fields), in a stable order. */
async function dump(influx: InfluxClient): Promise<Record<string, unknown[][]>> {
  const out: Record<string, unknown[][]> = {};
  for (const row of (await influx.query('SHOW MEASUREMENTS'))[0]?.values ?? []) {
    const series = await influx.query(`SELECT * FROM "${String(row[0])}"`, { exact: true });
    out[String(row[0])] = series
      .flatMap((s) => s.values.map((v) => v.map((x) => (typeof x === 'bigint' ? x.toString() : x))))
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  }
  return out;
}

/** A report as JSON without what differs between two renderings of the same record (when it was generated, and
 * `coverage.asOf`: the moment the report was computed at, which a signature would bind). */
const stable = (value: unknown): unknown =>
  Array.isArray(value)
    ? value.map(stable)
    : value && typeof value === 'object'
      ? Object.fromEntries(
          Object.entries(value)
            .filter(([k]) => !/generated|verification|^asOf$/i.test(k))
            .map(([k, v]) => [k, stable(v)]),
        )
      : value;

describe('backup and restore (issue 13, item 4)', () => {
  const services: RunningService[] = [];
  afterAll(async () => {
    for (const s of services) await s.stop().catch(() => undefined);
  });

  it('backs up a running record, destroys it, restores it: the same points, the same report, a verifying audit trail', async () => {
    const ws = makeWorkspace({ devices: ['bk-1', 'bk-2'] });
    const service = await startTestService(ws);
    services.push(service);
    const base = `http://127.0.0.1:${service.httpPort}`;
    const admin = { Authorization: `Bearer ${ws.apiTokens.admin}`, 'Content-Type': 'application/json' };
    const start = Date.now() - 60 * MIN;
    for (const id of ['bk-1', 'bk-2']) {
      const device = await connectDevice(service.mqttPort!, id, ws.deviceTokens[id]!);
      await device.publishAsync(
        `cc/v1/${id}/telemetry`,
        JSON.stringify(
          Array.from({ length: 50 }, (_, i) => ({ ts: start + i * MIN, temperature: i >= 20 && i < 40 ? 9.5 : 5.2, humidity: 50 + (i % 7), seq: i })),
        ),
        { qos: 1 },
      );
      await device.endAsync();
    }
    const shipment = await fetch(`${base}/api/v1/shipments`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ id: 'SH-BK-1', product: 'Vaccine', profile: 'vaccines-2-8', batch: 'LOT-1', quantity: 10, shipper: 'DC', consignee: 'Hospital' }),
    });
    expect(shipment.status).toBe(201);
    // Stored, loaded and delivered: a closed record, so its report does not move with the clock.
    for (const [event, locationId, minute] of [
      ['stored', 'dc-sh-cold-room-1', 0],
      ['loaded', 'truck-hu-a12345-box', 52],
      ['delivered', 'hospital-pudong-fridge', 56],
    ] as const) {
      const custody = await fetch(`${base}/api/v1/shipments/SH-BK-1/custody`, {
        method: 'POST',
        headers: admin,
        body: JSON.stringify({ event, locationId, at: start + minute * MIN }),
      });
      expect(custody.status, await custody.clone().text()).toBe(201);
    }
    const influx = new InfluxClient({ url: inject('influxUrl'), database: ws.database });
    await waitFor(
      () => influx.query(`SELECT count("temperature") FROM "readings"`).then((s) => Number(s[0]?.values[0]?.[1] ?? 0)),
      (n) => n === 100,
      15_000,
      '100 readings stored',
    );
    await waitFor(
      () => influx.query(`SELECT count("state") FROM "alert_events"`).then((s) => Number(s[0]?.values[0]?.[1] ?? 0)),
      (n) => n > 0,
      15_000,
      'alert events stored',
    );
    const reportBefore = stable(await (await fetch(`${base}/api/v1/shipments/SH-BK-1/report`, { headers: admin })).json());
    await service.stop();
    services.pop();
    const before = await dump(influx);
    expect(Object.keys(before)).toEqual(expect.arrayContaining(['readings', 'alert_events', 'incident_events', 'shipment_events']));

    const out = path.join(mkdtempSync(path.join(tmpdir(), 'cc-backup-')), 'b1');
    const dataDir = path.join(ws.dir, 'data');
    const manifest = await createBackup({ influx, dataDir, configFile: ws.configFile, out });
    expect(manifest.measurements.find((m) => m.name === 'readings')?.points).toBe(100);
    expect(manifest.auditLastHash).toMatch(/^[0-9a-f]{64}$/);

    // Destroyed: the data directory and the database are gone.
    rmSync(dataDir, { recursive: true, force: true });
    await influx.query(`DROP DATABASE "${ws.database}"`, { database: null, method: 'POST' });

    // Restored into a new empty database and data directory, the service runs on it as before.
    const restoredDb = `${ws.database}_r`;
    const target = new InfluxClient({ url: inject('influxUrl'), database: restoredDb });
    await target.ensureDatabase(1830 * 86_400_000);
    await restoreBackup({ from: out, influx: target, dataDir });
    expect(await dump(target)).toEqual(before);
    const audit = new AuditLog(auditFile(dataDir));
    const verified = await audit.open();
    await audit.close();
    expect(verified.ok, verified.problem).toBe(true);
    const restored = await startTestService(ws, { influxDb: restoredDb });
    services.push(restored);
    const reportAfter = stable(await (await fetch(`http://127.0.0.1:${restored.httpPort}/api/v1/shipments/SH-BK-1/report`, { headers: admin })).json());
    expect(reportAfter).toEqual(reportBefore);
  });

  it('a backup file altered after the fact, or one added, is refused by name', async () => {
    const ws = makeWorkspace({ devices: [] });
    const influx = new InfluxClient({ url: inject('influxUrl'), database: ws.database });
    await influx.ensureDatabase(86_400_000);
    await influx.write(`readings,deviceId=x temperature=5 ${Date.now()}000000`);
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'cc-backup-')), 'b2');
    await createBackup({ influx, dataDir: path.join(ws.dir, 'data'), configFile: ws.configFile, out });
    await expect(verifyBackup(out)).resolves.toMatchObject({ format: 'coldchain-backup/1' });
    const config = path.join(out, 'files', 'config.yaml');
    writeFileSync(config, `${readFileSync(config, 'utf8')}\n# edited\n`);
    await expect(verifyBackup(out)).rejects.toThrow(
      `backup file ${path.join('files', 'config.yaml')} does not match its SHA-256 in the manifest (altered or damaged)`,
    );
    await expect(createBackup({ influx, dataDir: ws.dir, configFile: ws.configFile, out })).rejects.toThrow(/is not empty/);
  });

  it('coldchain backup and restore from the command line, with progress, onto an empty data directory', async () => {
    const ws = makeWorkspace({ devices: [] });
    const original = readFileSync(ws.configFile, 'utf8');
    const configured = (database: string, dataDir: string) =>
      original
        .replace(/^dataDir: .*$/m, `dataDir: ${dataDir}`)
        .replace(/^influx:\n/m, `influx:\n  url: ${inject('influxUrl')}\n`)
        .replace(/^ {2}database: .*$/m, `  database: ${database}`);
    writeFileSync(ws.configFile, configured(ws.database, './data'));
    const influx = new InfluxClient({ url: inject('influxUrl'), database: ws.database });
    await influx.ensureDatabase(86_400_000);
    await influx.write([1, 2, 3].map((i) => `readings,deviceId=cli-${i} temperature=${i}.5,seq=${i}i ${Date.now() - i * MIN}000000`).join('\n'));
    const out = path.join(ws.dir, 'backup-1');
    const cli = path.resolve('dist/cli/main.js');
    const backup = await run(process.execPath, [cli, 'backup', '--config', ws.configFile, '--out', out], undefined, 60_000);
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.stdout).toMatch(/^backup written to .*backup-1: readings 3; \d+ files with SHA-256 digests in manifest\.json/);
    expect(backup.stderr).toContain('[backup] readings: 3 points');
    // Elsewhere: a new configuration, database and data directory.
    const elsewhere = path.join(ws.dir, 'elsewhere.yaml');
    writeFileSync(elsewhere, configured(`${ws.database}_cli`, './restored'));
    const restore = await run(process.execPath, [cli, 'restore', '--config', elsewhere, '--from', out], undefined, 60_000);
    expect(restore.code, restore.stderr).toBe(0);
    expect(restore.stdout).toContain('restored 3 points');
    const restored = new InfluxClient({ url: inject('influxUrl'), database: `${ws.database}_cli` });
    expect(await dump(restored)).toEqual(await dump(influx));
    const again = await run(process.execPath, [cli, 'restore', '--config', elsewhere, '--from', out], undefined, 60_000);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/restore needs an empty (data directory|database)/);
  });
});

describe('the daily backup (issue 13, item 4)', () => {
  it('runs once a day at its local time, keeps the newest, survives a restart without repeating, reports failures and an overdue backup', async () => {
    const ws = makeWorkspace({ devices: [] });
    const influx = new InfluxClient({ url: inject('influxUrl'), database: ws.database });
    await influx.ensureDatabase(86_400_000);
    await influx.write(`readings,deviceId=d temperature=5 ${Date.now()}000000`);
    const dir = path.join(ws.dir, 'backups');
    let now = Date.parse('2026-12-01T18:00:00Z'); // 02:00 in Shanghai
    const settings = { dir, at: '02:30', timeZone: 'Asia/Shanghai', keep: 2 };
    const make = () =>
      new BackupScheduler({ influx, dataDir: path.join(ws.dir, 'data'), configFile: ws.configFile, settings, log: pino({ level: 'silent' }), now: () => now });
    let scheduler = make();
    await scheduler.start();
    await scheduler.tick();
    expect(readdirSync(path.join(ws.dir)).includes('backups')).toBe(false);
    for (let day = 0; day < 3; day++) {
      now = Date.parse('2026-12-01T18:31:00Z') + day * 86_400_000; // 02:31
      await scheduler.tick();
      await scheduler.tick();
      expect((await scheduler.list()).length, JSON.stringify(scheduler.status())).toBe(Math.min(day + 1, 2));
    }
    expect(scheduler.status()).toMatchObject({ overdue: false, lastFailure: null });
    await scheduler.stop();
    // After a restart on the same day: nothing more.
    scheduler = make();
    await scheduler.start();
    now += 3_600_000;
    await scheduler.tick();
    expect((await scheduler.list()).length).toBe(2);
    // The database goes away: the failure is kept, no half-written backup is left, and a day later it is overdue.
    const failing = new BackupScheduler({
      influx: new InfluxClient({ url: 'http://127.0.0.1:9', database: 'x' }),
      dataDir: path.join(ws.dir, 'data'),
      configFile: ws.configFile,
      settings,
      log: pino({ level: 'silent' }),
      now: () => now,
    });
    await failing.start();
    now += 86_400_000;
    await failing.tick();
    expect(failing.status().lastFailure?.error).toMatch(/unreachable/);
    expect((await failing.list()).length).toBe(2);
    now += 3 * 3_600_000;
    expect(failing.status().overdue).toBe(true);
    await failing.stop();
    await scheduler.stop();
  });
});

describe('the daily backup in the service', () => {
  it('shows in /healthz (never making the service unavailable) and /metrics', async () => {
    const ws = makeWorkspace({ devices: [] });
    // The test workspace turns the daily backup off; this test turns it back on.
    writeFileSync(ws.configFile, readFileSync(ws.configFile, 'utf8').replace(/(backup:\n\s+enabled: )false/, '$1true'));
    const service = await startTestService(ws);
    try {
      const health = await (await fetch(`http://127.0.0.1:${service.httpPort}/healthz`)).json();
      expect(health).toMatchObject({ status: 'ok', components: { backup: { ready: true, lastSuccessAt: null, overdue: false, running: false } } });
      const metrics = await (
        await fetch(`http://127.0.0.1:${service.httpPort}/metrics`, { headers: { Authorization: `Bearer ${ws.apiTokens.viewer}` } })
      ).text();
      expect(metrics).toMatch(/^coldchain_backup_age_seconds -1$/m);
      expect(metrics).toMatch(/^coldchain_backup_overdue 0$/m);
    } finally {
      await service.stop();
    }
  });
});
