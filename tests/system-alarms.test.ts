import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../app/service.js';
import { auditFile } from '../audit/audit-log.js';
import { ManagedInfluxd } from '../storage/influxd.js';
import { makeWorkspace, startTestService, testLog, waitFor, type Workspace } from './helpers/workspace.js';

interface Hook {
  reason: string;
  incident: { id: string; headline: string; locationId: string; severity: string; state: string };
  text: Record<'en' | 'zh-CN', { title: string; what: string; action: string }>;
}

/** A site with one tier-1 webhook recipient and short system-alarm delays. */
function workspace(webhookPort: number): Workspace {
  return makeWorkspace({
    devices: ['room-1'],
    yamlPatch: (yaml) =>
      yaml
        .replace(
          '  - id: dc-shanghai\n    name: Shanghai distribution centre\n',
          `  - id: dc-shanghai\n    name: Shanghai distribution centre\n    recipients:\n      - { name: Duty phone, tier: 1, webhook: "http://127.0.0.1:${webhookPort}/sms" }\n`,
        )
        .replace('  maxShelve: 24h', '  maxShelve: 24h\n  system: { influxdbAfter: 4s, clearAfter: 2s }'),
  });
}

describe('system alarms: the monitoring system watching itself, through the real service', () => {
  let webhook: Server;
  let webhookPort = 0;
  const hooks: Hook[] = [];
  const cleanups: Array<() => Promise<unknown> | unknown> = [];

  beforeAll(async () => {
    webhook = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d));
      req.on('end', () => {
        hooks.push(JSON.parse(body));
        res.writeHead(204).end();
      });
    });
    webhookPort = await new Promise<number>((r) => webhook.listen(0, '127.0.0.1', () => r((webhook.address() as { port: number }).port)));
  });
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    webhook?.close();
  });

  it('InfluxDB stopped: a major system alarm after the delay, paged by webhook in both languages; cleared after InfluxDB is back', async () => {
    const influxd = new ManagedInfluxd({ dataDir: mkdtempSync(path.join(tmpdir(), 'cc-sysalarm-influxd-')), log: testLog });
    await influxd.start();
    cleanups.push(() => influxd.stop());
    const ws = workspace(webhookPort);
    const service: RunningService = await startTestService(ws, { influxUrl: influxd.url });
    cleanups.push(() => service.stop());
    const systemIncidents = () => service.alerts.incidents.list().filter((i) => i.locationId === 'system:dc-shanghai');

    // Healthy: no system alarm.
    await new Promise((r) => setTimeout(r, 1500));
    expect(systemIncidents()).toEqual([]);

    const stoppedAt = Date.now();
    await influxd.stop();
    const hook = await waitFor(
      async () => hooks.find((h) => h.incident.headline === 'influxdb_unreachable'),
      Boolean,
      30_000,
      'the InfluxDB system alarm on the webhook',
    );
    // Not before the (shortened) delay: 4 s.
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(4000);
    expect(hook!.incident).toMatchObject({ locationId: 'system:dc-shanghai', severity: 'major', state: 'active' });
    expect(hook!.reason).toBe('tier 1');
    expect(hook!.text.en.title).toMatch(/^Monitoring system \(Shanghai distribution centre\): the database \(InfluxDB\) has been unreachable/);
    expect(hook!.text.en.action).toMatch(/Tell IT now/);
    expect(hook!.text['zh-CN'].title).toMatch(/^监控系统（Shanghai distribution centre）：数据库（InfluxDB）已无法连接/);
    expect(hook!.text['zh-CN'].action).toMatch(/立即通知 IT/);
    const [incident] = systemIncidents();
    expect(incident).toMatchObject({ headline: 'influxdb_unreachable', state: 'active', notify: 'page', deviceIds: ['system'] });
    const view = service.alerts.view(incident!);
    expect(view).toMatchObject({ siteName: 'Shanghai distribution centre', locationName: 'Monitoring system' });

    await influxd.start();
    const cleared = await waitFor(
      async () => systemIncidents().find((i) => i.id === incident!.id),
      (i) => i?.state === 'cleared',
      40_000,
      'the InfluxDB system alarm to clear',
    );
    expect(cleared!.clearedAt).toBeGreaterThan(cleared!.occurredAt);
    // One alert at each site's system place; this site's is the one paged above.
    const alerts = service.alerts.book.list().filter((a) => a.kind === 'influxdb_unreachable');
    expect(alerts.map((a) => a.siteId).sort()).toEqual(service.config.sites.map((s) => s.id).sort());
    expect(alerts.filter((a) => a.siteId === 'dc-shanghai')).toHaveLength(1);
    for (const alert of alerts) expect(alert).toMatchObject({ state: 'cleared', severity: 'major', locationId: `system:${alert.siteId}` });

    // Raise and clear are in the audit trail; the events reach InfluxDB once it is back (through the spool).
    await waitFor(
      async () => readFileSync(auditFile(service.dataDir), 'utf8'),
      (text) => text.includes('"action":"system_alarm.raised"') && text.includes('"action":"system_alarm.cleared"'),
      10_000,
      'the system alarm in the audit trail',
    );
    const { InfluxClient } = await import('../storage/influx.js');
    const influx = new InfluxClient({ url: influxd.url, database: ws.database });
    await waitFor(
      async () => (await influx.query(`SELECT count(*) FROM "incident_events"`).catch(() => [])).length,
      (n) => n > 0,
      30_000,
      'incident events in InfluxDB',
    );
  }, 150_000);

  it('a damaged audit trail at start raises the audit alarm, paged by webhook', async () => {
    const ws = workspace(webhookPort);
    const first = await startTestService(ws);
    const dataDir = first.dataDir;
    await first.stop();
    // An entry altered in the trail.
    const file = auditFile(dataDir);
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    const entry = JSON.parse(lines[0]!);
    lines[0] = JSON.stringify({ ...entry, actor: 'mallory' });
    writeFileSync(file, `${lines.join('\n')}\n`);

    const service = await startTestService(ws);
    cleanups.push(() => service.stop());
    const hook = await waitFor(async () => hooks.find((h) => h.incident.headline === 'audit_broken'), Boolean, 20_000, 'the audit system alarm on the webhook');
    expect(hook!.incident).toMatchObject({ locationId: 'system:dc-shanghai', severity: 'major' });
    expect(hook!.text.en.title).toMatch(/audit trail did not verify at start/);
    expect(hook!.text.en.action).toMatch(/Inform QA today/);
    expect(hook!.text['zh-CN'].action).toMatch(/数据完整性偏差/);
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/"action":"system_alarm.raised","target":"audit_broken"/);
  }, 60_000);
});
