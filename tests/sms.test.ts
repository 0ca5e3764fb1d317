import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Notifier } from '../alerts/notifier.js';
import { parseConfigText } from '../core/config/load.js';
import { SAMPLE_CONFIG } from '../cli/sample-config.js';
import type { Config } from '../core/config/schema.js';
import { connectDevice, makeWorkspace, run, startTestService, tokenFileOf, waitFor } from './helpers/workspace.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { auditFile } from '../audit/audit-log.js';
import type { RunningService } from '../app/service.js';
import { excursionReadings, testIncident } from './helpers/alarms.js';

const log = pino({ level: 'silent' });
const MIN = 60_000;

/** RFC 3986 percent-encoding byte by byte, as Alibaba Cloud's signature documentation states it (written apart from the code under test). */
const documented = (value: string) =>
  [...Buffer.from(value, 'utf8')]
    .map((b) => (/[A-Za-z0-9\-_.~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`))
    .join('');

interface AliyunRequest {
  params: Record<string, string>;
}

/**
 * Alibaba Cloud SMS as its documentation describes SendSms: every common and operation parameter
 * present and well formed, a fresh nonce, a timestamp within 15 minutes, and the HMAC-SHA1
 * signature recomputed from the parameters and the secret.
 */
function aliyunServer(secret: string, received: AliyunRequest[]) {
  const nonces = new Set<string>();
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d));
    req.on('end', () => {
      const answer = (status: number, json: object) => res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(json));
      const params = Object.fromEntries(new URLSearchParams(req.method === 'POST' ? body : ((req.url ?? '').split('?')[1] ?? '')));
      const required = [
        'AccessKeyId',
        'Action',
        'Format',
        'PhoneNumbers',
        'RegionId',
        'SignName',
        'Signature',
        'SignatureMethod',
        'SignatureNonce',
        'SignatureVersion',
        'TemplateCode',
        'TemplateParam',
        'Timestamp',
        'Version',
      ];
      const missing = required.filter((k) => !params[k]);
      if (missing.length) return answer(400, { Code: 'MissingParameter', Message: `missing ${missing.join(', ')}` });
      if (params.Action !== 'SendSms' || params.Version !== '2017-05-25' || params.SignatureMethod !== 'HMAC-SHA1' || params.SignatureVersion !== '1.0')
        return answer(400, { Code: 'InvalidParameter', Message: 'action, version or signature method' });
      if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(params.Timestamp!) || Math.abs(Date.parse(params.Timestamp!) - Date.now()) > 15 * MIN)
        return answer(400, { Code: 'InvalidTimeStamp.Format', Message: params.Timestamp });
      if (nonces.has(params.SignatureNonce!)) return answer(400, { Code: 'SignatureNonceUsed', Message: 'nonce reused' });
      nonces.add(params.SignatureNonce!);
      try {
        JSON.parse(params.TemplateParam!);
      } catch {
        return answer(400, { Code: 'isv.INVALID_JSON_PARAM', Message: 'TemplateParam' });
      }
      const { Signature, ...rest } = params;
      const canonical = Object.keys(rest)
        .sort()
        .map((k) => `${documented(k)}=${documented(rest[k]!)}`)
        .join('&');
      const expected = createHmac('sha1', `${secret}&`)
        .update(`${req.method}&${documented('/')}&${documented(canonical)}`)
        .digest('base64');
      if (expected !== Signature) return answer(400, { Code: 'SignatureDoesNotMatch', Message: 'Specified signature is not matched with our calculation.' });
      received.push({ params });
      answer(200, { Code: 'OK', Message: 'OK', BizId: `${Date.now()}^0`, RequestId: randomUUID() });
    });
  });
}

/** Twilio's Messages resource: Basic auth with the account SID and token, a form with To, From and Body. */
function twilioServer(sid: string, token: string, received: Array<Record<string, string>>) {
  return createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d));
    req.on('end', () => {
      const answer = (status: number, json: object) => res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(json));
      if (req.method !== 'POST' || req.url !== `/2010-04-01/Accounts/${sid}/Messages.json`)
        return answer(404, { code: 20404, message: 'The requested resource was not found', status: 404 });
      if (req.headers.authorization !== `Basic ${Buffer.from(`${sid}:${token}`).toString('base64')}`)
        return answer(401, { code: 20003, message: 'Authenticate', status: 401 });
      if (!String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded'))
        return answer(400, { code: 20001, message: 'form encoding expected', status: 400 });
      const form = Object.fromEntries(new URLSearchParams(body));
      if (!/^\+[1-9]\d{6,14}$/.test(form.To ?? ''))
        return answer(400, { code: 21211, message: `The 'To' number ${form.To} is not a valid phone number.`, status: 400 });
      if (!form.From || !form.Body || form.Body.length > 1600) return answer(400, { code: 21602, message: 'Message body is required.', status: 400 });
      received.push(form);
      answer(201, { sid: `SM${randomUUID().replace(/-/g, '')}`, status: 'queued', to: form.To, from: form.From, body: form.Body });
    });
  });
}

const listen = (server: Server) => new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as { port: number }).port)));

const incident = testIncident({
  id: 'in_sms1',
  siteId: 'dc-shanghai',
  locationId: 'dc-sh-cold-room-1',
  state: 'active',
  severity: 'major',
  headline: 'temperature_high',
  kinds: ['temperature_high'],
  deviceIds: ['room-1'],
  alertIds: ['al_1'],
  occurredAt: Date.now() - 20 * MIN,
  detectedAt: Date.now(),
  notify: 'page',
  tier: 0,
});
const text = {
  en: {
    title: 'Cold room 1 (Shanghai distribution centre): temperature above 8 °C for 12 min, up to 9.4 °C',
    what: '',
    where: '',
    since: '',
    howFar: '',
    action: '',
    trend: '',
  },
  'zh-CN': { title: '冷库 1（上海配送中心）：温度高于 8 °C 已 12 分钟，最高 9.4 °C', what: '', where: '', since: '', howFar: '', action: '', trend: '' },
};
const people = [
  { name: 'Duty phone', tier: 1, phone: '+8613800138001' },
  { name: 'Warehouse lead', tier: 1, phone: '+8613800138002' },
  { name: 'QA manager', tier: 1, phone: '+8613800138003' },
];
const notifications = (sms: NonNullable<Config['notifications']['sms']>): Config['notifications'] => ({
  tierDelays: [0],
  reminderEvery: 30 * MIN,
  webhookRetries: 0,
  sms,
});

describe('SMS through the providers’ own APIs (issue 14, item 1)', () => {
  const aliyunRequests: AliyunRequest[] = [];
  const twilioRequests: Array<Record<string, string>> = [];
  let aliyun: Server;
  let twilio: Server;
  let aliyunUrl = '';
  let twilioUrl = '';
  const sid = `AC${'0123456789abcdef'.repeat(2)}`;
  beforeAll(async () => {
    aliyun = aliyunServer('aliyun-secret-1', aliyunRequests);
    twilio = twilioServer(sid, 'twilio-token-1', twilioRequests);
    aliyunUrl = `http://127.0.0.1:${await listen(aliyun)}/`;
    twilioUrl = `http://127.0.0.1:${await listen(twilio)}`;
  });
  afterAll(() => {
    aliyun.close();
    twilio.close();
  });

  /** A notifier sending SMS through the test's Alibaba Cloud endpoint, its AccessKey secret in the variable `secretEnv`. */
  const aliyunNotifier = (secretEnv: string, names = { signName: '冷链监控', templateCode: 'SMS_123456' }) =>
    new Notifier(notifications({ provider: 'aliyun', endpoint: aliyunUrl, accessKeyId: 'LTAI-test', regionId: 'cn-hangzhou', ...names, secretEnv }), log);

  it('Alibaba Cloud SendSms: each of three people gets one signed request with the Chinese title; a wrong secret is refused in the provider’s words', async () => {
    process.env.CC_TEST_ALIYUN_OK = 'aliyun-secret-1';
    const notifier = aliyunNotifier('CC_TEST_ALIYUN_OK');
    const attempts = await notifier.notify(incident, text, people, 'tier 1');
    expect(attempts.map((a) => [a.channel, a.ok])).toEqual([
      ['sms', true],
      ['sms', true],
      ['sms', true],
    ]);
    expect(attempts[0]!.outcome).toMatch(/^delivered: accepted by Alibaba Cloud SMS: BizId /);
    expect(aliyunRequests.map((r) => r.params.PhoneNumbers).sort()).toEqual(['13800138001', '13800138002', '13800138003']);
    expect(JSON.parse(aliyunRequests[0]!.params.TemplateParam!)).toEqual({ title: text['zh-CN'].title });
    expect(aliyunRequests[0]!.params).toMatchObject({ SignName: '冷链监控', TemplateCode: 'SMS_123456', AccessKeyId: 'LTAI-test' });
    process.env.CC_TEST_ALIYUN_BAD = 'not-the-secret';
    const wrong = aliyunNotifier('CC_TEST_ALIYUN_BAD');
    const [refused] = await wrong.notify(incident, text, people.slice(0, 1), 'tier 1');
    expect(refused).toMatchObject({
      ok: false,
      outcome: 'failed: refused by Alibaba Cloud SMS: SignatureDoesNotMatch (Specified signature is not matched with our calculation.)',
    });
    const unset = aliyunNotifier('CC_TEST_NO_SUCH_VARIABLE', { signName: 's', templateCode: 't' });
    expect((await unset.notify(incident, text, people.slice(0, 1), 'tier 1'))[0]!.outcome).toBe(
      'failed: not sent: environment variable CC_TEST_NO_SUCH_VARIABLE (notifications.sms.secretEnv) holds no secret',
    );
  });

  it('Twilio Messages API: Basic auth, To/From/Body in both languages; a wrong token is refused with Twilio’s code', async () => {
    process.env.CC_TEST_TWILIO_OK = 'twilio-token-1';
    const notifier = new Notifier(
      notifications({ provider: 'twilio', endpoint: twilioUrl, accountSid: sid, from: '+15005550006', lang: 'both', secretEnv: 'CC_TEST_TWILIO_OK' }),
      log,
    );
    const [sent] = await notifier.notify(incident, text, people.slice(0, 1), 'reminder');
    expect(sent).toMatchObject({ channel: 'sms', ok: true, recipient: 'Duty phone <…8001>' });
    expect(twilioRequests[0]).toEqual({ To: '+8613800138001', From: '+15005550006', Body: `Reminder: ${text.en.title}\n提醒：${text['zh-CN'].title}` });
    process.env.CC_TEST_TWILIO_BAD = 'nope';
    const wrong = new Notifier(
      notifications({ provider: 'twilio', endpoint: twilioUrl, accountSid: sid, from: '+15005550006', lang: 'en', secretEnv: 'CC_TEST_TWILIO_BAD' }),
      log,
    );
    expect((await wrong.notify(incident, text, people.slice(0, 1), 'tier 1'))[0]!.outcome).toBe(
      'failed: refused by Twilio: HTTP 401 error 20003 (Authenticate)',
    );
  });

  it('compliance gsp: a site whose first tier reaches fewer than 3 people by SMS, or no SMS provider, is a configuration error naming the key', () => {
    const twoPhones = SAMPLE_CONFIG.replace('alarms:\n', 'compliance: gsp\nalarms:\n').replace(
      '    kind: warehouse\n',
      `    kind: warehouse\n    recipients:\n      - { name: A, tier: 1, phone: "+8613800138001" }\n      - { name: B, tier: 1, phone: "+8613800138002" }\n      - { name: C, tier: 2, phone: "+8613800138003" }\n`,
    );
    expect(() => parseConfigText(twoPhones, 'gsp.yaml')).toThrow(/notifications\.sms: compliance gsp: alarms go by SMS/);
    expect(() => parseConfigText(twoPhones, 'gsp.yaml')).toThrow(
      /sites\[0\]\.recipients: compliance gsp: the first tier must reach at least 3 people by SMS; site "dc-shanghai" reaches 2/,
    );
    expect(() =>
      parseConfigText(SAMPLE_CONFIG.replace('    kind: warehouse\n', '    kind: warehouse\n    recipients: [{ name: A, phone: "13800138001" }]\n'), 'x.yaml'),
    ).toThrow(/phone: write a phone number in E\.164 form/);
  });

  describe('through the real service', () => {
    let service: RunningService;
    let ws: ReturnType<typeof makeWorkspace>;
    const received: AliyunRequest[] = [];
    let provider: Server;
    beforeAll(async () => {
      provider = aliyunServer('service-secret', received);
      const url = `http://127.0.0.1:${await listen(provider)}/`;
      process.env.CC_TEST_SERVICE_SMS = 'service-secret';
      const recipients = (site: string) =>
        `    recipients:\n${people.map((p, i) => `      - { name: ${site} ${p.name}, tier: 1, phone: "+86138001380${i}${site.length}" }`).join('\n')}\n`;
      ws = makeWorkspace({
        devices: ['sms-1'],
        yamlPatch: (yaml) =>
          yaml
            .replace('alarms:\n', 'compliance: gsp\nalarms:\n')
            .replace(
              /^notifications:\n/m,
              `notifications:\n  sms: { provider: aliyun, endpoint: "${url}", accessKeyId: LTAI-svc, signName: 冷链监控, templateCode: SMS_1, secretEnv: CC_TEST_SERVICE_SMS }\n`,
            )
            .replace(
              /( {2}- id: (dc-shanghai|truck-hu-a12345|hospital-pudong)\n(?: {4}(?!locations).*\n)*)/g,
              (block, _all, site: string) => block + recipients(site),
            ),
      });
      service = await startTestService(ws);
    });
    afterAll(async () => {
      await service?.stop();
      provider?.close();
    });

    it('an excursion pages the three people of the site by SMS, each attempt recorded on the incident', async () => {
      const device = await connectDevice(service.mqttPort!, 'sms-1', ws.deviceTokens['sms-1']!);
      const start = Date.now() - 30 * MIN;
      await device.publishAsync('cc/v1/sms-1/telemetry', JSON.stringify(excursionReadings(start)), { qos: 1 });
      await device.endAsync();
      await waitFor(
        async () => received.length,
        (n) => n === 3,
        15_000,
        'three SMS',
      );
      expect(new Set(received.map((r) => r.params.PhoneNumbers)).size).toBe(3);
      const title = JSON.parse(received[0]!.params.TemplateParam!).title as string;
      expect(title).toContain('Cold room 1');
      expect(title).toMatch(/温度.*8 °C/);
      const [incident] = service.alerts.incidents.list();
      const events = await waitFor(
        async () =>
          (
            (await (
              await fetch(`http://127.0.0.1:${service.httpPort}/api/v1/incidents/${incident!.id}`, {
                headers: { Authorization: `Bearer ${ws.apiTokens.viewer}` },
              })
            ).json()) as { events: Array<{ event: string; channel?: string; outcome?: string }> }
          ).events,
        (list) => list.filter((e) => e.event === 'notified' && e.channel === 'sms').length === 3,
        15_000,
        'the SMS attempts on record',
      );
      expect(events.find((e) => e.channel === 'sms')!.outcome).toMatch(/^delivered: accepted by Alibaba Cloud SMS/);
    });

    it('coldchain alerts test: a test alarm through every channel and tier of a site, each outcome in the audit trail (issue 14, item 2)', async () => {
      const before = received.length;
      const tokenFile = tokenFileOf(ws, 'admin');
      const cli = await run(
        process.execPath,
        [
          path.resolve('dist/cli/main.js'),
          'alerts',
          'test',
          '--site',
          'dc-shanghai',
          '--config',
          ws.configFile,
          '--url',
          `http://127.0.0.1:${service.httpPort}`,
          '--token-file',
          tokenFile,
        ],
        undefined,
        30_000,
      );
      expect(cli.code, cli.stderr).toBe(0);
      expect(cli.stdout).toMatch(/test alarm for dc-shanghai: 3 messages, 0 failed \(recorded in the audit trail\)/);
      expect(cli.stdout).toMatch(/^tier 1 {2}sms {6}ok {6}dc-shanghai Duty phone <…\d{4}>/m);
      expect(received.length - before).toBe(3);
      expect(JSON.parse(received.at(-1)!.params.TemplateParam!).title).toMatch(/^报警系统测试，Shanghai distribution centre：无需处理$/);
      const audit = readFileSync(auditFile(service.dataDir), 'utf8');
      expect(audit).toContain('"action":"alarm.test","target":"dc-shanghai"');
      const refused = await fetch(`http://127.0.0.1:${service.httpPort}/api/v1/sites/nowhere/alarm-test`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${ws.apiTokens.admin}` },
      });
      expect([refused.status, (await refused.json()).message]).toEqual([404, 'no site "nowhere"; known sites: dc-shanghai, truck-hu-a12345, hospital-pudong']);
      const viewer = await fetch(`http://127.0.0.1:${service.httpPort}/api/v1/sites/dc-shanghai/alarm-test`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${ws.apiTokens.viewer}` },
      });
      expect(viewer.status).toBe(403);
    });
  });
});
