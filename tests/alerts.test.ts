import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import type { RunningService } from '../app/service.js';
import { hashPassword } from '../core/secrets.js';
import { freePort } from '../storage/influxd.js';
import { auditFile } from '../audit/audit-log.js';
import { startReceivers, type Mail } from './helpers/receivers.js';
import { connectDevice, makeWorkspace, run, startTestService, tokenFileOf, unlimitedRate, waitFor, type Workspace } from './helpers/workspace.js';
import { excursionReadings } from './helpers/alarms.js';

const MIN = 60_000;
describe('alerts end to end: MQTT, webhook, SMTP escalation, e-signatures, audit, restart', () => {
  let ws: Workspace;
  let service: RunningService;
  let receivers: Awaited<ReturnType<typeof startReceivers>> | undefined;
  const mails: Mail[] = [];
  const hooks: Array<{
    reason: string;
    incident: { id: string; headline: string; alertIds: string[] };
    text: Record<'en' | 'zh-CN', { title: string; action: string }>;
  }> = [];
  let follower: MqttClient;
  const alertMessages: Array<{ event: string; id: string; kind: string; state: string; occurredAt: number; late: boolean; deviceId: string }> = [];
  const base = () => `http://127.0.0.1:${service.httpPort}`;
  const auth = (role: 'admin' | 'viewer') => ({ Authorization: `Bearer ${ws.apiTokens[role]}`, 'Content-Type': 'application/json' });
  const sign = (id: string, action: 'ack' | 'close', body: Record<string, string>, role: 'admin' | 'viewer' = 'admin') =>
    fetch(`${base()}/api/v1/alerts/${id}/${action}`, { method: 'POST', headers: auth(role), body: JSON.stringify(body) });
  const alertsOf = async (deviceId: string) =>
    ((await (await fetch(`${base()}/api/v1/alerts`, { headers: auth('viewer') })).json()).alerts as Array<Record<string, any>>).filter(
      (a) => a.deviceId === deviceId,
    );

  beforeAll(async () => {
    receivers = await startReceivers(mails, hooks);
    const { smtpPort, webhookPort } = receivers;
    const deadPort = await freePort();
    const [olga, quinn, vic] = await Promise.all(['olga-password-1', 'quinn-password-1', 'vic-password-12'].map(hashPassword));
    ws = makeWorkspace({
      devices: ['room-1', 'room-2', 'room-3'],
      yamlPatch: (yaml) =>
        unlimitedRate(yaml)
          .replace(
            '  - id: dc-shanghai\n    name: Shanghai distribution centre\n',
            `  - id: dc-shanghai\n    name: Shanghai distribution centre\n    recipients:\n      - { name: Duty phone, tier: 1, webhook: "http://127.0.0.1:${webhookPort}/sms" }\n      - { name: Olga, tier: 1, email: olga@dc.example }\n      - { name: Broken gateway, tier: 1, webhook: "http://127.0.0.1:${deadPort}/sms" }\n      - { name: QA lead, tier: 2, email: qa-lead@dc.example }\n`,
          )
          .replace(
            /^notifications:\n(?: {2}.*\n)+/m,
            `notifications:\n  smtp: { host: 127.0.0.1, port: ${smtpPort}, from: "coldchain <alerts@dc.example>" }\n  tierDelays: [0s, 3s]\n  reminderEvery: 1h\n  webhookRetries: 1\n`,
          )
          .replace(
            'users: []',
            `users:\n  - { name: olga, fullName: Olga Operator, role: operator, passwordHash: "${olga}" }\n  - { name: quinn, fullName: Quinn QA, role: qa, passwordHash: "${quinn}" }\n  - { name: vic, fullName: Vic Viewer, role: viewer, passwordHash: "${vic}" }`,
          ),
    });
    // room-3 reports every second, so its 3-interval silence timeout is 3 s.
    writeFileSync(ws.configFile, readFileSync(ws.configFile, 'utf8').replace(/(id: room-3\n\s+location: dc-sh-cold-room-1\n\s+interval: )60s/, '$11s'));
    service = await startTestService(ws);
    follower = await mqtt.connectAsync(`mqtt://127.0.0.1:${service.mqttPort}`, { username: 'olga', password: 'olga-password-1', reconnectPeriod: 0 });
    follower.on('message', (_t, payload) => alertMessages.push(JSON.parse(payload.toString())));
    await follower.subscribeAsync('cc/v1/alerts/#', { qos: 1 });
  });
  afterAll(async () => {
    await follower?.endAsync();
    await service?.stop();
    receivers?.close();
  });

  let alertId = '';
  const excursion = async (deviceId: string) => {
    const device = await connectDevice(service.mqttPort!, deviceId, ws.deviceTokens[deviceId]!);
    const start = Date.now() - 26 * MIN;
    const readings = excursionReadings(start);
    await device.publishAsync(`cc/v1/${deviceId}/telemetry`, JSON.stringify(readings), { qos: 1 });
    await device.endAsync();
    return start + 5 * MIN;
  };

  it('a 20-minute excursion is published on cc/v1/alerts/<site>/<location> with its device-time facts', async () => {
    const firstHot = await excursion('room-1');
    const message = await waitFor(
      async () => alertMessages.find((m) => m.deviceId === 'room-1' && m.kind === 'temperature_high' && m.event === 'activated'),
      Boolean,
      10_000,
      'the MQTT alert',
    );
    expect(alertMessages.find((m) => m.id === message!.id && m.event === 'pending')).toMatchObject({ state: 'pending', occurredAt: firstHot });
    expect(message).toMatchObject({
      event: 'activated',
      state: 'active',
      occurredAt: firstHot,
      late: true,
      siteId: 'dc-shanghai',
      locationId: 'dc-sh-cold-room-1',
      threshold: 8,
      peak: 9.5,
    });
    alertId = message!.id;
    const [listed] = (await alertsOf('room-1')).filter((a) => a.kind === 'temperature_high');
    expect(listed).toMatchObject({ id: alertId, state: 'active', occurredAt: firstHot });
  });

  it('tier 1 gets the webhook and the e-mail per incident, in words and names; a failing webhook is retried and recorded; tier 2 after its delay', async () => {
    const incidentId = (await alertsOf('room-1')).find((a) => a.id === alertId)!.incidentId as string;
    expect(incidentId).toMatch(/^in_/);
    const hook = await waitFor(async () => hooks.find((h) => h.incident.id === incidentId), Boolean, 10_000, 'the webhook');
    // The warning (临界值) and the excursion of the one sensor: one incident.
    expect(hook!.incident).toMatchObject({
      headline: 'temperature_high',
      kinds: expect.arrayContaining(['temperature_high', 'temperature_warning_high']),
      alertIds: expect.arrayContaining([alertId]),
      notify: 'page',
    });
    expect(hook!.text.en.title).toMatch(/^Cold room 1 \(Shanghai distribution centre\): .*above 8 °C/);
    expect(hook!.text['zh-CN'].title).toContain('8 °C');
    const mail = await waitFor(
      async () => mails.find((m) => m.to.includes('olga@dc.example') && m.body.includes(incidentId)),
      Boolean,
      10_000,
      'the tier-1 e-mail',
    );
    expect(mail!.body).not.toMatch(/temperature_high|dc-sh-cold-room-1/);
    await waitFor(async () => mails.find((m) => m.to.includes('qa-lead@dc.example') && m.body.includes(incidentId)), Boolean, 15_000, 'the tier-2 e-mail');
    const details = await waitFor(
      async () =>
        (await (await fetch(`${base()}/api/v1/incidents/${incidentId}`, { headers: auth('viewer') })).json()) as {
          events: Array<{ event: string; recipient?: string; outcome?: string }>;
        },
      // Tier 2's `notified` is recorded once its sends return, after `escalated` and after its e-mail arrived: waited for too.
      (d) =>
        d.events.some((e) => e.event === 'notification_failed') &&
        d.events.some((e) => e.event === 'escalated') &&
        d.events.some((e) => e.event === 'notified' && e.recipient?.includes('qa-lead@dc.example')),
      15_000,
      'the notification records',
    );
    expect(details.events.find((e) => e.event === 'notification_failed')).toMatchObject({
      recipient: expect.stringContaining('Broken gateway'),
      outcome: expect.stringMatching(/^failed after 2 attempts: ECONNREFUSED/),
    });
    expect(details.events.filter((e) => e.event === 'notified').map((e) => e.recipient)).toEqual(
      expect.arrayContaining([
        expect.stringContaining('Duty phone'),
        expect.stringContaining('olga@dc.example'),
        expect.stringContaining('qa-lead@dc.example'),
      ]),
    );
  });

  it('acknowledging is an e-signature: a wrong password and a viewer are refused, an operator signs', async () => {
    const wrong = await sign(alertId, 'ack', { user: 'olga', password: 'not-her-password', meaning: 'acknowledged', comment: 'checking' });
    expect(wrong.status).toBe(401);
    expect((await wrong.json()).message).toBe('signature refused: wrong user name or password');
    const viewerUser = await sign(alertId, 'ack', { user: 'vic', password: 'vic-password-12', meaning: 'acknowledged', comment: 'x' });
    expect(viewerUser.status).toBe(403);
    const viewerToken = await sign(alertId, 'ack', { user: 'olga', password: 'olga-password-1', meaning: 'acknowledged', comment: 'x' }, 'viewer');
    expect(viewerToken.status).toBe(403);
    const noMeaning = await sign(alertId, 'ack', { user: 'olga', password: 'olga-password-1', meaning: '', comment: 'x' });
    expect((await noMeaning.json()).message).toContain('body.meaning: state the meaning of the signature');
    const ok = await sign(alertId, 'ack', { user: 'olga', password: 'olga-password-1', meaning: 'acknowledged', comment: 'door found ajar, closed it' });
    expect(ok.status).toBe(200);
    expect((await ok.json()).alert).toMatchObject({
      state: 'acknowledged',
      acknowledged: { by: 'olga', printedName: 'Olga Operator', meaning: 'acknowledged', comment: 'door found ajar, closed it' },
    });
    const again = await sign(alertId, 'ack', { user: 'olga', password: 'olga-password-1', meaning: 'acknowledged', comment: 'again' });
    expect(again.status).toBe(409);
  });

  it('clears when readings return, then QA closes it (an operator may not)', async () => {
    const device = await connectDevice(service.mqttPort!, 'room-1', ws.deviceTokens['room-1']!);
    await device.publishAsync('cc/v1/room-1/telemetry', JSON.stringify([{ ts: Date.now() - 30_000, temperature: 5.1 }]), { qos: 1 });
    await device.endAsync();
    await waitFor(
      async () => (await alertsOf('room-1')).find((a) => a.id === alertId)?.state,
      (s) => s === 'cleared',
      10_000,
      'cleared',
    );
    const operator = await sign(alertId, 'close', { user: 'olga', password: 'olga-password-1', meaning: 'closed', comment: 'x' });
    expect(operator.status).toBe(403);
    const qa = await sign(alertId, 'close', {
      user: 'quinn',
      password: 'quinn-password-1',
      meaning: 'product released after stability review',
      comment: 'MKT within limits',
    });
    expect(qa.status).toBe(200);
    // Events reach InfluxDB through the spool, a moment after the API answered.
    const events = await waitFor(
      async () =>
        ((await (await fetch(`${base()}/api/v1/alerts/${alertId}`, { headers: auth('viewer') })).json()).events as Array<{ event: string }>).map(
          (e) => e.event,
        ),
      (list) => list.includes('closed'),
      10_000,
      'the closed event',
    );
    expect(events.filter((e) => !['notified', 'notification_failed', 'escalated'].includes(e))).toEqual([
      'pending',
      'activated',
      'acknowledged',
      'cleared',
      'closed',
    ]);
  });

  it('a device that falls silent raises a communication alarm live, cleared when it reports again', async () => {
    const device = await connectDevice(service.mqttPort!, 'room-3', ws.deviceTokens['room-3']!);
    await device.publishAsync('cc/v1/room-3/telemetry', JSON.stringify({ ts: Date.now() - 100, temperature: 5 }), { qos: 1 });
    const silent = await waitFor(
      async () => alertMessages.find((m) => m.deviceId === 'room-3' && m.kind === 'device_silent'),
      Boolean,
      10_000,
      'the silence alarm',
    );
    expect(silent).toMatchObject({ state: 'active' });
    await device.publishAsync('cc/v1/room-3/telemetry', JSON.stringify({ ts: Date.now() - 100, temperature: 5 }), { qos: 1 });
    await device.endAsync();
    await waitFor(async () => alertMessages.find((m) => m.id === silent!.id && m.state === 'cleared'), Boolean, 10_000, 'the silence alarm cleared');
  });

  it('the audit trail verifies; altering an entry is detected', async () => {
    const main = path.resolve('dist/cli/main.js');
    const ok = await run(process.execPath, [main, 'audit', 'verify', '--config', ws.configFile, '--data-dir', service.dataDir]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/audit trail verified: [4-9] entries/);
    const file = auditFile(service.dataDir);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('"action":"signature.refused"');
    expect(text).toContain('"printedName":"Quinn QA","action":"alert.close"');
    const copy = path.join(ws.dir, 'tampered');
    const tampered = text.replace('door found ajar, closed it', 'nothing happened');
    writeFileSync(path.join(ws.dir, 'tampered-audit.ndjson'), tampered);
    const { verifyAuditLog } = await import('../audit/audit-log.js');
    const result = verifyAuditLog(path.join(ws.dir, 'tampered-audit.ndjson'));
    expect(result.ok).toBe(false);
    expect(result.problem).toMatch(/:\d+: content does not match its hash \(the entry was altered\)/);
    const removed = text
      .split('\n')
      .filter((_, i) => i !== 1)
      .join('\n');
    writeFileSync(copy, removed);
    expect(verifyAuditLog(copy).problem).toMatch(/:2: sequence 3 where 2 was expected/);
  });

  it('after a restart, open and acknowledged alerts keep their states and ids, with no duplicate', async () => {
    await excursion('room-2');
    const active = await waitFor(async () => (await alertsOf('room-2')).find((a) => a.kind === 'temperature_high'), Boolean, 10_000, 'room-2 alert');
    expect((await sign(active!.id, 'ack', { user: 'olga', password: 'olga-password-1', meaning: 'acknowledged', comment: 'on it' })).status).toBe(200);
    await service.writer.flush(10_000);
    await service.stop();
    service = await startTestService(ws);
    const after = await alertsOf('room-2');
    expect(after.filter((a) => a.kind === 'temperature_high')).toEqual([
      expect.objectContaining({ id: active!.id, state: 'acknowledged', acknowledged: expect.objectContaining({ printedName: 'Olga Operator' }) }),
    ]);
    expect((await alertsOf('room-1')).find((a) => a.id === alertId)).toMatchObject({ state: 'closed' });
    // The excursion goes on after the restart: still the same alert, not a new one.
    const device = await connectDevice(service.mqttPort!, 'room-2', ws.deviceTokens['room-2']!);
    await device.publishAsync('cc/v1/room-2/telemetry', JSON.stringify({ ts: Date.now() - 1000, temperature: 9.6 }), { qos: 1 });
    await device.endAsync();
    // Once the rules engine has judged the new reading, there is still the one alert.
    await waitFor(
      async () => service.alerts.engine.recent('room-2', Date.now() - 5000).length,
      (n) => n > 0,
      10_000,
      'the reading judged',
    );
    expect((await alertsOf('room-2')).filter((a) => a.kind === 'temperature_high').map((a) => a.id)).toEqual([active!.id]);
  });

  it('coldchain alerts list and ack work through the running service', async () => {
    const main = path.resolve('dist/cli/main.js');
    const tokenFile = tokenFileOf(ws, 'admin');
    const common = ['--config', ws.configFile, '--url', base(), '--token-file', tokenFile];
    const listed = await run(process.execPath, [main, 'alerts', 'list', '--state', 'cleared', ...common]);
    expect(listed.code, listed.stderr).toBe(0);
    // The cleared one: room-3 was disconnected after reporting again, so a later silence may have raised another (active) alarm by now.
    const silent = (await alertsOf('room-3')).find((a) => a.kind === 'device_silent' && a.state === 'cleared')!;
    expect(listed.stdout).toContain(`${silent.id}  Cleared  Major  Sensor not reporting  Shanghai distribution centre · Cold room 1  room-3`);
    expect(listed.stdout).not.toMatch(/device_silent|temperature_high|dc-sh-cold-room-1/);
    const wrong = await run(process.execPath, [main, 'alerts', 'ack', silent.id, '--user', 'olga', '--comment', 'gateway rebooted', ...common], 'nope\n');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('error: 401: signature refused: wrong user name or password');
    const acked = await run(
      process.execPath,
      [main, 'alerts', 'ack', silent.id, '--user', 'olga', '--comment', 'gateway rebooted', ...common],
      'olga-password-1\n',
    );
    expect(acked.code, acked.stderr).toBe(0);
    expect(acked.stdout).toMatch(new RegExp(`alert ${silent.id} is now cleared; signed by Olga Operator at .* — "acknowledged"`));
  });
});
