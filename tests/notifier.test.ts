import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SMTPServer } from 'smtp-server';
import { pino } from 'pino';
import type { Alert } from '../alerts/book.js';
import type { Incident } from '../alerts/incident.js';
import { Notifier } from '../alerts/notifier.js';
import { describeIncident, type AlarmContext } from '../alerts/text.js';
import type { Config } from '../core/config/schema.js';
import { freePort } from '../storage/influxd.js';
import { startMailServer, startWebhookReceiver, type Mail } from './helpers/receivers.js';
import { testAlert, testIncident } from './helpers/alarms.js';

const MIN = 60_000;
const now = Date.UTC(2024, 4, 1, 6, 30);
const notifications = (smtpPort: number): Config['notifications'] => ({
  smtp: { host: '127.0.0.1', port: smtpPort, secure: false, from: 'coldchain <alerts@dc.example>' },
  tierDelays: [0],
  reminderEvery: 30 * MIN,
  webhookRetries: 0,
});

const ctx: AlarmContext = {
  siteName: 'Shanghai distribution centre',
  locationName: '冷库 1',
  locationKind: 'cold_room',
  deviceNames: { 'room-1': 'Probe by the door', 'room-2': 'Probe at the back' },
  range: { temperature: { min: 2, max: 8 } },
  trend: [{ deviceId: 'room-1', points: Array.from({ length: 61 }, (_, i) => [now - 60 * MIN + i * MIN, 6.8 + (2.3 * i) / 60] as [number, number]) }],
  timeZone: 'Asia/Shanghai',
  now,
};

const member = (id: string, deviceId: string, peak: number) =>
  testAlert({
    id,
    kind: 'temperature_high',
    severity: 'major',
    state: 'active',
    siteId: 'dc-shanghai',
    locationId: 'dc-sh-cold-room-1',
    deviceId,
    occurredAt: now - 25 * MIN,
    activatedAt: now - 15 * MIN,
    detectedAt: now - 15 * MIN,
    threshold: 8,
    peak,
    incidentId: 'in_7f3a',
    tier: 1,
  });
const members = [member('al_a', 'room-1', 9.4), member('al_b', 'room-2', 9.9)];
const incident = testIncident({
  id: 'in_7f3a',
  siteId: 'dc-shanghai',
  locationId: 'dc-sh-cold-room-1',
  state: 'active',
  severity: 'major',
  headline: 'temperature_high',
  kinds: ['temperature_high'],
  deviceIds: ['room-1', 'room-2'],
  alertIds: ['al_a', 'al_b'],
  occurredAt: now - 25 * MIN,
  detectedAt: now - 15 * MIN,
  notify: 'page',
  tier: 1,
});
const text = { en: describeIncident(incident, members, ctx, 'en'), 'zh-CN': describeIncident(incident, members, ctx, 'zh-CN') };

