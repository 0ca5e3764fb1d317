import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startService, type RunningService } from '../app/service.js';
import { DATA_LAYOUT, readLayout, layoutFile } from '../app/data-dir-layout.js';
import { AuditLog, auditFile, readAuditEntries, verifyAuditLog, type AuditEntry } from '../audit/audit-log.js';
import type { ReadingsResponse } from '../api/readings.js';
import { loadConfig } from '../core/config/load.js';
import { Spool } from '../ingestor/spool.js';
import { InfluxClient } from '../storage/influx.js';
import { ManagedInfluxd } from '../storage/influxd.js';
import { makeWorkspace, startTestService, testLog } from './helpers/workspace.js';

/** Issue 13, "Done when": a data directory made by an earlier version starts, is upgraded once, and keeps its records. */
describe('data directories of earlier versions', () => {
  const running: RunningService[] = [];
  afterAll(async () => {
    for (const s of running) await s.stop();
  });
  const entriesOf = async (file: string) => {
    const entries: AuditEntry[] = [];
    for await (const entry of readAuditEntries(file)) entries.push(entry);
    return entries;
  };

  it('upgrades an old layout on start (logged, audited, VERSION written), keeps its readings and audit chain, and does it only once', async () => {
    const ws = makeWorkspace({ devices: ['legacy-1'] });
    const dataDir = loadConfig(ws.configFile).dataDir;
    const hoursAgo = (h: number) => Date.now() - h * 3_600_000;
    const [t1, t2, t3] = [hoursAgo(5), hoursAgo(4), hoursAgo(3)];
    const series = 'readings,deviceId=legacy-1,locationId=dc-sh-cold-room-1,siteId=dc-shanghai';

    // The layout before: no VERSION; the usual umask; a managed influxd without authentication whose
    // database has a short retention policy and readings without receivedAt; an audit trail; a spool
    // segment still holding a reading that was never written.
    mkdirSync(dataDir, { mode: 0o755 });
    chmodSync(dataDir, 0o755);
    const before = new ManagedInfluxd({ dataDir: path.join(dataDir, 'influxdb'), log: testLog });
    await before.start();
    const old = new InfluxClient({ url: before.url, database: ws.database });
    await old.ensureDatabase(30 * 86_400_000);
    await old.write(`${series} temperature=4.5,seq=1i ${t1}000000\n${series} temperature=4.75,seq=2i ${t2}000000\n`);
    await before.stop();
    chmodSync(path.join(dataDir, 'influxdb'), 0o755);
    const trail = new AuditLog(auditFile(dataDir));
    await trail.open();
    await trail.append({ actor: 'alice', action: 'device.add', target: 'legacy-1' });
    await trail.append({ actor: 'alice', action: 'user.add', target: 'bob' });
    await trail.close();
    chmodSync(auditFile(dataDir), 0o644);
    const spool = new Spool(path.join(dataDir, 'spool'), 1 << 20, testLog);
    await spool.open();
    await spool.append(`${series} temperature=5.25,seq=3i ${t3}000000`, 1);
    await spool.close();
    const oldEntries = await entriesOf(auditFile(dataDir));
    expect(existsSync(layoutFile(dataDir))).toBe(false);

    // The managed influxd of the service (with authentication), on that directory.
    const start = async () => {
      const service = await startService(loadConfig(ws.configFile), { mqttPort: 0, httpPort: 0, influxDb: ws.database }, testLog);
      running.push(service);
      return service;
    };
    const stop = async (service: RunningService) => {
      running.splice(running.indexOf(service), 1);
      await service.stop();
    };
    const service = await start();

    const layout = readLayout(dataDir)!;
    expect(layout.layout).toBe(DATA_LAYOUT);
    expect(layout.history).toHaveLength(1);
    expect(layout.history[0]).toMatchObject({ from: 0, to: DATA_LAYOUT });
    const steps = layout.history[0]!.steps;
    expect(steps).toEqual(
      expect.arrayContaining([
        'influxdb/ made private (0700)',
        'audit/audit.ndjson made private (0600)',
        'managed influxd: authentication on, admin user created (influxdb/admin-credentials.json, 0600)',
        expect.stringMatching(/^retention: coldchain_retention keeps 1830 days/),
      ]),
    );
    expect(statSync(auditFile(dataDir)).mode & 0o777).toBe(0o600);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);

    // The audit trail: the old entries as they were, the upgrade recorded after them, the whole chain verifying.
    const entries = await entriesOf(auditFile(dataDir));
    expect(entries.slice(0, oldEntries.length)).toEqual(oldEntries);
    const migrated = entries.filter((e) => e.action === 'data.migrated');
    expect(migrated).toHaveLength(1);
    expect(migrated[0]!.details).toMatchObject({ from: 0, to: DATA_LAYOUT, steps });
    expect(verifyAuditLog(auditFile(dataDir)).ok).toBe(true);

    // The readings: the two stored ones and the one the spool still held, through the API (as the service's admin).
    const admin = JSON.parse(readFileSync(path.join(dataDir, 'influxdb', 'admin-credentials.json'), 'utf8')) as { username: string; password: string };
    const influx = new InfluxClient({ url: service.influxUrl, database: ws.database, ...admin });
    expect(await influx.retention()).toBe(1830 * 86_400_000);
    const readings = async () => {
      const response = await fetch(`http://127.0.0.1:${service.httpPort}/api/v1/devices/legacy-1/readings?from=${hoursAgo(6)}`, {
        headers: { Authorization: `Bearer ${ws.apiTokens.viewer}` },
      });
      return ((await response.json()) as ReadingsResponse).readings.map(({ ts, temperature }) => ({ ts, temperature }));
    };
    await expect.poll(readings, { timeout: 20_000 }).toEqual([
      { ts: t1, temperature: 4.5 },
      { ts: t2, temperature: 4.75 },
      { ts: t3, temperature: 5.25 },
    ]);
    await stop(service);

    // A second start: nothing to upgrade, nothing recorded again.
    const again = await start();
    expect(readLayout(dataDir)).toEqual(layout);
    expect((await entriesOf(auditFile(dataDir))).filter((e) => e.action === 'data.migrated')).toHaveLength(1);
    expect(verifyAuditLog(auditFile(dataDir)).ok).toBe(true);
    await stop(again);
  });

  it('gives a new data directory its VERSION without an upgrade, and refuses one of a newer layout by name', async () => {
    const ws = makeWorkspace({ devices: [] });
    const dataDir = loadConfig(ws.configFile).dataDir;
    const service = await startTestService(ws);
    running.push(service);
    expect(readLayout(dataDir)).toMatchObject({ layout: DATA_LAYOUT, history: [] });
    running.splice(running.indexOf(service), 1);
    await service.stop();
    expect((await entriesOf(auditFile(dataDir))).some((e) => e.action === 'data.migrated')).toBe(false);

    writeFileSync(layoutFile(dataDir), JSON.stringify({ layout: DATA_LAYOUT + 1, writtenBy: 'coldchain 9.0.0', at: new Date().toISOString(), history: [] }));
    await expect(startTestService(ws)).rejects.toThrow(
      `${layoutFile(dataDir)}: this data directory has layout ${DATA_LAYOUT + 1} (written by coldchain 9.0.0); this version of coldchain knows layouts up to ${DATA_LAYOUT}`,
    );
  });
});
