import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../app/service.js';
import { auditFile } from '../audit/audit-log.js';
import { ManagedInfluxd } from '../storage/influxd.js';
import { ClockWatch } from '../alerts/clock-watch.js';
import { startWebhookReceiver } from './helpers/receivers.js';
import { makeWorkspace, startTestService, testLog, waitFor, type Workspace } from './helpers/workspace.js';

interface Hook {
  reason: string;
  incident: { id: string; headline: string; locationId: string; severity: string; state: string };
  text: Record<'en' | 'zh-CN', { title: string; what: string; action: string }>;
}

/** A site with one tier-1 webhook recipient and short system-alarm delays. */
function workspace(webhookPort: number, system = 'influxdbAfter: 4s, clearAfter: 2s'): Workspace {
  return makeWorkspace({
    devices: ['room-1'],
    yamlPatch: (yaml) =>
      yaml
        .replace(
          '  - id: dc-shanghai\n    name: Shanghai distribution centre\n',
          `  - id: dc-shanghai\n    name: Shanghai distribution centre\n    recipients:\n      - { name: Duty phone, tier: 1, webhook: "http://127.0.0.1:${webhookPort}/sms" }\n`,
        )
        .replace('  maxShelve: 24h', `  maxShelve: 24h\n  system: { ${system} }`),
  });
}

describe('system alarms: the monitoring system watching itself, through the real service', () => {
  let webhook: Server;
  let webhookPort = 0;
  const hooks: Hook[] = [];
  const cleanups: Array<() => Promise<unknown> | unknown> = [];

  beforeAll(async () => {
    ({ server: webhook, port: webhookPort } = await startWebhookReceiver((hook) => hooks.push(hook)));
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
    expect(service.alerts.view(incident!)).toBe(view);

    await influxd.start();
    const cleared = await waitFor(
      async () => systemIncidents().find((i) => i.id === incident!.id),
      (i) => i?.state === 'cleared',
      40_000,
      'the InfluxDB system alarm to clear',
    );
    expect(cleared!.clearedAt).toBeGreaterThan(cleared!.occurredAt);
    // A changed incident is described afresh, at once (an unchanged one's view is reused).
    const clearedView = service.alerts.view(cleared!);
    expect(clearedView).not.toBe(view);
    expect(clearedView.state).toBe('cleared');
    expect(clearedView.text.en.title).not.toBe(view.text.en.title);
    expect(service.alerts.view(cleared!)).toBe(clearedView);
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

  it('the server clock off NTP time raises the clock alarm, paged by webhook; it clears once the clock agrees again', async () => {
    // An SNTP server on loopback (RFC 4330) whose time runs `skew` ms ahead of this host; it checks each request as the RFC describes.
    let skew = 5 * 60_000;
    const refused: string[] = [];
    const ntp = createSocket('udp4');
    const NTP_EPOCH_S = 2_208_988_800;
    const stamp = (b: Buffer, at: number, ms: number) => {
      b.writeUInt32BE(Math.floor(ms / 1000) + NTP_EPOCH_S, at);
      b.writeUInt32BE(Math.floor(((ms % 1000) / 1000) * 2 ** 32), at + 4);
    };
    ntp.on('message', (request, from) => {
      const received = Date.now() + skew;
      if (request.length !== 48 || (request[0]! & 7) !== 3 || ((request[0]! >> 3) & 7) !== 4 || request.readUInt32BE(40) === 0) {
        refused.push(request.toString('hex'));
        return;
      }
      const reply = Buffer.alloc(48);
      reply[0] = (0 << 6) | (4 << 3) | 4;
      reply[1] = 2;
      request.copy(reply, 24, 40, 48);
      stamp(reply, 32, received);
      stamp(reply, 40, Date.now() + skew);
      ntp.send(reply, from.port, from.address);
    });
    const ntpPort = await new Promise<number>((r) => ntp.bind(0, '127.0.0.1', () => r(ntp.address().port)));
    cleanups.push(() => new Promise((r) => ntp.close(() => r(undefined))));

    const ws = workspace(webhookPort, `clearAfter: 2s, ntp: ["127.0.0.1:${ntpPort}"], clockCheckEvery: 1s, clockTolerance: 1m`);
    const service = await startTestService(ws);
    cleanups.push(() => service.stop());
    const hook = await waitFor(async () => hooks.find((h) => h.incident.headline === 'clock_off'), Boolean, 20_000, 'the clock alarm on the webhook');
    expect(hook!.incident).toMatchObject({ locationId: 'system:dc-shanghai', severity: 'major' });
    expect(hook!.text.en.title).toMatch(/the server clock is 5 min off the reference time \(alarm above 1 min\)/);
    expect(hook!.text.en.action).toMatch(/time synchronisation/);
    expect(hook!.text['zh-CN'].title).toMatch(/服务器时钟与参考时间相差 5分/);
    const clockAlert = () => service.alerts.book.list().find((a) => a.kind === 'clock_off');
    expect(clockAlert()).toMatchObject({ state: 'active', threshold: 60_000 });
    expect(Math.abs(clockAlert()!.peak - 5 * 60_000)).toBeLessThan(2000);

    skew = 0;
    await waitFor(
      async () => clockAlert()?.state,
      (state) => state === 'cleared',
      20_000,
      'the clock alarm cleared',
    );
    expect(refused).toEqual([]);
  }, 60_000);
});

describe("the server clock against the devices' clocks (no NTP server answering)", () => {
  const log = { debug: () => undefined } as unknown as ConstructorParameters<typeof ClockWatch>[0]['log'];
  const MIN = 60_000;

  it('takes the median of live devices (at least 3), and ignores a backlog or a back-dated upload', () => {
    const watch = new ClockWatch({ servers: () => [], everyMs: () => 600_000, log });
    const now = Date.now();
    // Three devices streaming live, the server 3 min ahead of them (network delay 0.2–0.8 s on top).
    for (const [id, delay] of [
      ['a', 0.2],
      ['b', 0.5],
      ['c', 0.8],
    ] as const)
      for (let i = 0; i < 5; i++) watch.observe(id, now - 5 * MIN + i * MIN - 3 * MIN, now - 5 * MIN + i * MIN + delay * 1000);
    expect(watch.reading(now)).toMatchObject({ source: 'devices', offsetMs: 3 * MIN + 500 });
    // Two devices are not enough.
    const two = new ClockWatch({ servers: () => [], everyMs: () => 600_000, log });
    for (const id of ['a', 'b']) for (let i = 0; i < 5; i++) two.observe(id, now - 5 * MIN + i * MIN, now - 5 * MIN + i * MIN + 300);
    expect(two.reading(now)).toBeUndefined();
    // A backlog of three devices uploaded in one go, 2 h old: nothing to judge by.
    const backlog = new ClockWatch({ servers: () => [], everyMs: () => 600_000, log });
    for (const id of ['a', 'b', 'c']) for (let i = 0; i < 60; i++) backlog.observe(id, now - 2 * 60 * MIN + i * MIN, now + i);
    expect(backlog.reading(now)).toBeUndefined();
  });
});
