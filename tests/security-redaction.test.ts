import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../app/service.js';
import { redactRecipient } from '../alerts/redact.js';
import { renderCsv } from '../reports/render/csv.js';
import { LABELS } from '../reports/render/i18n.js';
import { connectDevice, makeWorkspace, startTestService, unlimitedRate, waitFor, type Workspace } from './helpers/workspace.js';
import { excursionReadings } from './helpers/alarms.js';

const MIN = 60_000;
const KEY = 'T0KEN-in-the-path-9f8e7d';
const QUERY_KEY = 'access-token-5a4b3c';

describe('issue 12, item 14: recipient secrets are not shown to viewers', () => {
  let ws: Workspace;
  let service: RunningService;
  let hookServer: Server;
  let hooks = 0;

  beforeAll(async () => {
    hookServer = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        hooks++;
        res.writeHead(204).end();
      });
    });
    const port = await new Promise<number>((r) => hookServer.listen(0, '127.0.0.1', () => r((hookServer.address() as { port: number }).port)));
    ws = makeWorkspace({
      devices: ['red-1'],
      yamlPatch: (yaml) =>
        unlimitedRate(yaml)
          .replace(
            '  - id: dc-shanghai\n    name: Shanghai distribution centre\n',
            `  - id: dc-shanghai\n    name: Shanghai distribution centre\n    recipients:\n      - { name: Duty hook, tier: 1, webhook: "http://127.0.0.1:${port}/robot/${KEY}?access_token=${QUERY_KEY}" }\n      - { name: Duty phone, tier: 1, phone: "+8613800138000" }\n`,
          )
          .replace(/^notifications:\n(?: {2}.*\n)+/m, 'notifications:\n  tierDelays: [0s, 1h]\n  reminderEvery: 1h\n  webhookRetries: 0\n'),
    });
    service = await startTestService(ws);
  });
  afterAll(async () => {
    await service?.stop();
    hookServer?.close();
  });

  it("an incident's events show the webhook's host and the phone's last digits, never the key or the number", async () => {
    const device = await connectDevice(service.mqttPort!, 'red-1', ws.deviceTokens['red-1']!);
    const start = Date.now() - 26 * MIN;
    await device.publishAsync('cc/v1/red-1/telemetry', JSON.stringify(excursionReadings(start)), { qos: 1 });
    await device.endAsync();
    const viewer = { Authorization: `Bearer ${ws.apiTokens.viewer}` };
    const base = `http://127.0.0.1:${service.httpPort}`;
    const { incidents } = await waitFor(
      async () => (await (await fetch(`${base}/api/v1/incidents`, { headers: viewer })).json()) as { incidents: Array<{ id: string }> },
      (b) => b.incidents.length > 0,
      20_000,
      'the incident',
    );
    const detail = await waitFor(
      async () => (await fetch(`${base}/api/v1/incidents/${incidents[0]!.id}`, { headers: viewer })).text(),
      (text) => (JSON.parse(text) as { events: Array<{ recipient?: string }> }).events.filter((e) => e.recipient).length >= 2,
      20_000,
      'both notification events',
    );
    expect(hooks).toBeGreaterThan(0);
    expect(detail).not.toContain(KEY);
    expect(detail).not.toContain(QUERY_KEY);
    expect(detail).not.toContain('13800138000');
    const recipients = (JSON.parse(detail) as { events: Array<{ recipient?: string }> }).events.map((e) => e.recipient).filter(Boolean);
    expect(recipients).toEqual(expect.arrayContaining([expect.stringMatching(/^Duty hook <http:\/\/127\.0\.0\.1:\d+\/…>$/), 'Duty phone <…8000>']));

    // The alerts' own details and the excursion CSV of the alert: no key either.
    const { alerts } = (await (await fetch(`${base}/api/v1/alerts`, { headers: viewer })).json()) as { alerts: Array<{ id: string }> };
    for (const alert of alerts) {
      for (const url of [`${base}/api/v1/alerts/${alert.id}`, `${base}/api/v1/alerts/${alert.id}/report?format=csv`]) {
        const text = await (await fetch(url, { headers: viewer })).text();
        expect(text).not.toContain(KEY);
        expect(text).not.toContain('13800138000');
      }
    }
  });

  it('events recorded before the fix are redacted in the CSV (and the API) on the way out', () => {
    const old = `Duty hook <https://oapi.dingtalk.com/robot/send?access_token=${QUERY_KEY}>`;
    const csv = renderCsv({
      title: 'Excursion report',
      subtitle: '',
      footer: '',
      blocks: [
        {
          kind: 'table',
          heading: 'Events',
          columns: [LABELS.en.time, LABELS.en.event, LABELS.en.recipient, LABELS.en.outcome],
          rows: [
            ['2026-01-01 00:00', 'notified', old, 'delivered: HTTP 200'],
            ['2026-01-01 00:00', 'notified', 'Duty phone <+8613800138000>', 'failed: no notifications.sms configured'],
          ],
          empty: '—',
        },
      ],
    } as never).toString('utf8');
    expect(csv).not.toContain(QUERY_KEY);
    expect(csv).not.toContain('13800138000');
    expect(csv).toContain('Duty hook <https://oapi.dingtalk.com/…>');
    expect(csv).toContain('Duty phone <…8000>');
    expect(redactRecipient('Olga <olga@dc.example>')).toBe('Olga <olga@dc.example>');
  });
});