describe('notifier: incidents by e-mail and webhook, the daily digest, verified SMTP TLS', () => {
  const mails: Mail[] = [];
  const hooks: Array<{ path: string; body: any }> = [];
  let smtp: SMTPServer;
  let smtpPort: number;
  let webhook: Server;
  let hookUrl: string;
  let notifier: Notifier;
  const log = pino({ level: 'silent' });

  beforeAll(async () => {
    ({ server: smtp, port: smtpPort } = await startMailServer(mails));
    const receiver = await startWebhookReceiver((body, path) => hooks.push({ path, body }));
    webhook = receiver.server;
    const port = receiver.port;
    hookUrl = `http://127.0.0.1:${port}`;
    notifier = new Notifier(notifications(smtpPort), log, 'https://cold.example.com/');
  });
  afterAll(() => {
    notifier?.close();
    smtp?.close();
    webhook?.close();
  });

  it('an incident reaches e-mail (English title as subject, both languages in the body) and the webhook (incident and text)', async () => {
    const attempts = await notifier.notify(
      incident,
      text,
      [
        { name: 'Olga', tier: 1, email: 'olga@dc.example' },
        { name: 'Duty phone', tier: 1, webhook: `${hookUrl}/sms` },
      ],
      'tier 1',
    );
    expect(attempts.map((a) => [a.channel, a.ok])).toEqual([
      ['email', true],
      ['webhook', true],
    ]);
    expect(attempts[0]!.recipient).toBe('Olga <olga@dc.example>');

    const mail = mails.find((m) => m.to.includes('olga@dc.example'))!;
    expect(mail.subject).toBe('冷库 1 (Shanghai distribution centre): temperature above 8 °C for 25 min, up to 9.9 °C (2 sensors)');
    expect(mail.subject).toBe(text.en.title);
    expect(mail.text.indexOf(text.en.title)).toBe(0);
    expect(mail.text).toContain(text['zh-CN'].title);
    expect(mail.text.indexOf(text.en.title)).toBeLessThan(mail.text.indexOf(text['zh-CN'].title));
    for (const lang of ['en', 'zh-CN'] as const) for (const value of Object.values(text[lang])) expect(mail.text).toContain(value);
    expect(mail.text).toContain('What to do: ');
    expect(mail.text).toContain('处理措施：');
    expect(mail.text).toContain('Sent as: escalation tier 1');
    expect(mail.text).toContain('通知原因：第 1 级通知');
    expect(mail.text).toContain('https://cold.example.com/#/alerts/in_7f3a');
    expect(mail.text).not.toMatch(/temperature_high|\bmajor\b/);

    const hook = hooks.find((h) => h.path === '/sms')!;
    expect(Object.keys(hook.body).sort()).toEqual(['incident', 'reason', 'recipient', 'text']);
    expect(hook.body.reason).toBe('tier 1');
    expect(hook.body.recipient).toBe('Duty phone');
    expect(hook.body.incident).toEqual(incident);
    expect(hook.body.text).toEqual(text);
  });

  it('reminders say so in the subject', async () => {
    await notifier.notify(incident, text, [{ name: 'QA lead', tier: 2, email: 'qa@dc.example' }], 'reminder');
    const mail = mails.find((m) => m.to.includes('qa@dc.example'))!;
    expect(mail.subject).toBe(`Reminder: ${text.en.title}`);
    expect(mail.text).toContain('提醒：尚未确认');
  });

  it('the daily digest: one e-mail per recipient listing the incidents, one webhook post', async () => {
    const info: Incident = {
      ...incident,
      id: 'in_batt',
      severity: 'info',
      headline: 'battery_low',
      kinds: ['battery_low'],
      deviceIds: ['room-2'],
      notify: 'digest',
    };
    const battery: Alert = { ...member('al_c', 'room-2', 12), kind: 'battery_low', severity: 'info', threshold: 20 };
    const entries = [
      { incident, text },
      { incident: info, text: { en: describeIncident(info, [battery], ctx, 'en'), 'zh-CN': describeIncident(info, [battery], ctx, 'zh-CN') } },
    ];
    const attempts = await notifier.digest('Shanghai distribution centre', entries, [
      { name: 'Olga', tier: 1, email: 'olga-digest@dc.example' },
      { name: 'Quinn', tier: 1, email: 'quinn@dc.example' },
      { name: 'Digest hook', tier: 1, webhook: `${hookUrl}/digest` },
    ]);
    expect(attempts.filter((a) => a.ok)).toHaveLength(3);
    for (const address of ['olga-digest@dc.example', 'quinn@dc.example']) {
      const mail = mails.find((m) => m.to.includes(address))!;
      expect(mail.to).toEqual([address]);
      expect(mail.subject).toBe('Daily alarm digest, Shanghai distribution centre: 2 items');
      expect(mail.text).toContain(`1. ${text.en.title}`);
      expect(mail.text).toContain('2. 冷库 1 (Shanghai distribution centre): battery of sensor Probe at the back at 12 % (below 20 %)');
      expect(mail.text).toContain('2. 冷库 1（Shanghai distribution centre）：传感器 Probe at the back电量 12 %（低于 20 %）');
      expect(mail.text).toContain('https://cold.example.com/#/alerts/in_batt');
      expect(mail.text).toContain('每日报警汇总：共 2 项');
    }
    const hook = hooks.find((h) => h.path === '/digest')!;
    expect(hook.body.reason).toBe('digest');
    expect(hook.body.site).toBe('Shanghai distribution centre');
    expect(hook.body.entries).toEqual(entries);
    expect(await notifier.digest('Shanghai distribution centre', [], [{ name: 'Olga', tier: 1, email: 'olga@dc.example' }])).toEqual([]);
  });

  it('failures are reported per channel, not thrown', async () => {
    const deadPort = await freePort();
    const attempts = await notifier.notify(incident, text, [{ name: 'Broken gateway', tier: 1, webhook: `http://127.0.0.1:${deadPort}/sms` }], 'tier 1');
    expect(attempts).toEqual([
      { channel: 'webhook', recipient: `Broken gateway <http://127.0.0.1:${deadPort}/…>`, ok: false, outcome: 'failed after 1 attempts: ECONNREFUSED' },
    ]);
    const noSmtp = new Notifier({ ...notifications(smtpPort), smtp: undefined }, log);
    expect((await noSmtp.notify(incident, text, [{ name: 'Olga', tier: 1, email: 'olga@dc.example' }], 'tier 1'))[0]!.outcome).toBe(
      'failed: no notifications.smtp configured',
    );
  });

  it('SMTP certificates are verified: a server with an untrusted certificate gets nothing', async () => {
    const tlsMails: Mail[] = [];
    // smtp-server offers STARTTLS with its built-in test certificate, which no CA vouches for.
    const { server: untrusted, port } = await startMailServer(tlsMails, { starttls: true });
    const strict = new Notifier(notifications(port), log);
    try {
      const [attempt] = await strict.notify(incident, text, [{ name: 'Olga', tier: 1, email: 'olga@dc.example' }], 'tier 1');
      expect(attempt!.ok).toBe(false);
      expect(attempt!.outcome).toMatch(/certificate/i);
      expect(tlsMails).toHaveLength(0);
    } finally {
      strict.close();
      untrusted.close();
    }
  });

  it('the per-alert message is still sent for callers not yet on incidents', async () => {
    const attempts = await notifier.notify(members[0]!, [{ name: 'Legacy', tier: 1, webhook: `${hookUrl}/legacy` }], 'tier 1');
    expect(attempts[0]!.ok).toBe(true);
    const hook = hooks.find((h) => h.path === '/legacy')!;
    expect(hook.body.alert.id).toBe('al_a');
  });
});
