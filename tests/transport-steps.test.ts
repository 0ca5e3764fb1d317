import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import type { SMTPServer } from 'smtp-server';
import { editConfig } from '../core/config/edit.js';
import { loadConfig } from '../core/config/load.js';
import { SAMPLE_CONFIG } from '../cli/sample-config.js';
import type { ShipmentReport } from '../reports/schema.js';
import {
  influxFor,
  leadingBytes,
  publishReadings,
  readingsStored,
  rejectsStored,
  run,
  serviceSuite,
  tokenFileOf,
  waitFor,
  waybill as vaccineWaybill,
} from './helpers/workspace.js';
import { startMailServer, type Mail } from './helpers/receivers.js';

const MIN = 60_000;

describe('shipments.preCooling in the configuration', () => {
  it('names the exact key of a bad setting', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cc-precool-'));
    const file = path.join(dir, 'coldchain.yaml');
    writeFileSync(file, `${SAMPLE_CONFIG}\nshipments:\n  preCooling: { action: freeze, minDuration: 10s }\n`);
    expect(() => loadConfig(file)).toThrow(/shipments\.preCooling\.action: Invalid option: expected one of "off"\|"warn"\|"refuse"/);
    expect(() => loadConfig(file)).toThrow(/shipments\.preCooling\.minDuration: must be between 1m and 7d/);
    writeFileSync(file, SAMPLE_CONFIG);
    expect(loadConfig(file).config.shipments.preCooling).toEqual({ action: 'warn', minDuration: 30 * MIN });
  });
});

/**
 * Transport steps (issue 14, item 7) against the real service, influxd and an SMTP server: the
 * reefer box is cold for an hour, then warm; loadings are judged on its stored readings; the
 * warm hour is an excursion the consignee of the shipment on board hears of; the receiver
 * refuses the goods once through the verification link.
 */
describe('transport steps: pre-cooling, receipt on the receiver link, consignee notified', () => {
  let smtp: SMTPServer;
  let truck: MqttClient;
  const mails: Mail[] = [];
  const suite = serviceSuite(async () => {
    const mailServer = await startMailServer(mails);
    smtp = mailServer.server;
    const smtpPort = mailServer.port;
    return {
      devices: [{ id: 'truck-a', location: 'truck-hu-a12345-box' }],
      yamlPatch: (yaml) =>
        `${yaml.replace(
          /^notifications:\n(?: {2}.*\n)+/m,
          `notifications:\n  smtp: { host: 127.0.0.1, port: ${smtpPort}, from: "coldchain <alerts@dc.example>" }\n  tierDelays: [0s]\n  reminderEvery: 1h\n  webhookRetries: 0\n`,
        )}\nshipments:\n  preCooling: { action: refuse, minDuration: 30m }\n`,
    };
  });
  const { api, devices } = suite;
  // Device time hours back, inside the ingest window; minute 0 starts the cold hour.
  const T0 = Math.floor((Date.now() - 6 * 3_600_000) / (30 * MIN)) * 30 * MIN;
  const at = (minute: number) => T0 + minute * MIN;
  let receiverUrl = '';

  const publishTruck = async (from: number, to: number, temperature: number) => {
    const readings = Array.from({ length: to - from }, (_, i) => ({ ts: at(from + i), temperature, humidity: 55, seq: from + i }));
    await publishReadings(truck, 'truck-a', readings);
    await readingsStored(influxFor(suite.ws), 'truck-a', (n) => n === to, `truck readings up to minute ${to} in InfluxDB`);
  };
  const restart = async () => {
    await truck.endAsync();
    await suite.restart();
    truck = await devices.connect('truck-a');
  };
  const waybill = (id: string, extra: Record<string, unknown> = {}) => vaccineWaybill(id, { batch: 'LOT-7', quantity: 12, ...extra });

  beforeAll(async () => {
    truck = await devices.connect('truck-a');
    await publishTruck(0, 60, 5);
  });

  afterAll(() => {
    smtp?.close();
  });

  it('passes a loading into a box that was in range for the 30 min before, and records the check on the waybill', async () => {
    const bad = await api('POST', '/api/v1/shipments', waybill('SH-X', { consigneeEmail: 'not-an-address' }));
    expect(bad).toMatchObject({ status: 400, body: { message: expect.stringContaining('body.consigneeEmail') } });
    expect((await api('POST', '/api/v1/shipments', waybill('SH-A', { consigneeEmail: 'pharmacy@hospital.example' }))).status).toBe(201);
    const loaded = await api('POST', '/api/v1/shipments/SH-A/custody', { event: 'loaded', locationId: 'truck-hu-a12345-box', at: at(60) });
    expect(loaded.status).toBe(201);
    const [check] = loaded.body.shipment.preCooling;
    expect(check).toMatchObject({
      custodyId: loaded.body.custody.id,
      locationId: 'truck-hu-a12345-box',
      from: at(30),
      to: at(60),
      range: { min: 2, max: 8 },
      readings: 30,
      sensors: ['truck-a'],
      min: 5,
      max: 5,
      passed: true,
      problems: [],
      action: 'refuse',
      outcome: 'recorded',
    });
  });

  it('e-mails the consignee of the shipment on board when an excursion is raised there, in English and Chinese, on the incident trail', async () => {
    // The box warms to 12 °C for 40 min while SH-A is in it (under the 60 min cumulative budget: one alarm).
    await publishTruck(60, 80, 5);
    await publishTruck(80, 120, 12);
    const mail = await waitFor(
      async () => mails.find((m) => m.to.includes('pharmacy@hospital.example')),
      (m) => m !== undefined,
      20_000,
      'the consignee e-mail',
    );
    expect(mail!.subject).toContain('SH-A');
    expect(mail!.subject).toContain('Reefer truck 沪A12345 / Cargo box');
    expect(mail!.text).toContain('Shipment SH-A — Influenza vaccine 0.5 ml, batch LOT-7');
    expect(mail!.text).toContain("the product's range is 2–8 °C");
    expect(mail!.text).toContain('worst value so far 12 °C');
    expect(mail!.text).toContain('运单 SH-A');
    expect(mail!.text).toContain('产品要求 2–8 °C');
    const incident = (await api('GET', '/api/v1/incidents')).body.incidents.find((i: { locationId: string }) => i.locationId === 'truck-hu-a12345-box');
    const trail = await waitFor(
      async () => (await api('GET', `/api/v1/incidents/${incident.id}`)).body.events as Array<{ event: string; recipient?: string; channel?: string }>,
      (events) => events.some((e) => e.event === 'notified' && e.recipient?.includes('pharmacy@hospital.example')),
      20_000,
      'the consignee notice on the incident trail',
    );
    expect(trail.find((e) => e.recipient?.includes('pharmacy@hospital.example'))).toMatchObject({
      channel: 'email',
      recipient: 'Pudong hospital pharmacy <pharmacy@hospital.example>',
    });
    // One message per shipment and alarm, however the alarm changes afterwards.
    expect(mails.filter((m) => m.to.includes('pharmacy@hospital.example'))).toHaveLength(1);
  });

  it('refuses a loading into the warm box with a precise 409, and keeps the refused attempt on the waybill', async () => {
    expect((await api('POST', '/api/v1/shipments', waybill('SH-B'))).status).toBe(201);
    const refused = await api('POST', '/api/v1/shipments/SH-B/custody', { event: 'loaded', locationId: 'truck-hu-a12345-box', at: at(120) });
    expect(refused.status).toBe(409);
    expect(refused.body.message).toContain(
      `pre-cooling: truck-hu-a12345-box was not within 2–8 °C for the 30 min before loading at ${new Date(at(120)).toISOString()}`,
    );
    expect(refused.body.message).toContain('it was above the range');
    expect(refused.body.message).toContain('30 readings from truck-a, min 12 °C, max 12 °C');
    expect(refused.body.message).toContain('shipments.preCooling.action is "refuse"');
    // A retry is refused again and not recorded twice.
    expect((await api('POST', '/api/v1/shipments/SH-B/custody', { event: 'loaded', locationId: 'truck-hu-a12345-box', at: at(120) })).status).toBe(409);
    const shipment = (await api('GET', '/api/v1/shipments/SH-B')).body.shipment;
    expect(shipment.custody).toEqual([]);
    expect(shipment.preCooling).toHaveLength(1);
    expect(shipment.preCooling[0]).toMatchObject({ passed: false, problems: ['above_range'], outcome: 'refused', action: 'refuse', max: 12 });
    expect(shipment.preCooling[0].custodyId).toBeUndefined();

    // A driver's device is refused the same way, as a quarantined custody message.
    await truck.publishAsync('cc/v1/truck-a/custody', JSON.stringify({ shipmentId: 'SH-B', event: 'loaded', at: new Date(at(121)).toISOString() }), { qos: 1 });
    const rejects = await rejectsStored(influxFor(suite.ws), 'truck-a', (r) => r.length > 0, 'the device custody refusal');
    expect(rejects[0]).toMatchObject({
      reason: 'invalid_custody_event',
      message: expect.stringContaining('pre-cooling: truck-hu-a12345-box was not within 2–8 °C'),
    });
  });

  it('with action warn records the same loading, the failed check beside it, and sends the shipment to review', async () => {
    // shipments.* is read at start (the registry part alone is reloaded live): restart with the new action.
    editConfig(suite.ws.configFile, (doc) => doc.setIn(['shipments', 'preCooling', 'action'], 'warn'));
    await restart();
    expect(suite.service.registry.get().config.shipments.preCooling.action).toBe('warn');
    const loaded = await api('POST', '/api/v1/shipments/SH-B/custody', { event: 'loaded', locationId: 'truck-hu-a12345-box', at: at(120) });
    expect(loaded.status).toBe(201);
    const checks = loaded.body.shipment.preCooling;
    // The API's refused attempt, the device's, and now the loading recorded with its failed check.
    expect(checks.map((c: { outcome: string }) => c.outcome)).toEqual(['refused', 'refused', 'recorded']);
    expect(checks.at(-1)).toMatchObject({ custodyId: loaded.body.custody.id, passed: false, problems: ['above_range'], action: 'warn' });
    const report = (await api('GET', '/api/v1/shipments/SH-B/report?format=json')).body as ShipmentReport;
    // By name, as people read it; the rendered Chinese report says the same in Chinese.
    expect(report.reviewReasons).toContain(
      `pre-cooling of Reefer truck 沪A12345 / Cargo box before loading at ${new Date(at(120)).toISOString()} failed (above range)`,
    );
    expect(report.reviews).toContainEqual({ kind: 'pre_cooling_failed', place: 'Reefer truck 沪A12345 / Cargo box', at: at(120), problems: ['above_range'] });
    const html = (await api('GET', '/api/v1/shipments/SH-B/report?format=html&lang=zh-CN')).body as string;
    expect(html).toContain('装车前预冷');
    expect(html).toContain('不合格: 高于范围');
    expect(html).toContain('Reefer truck 沪A12345 / Cargo box 于');
    expect(html).toContain('装车前预冷不合格（高于范围）');
    expect(html).not.toContain('before loading at');
    expect(html).toContain('已记录（警告）');
  });

  it('lets the receiver refuse the goods once through the verification link, audited and in the report', async () => {
    const link = await api('POST', '/api/v1/shipments/SH-A/links', { validDays: 7 });
    expect(link.status).toBe(201);
    receiverUrl = link.body.url;
    const form = await fetch(`${receiverUrl}/receive`);
    expect(form.status).toBe(200);
    const page = await form.text();
    expect(page).toContain('Refuse the goods / 拒收');
    expect(page).toContain('SH-A');

    const post = (body: unknown, url = `${receiverUrl}/receipt`) =>
      fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    // Bounded input, precisely refused.
    const long = await post({ decision: 'refused', arrivalTemperature: 11.5, name: 'x'.repeat(101) });
    expect(long.status).toBe(400);
    expect((await long.json()).message).toContain('body.name');
    expect((await post({ decision: 'maybe', arrivalTemperature: 4, name: 'Li' })).status).toBe(400);
    const huge = await post({ decision: 'refused', arrivalTemperature: 11.5, name: 'Li', comment: 'y'.repeat(5000) });
    expect(huge.status).toBe(413);
    // A forged or revoked link records nothing.
    expect(
      (await post({ decision: 'accepted', arrivalTemperature: 4, name: 'Mallory' }, `${suite.base}/verify/AAAAAAAAAAAA.${'B'.repeat(32)}/receipt`)).status,
    ).toBe(404);

    const first = await post({ decision: 'refused', arrivalTemperature: 11.5, name: 'Dr. Li 李医生', comment: 'boxes warm to the touch / 箱体温热' });
    expect(first.status).toBe(201);
    expect((await first.json()).receipt).toMatchObject({ decision: 'refused', arrivalTemperature: 11.5, name: 'Dr. Li 李医生' });

    const again = await post({ decision: 'accepted', arrivalTemperature: 4, name: 'Someone else' });
    expect(again.status).toBe(409);
    expect((await again.json()).message).toMatch(/^shipment SH-A: the goods were already refused by Dr\. Li 李医生 at .*; a receipt is recorded only once/);
    // The same through the form: a page saying why.
    const formAgain = await fetch(`${receiverUrl}/receipt`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ decision: 'accepted', arrivalTemperature: '4', name: 'Someone else' }).toString(),
    });
    expect(formAgain.status).toBe(409);
    expect(await formAgain.text()).toContain('already refused by Dr. Li 李医生');
    expect(await (await fetch(`${receiverUrl}/receive`)).text()).toContain('Refused / 已拒收');

    const audit = (await api('GET', '/api/v1/audit?action=shipment.receipt')).body;
    expect(audit.entries).toHaveLength(1);
    expect(audit.entries[0]).toMatchObject({
      action: 'shipment.receipt',
      target: 'SH-A',
      printedName: 'Dr. Li 李医生',
      details: { decision: 'refused', arrivalTemperature: 11.5 },
    });
    expect(audit.entries[0].actor).toMatch(/^receiver-link:/);

    const report = (await api('GET', '/api/v1/shipments/SH-A/report?format=json')).body as ShipmentReport;
    expect(report.transport?.receipt).toMatchObject({ decision: 'refused', arrivalTemperature: 11.5, name: 'Dr. Li 李医生' });
    expect(report.reviewReasons).toContain('the receiver refused the goods on arrival (Dr. Li 李医生, 11.5 °C)');
    expect(report.transport?.consigneeNotices).toEqual([expect.objectContaining({ channel: 'email', ok: true, locationId: 'truck-hu-a12345-box' })]);
    const csv = (await api('GET', '/api/v1/shipments/SH-A/report?format=csv')).body as string;
    expect(csv).toContain('Receipt by the consignee');
    expect(csv).toContain('Decision,Refused');
    expect(csv).toContain('Consignee notified of excursions');
    const zh = (await api('GET', '/api/v1/shipments/SH-A/report?format=html&lang=zh-CN')).body as string;
    expect(zh).toContain('收货验收');
    expect(zh).toContain('拒收');
    const pdf = await fetch(`${suite.base}/api/v1/shipments/SH-A/report?format=pdf`, { headers: { Authorization: `Bearer ${suite.ws.apiTokens.admin}` } });
    expect(pdf.status).toBe(200);
    expect(await leadingBytes(pdf)).toBe('%PDF-');
  });

  it('takes the consignee contacts from coldchain shipment create', async () => {
    const tokenFile = tokenFileOf(suite.ws, 'admin');
    const created = await run(
      process.execPath,
      [
        path.resolve('dist/cli/main.js'),
        ...['shipment', 'create', '--id', 'SH-CLI', '--product', 'Insulin pens', '--profile', 'vaccines-2-8', '--batch', 'INS-7', '--quantity', '5'],
        ...['--shipper', 'Shanghai DC', '--consignee', 'Minhang clinic', '--consignee-email', 'clinic@minhang.example', '--consignee-phone', '+8613800138000'],
        ...['--url', suite.base, '--token-file', tokenFile],
      ],
      undefined,
      30_000,
    );
    expect(created.code, created.stderr).toBe(0);
    expect((await api('GET', '/api/v1/shipments/SH-CLI')).body.shipment).toMatchObject({
      consignee: 'Minhang clinic',
      consigneeEmail: 'clinic@minhang.example',
      consigneePhone: '+8613800138000',
    });
  });

  it('keeps pre-cooling checks, the receipt and consignee notices across a restart', async () => {
    await restart();
    const a = (await api('GET', '/api/v1/shipments/SH-A')).body.shipment;
    expect(a.receipt).toMatchObject({ decision: 'refused', name: 'Dr. Li 李医生' });
    expect(a.preCooling).toEqual([expect.objectContaining({ passed: true })]);
    expect((await api('GET', '/api/v1/shipments/SH-B')).body.shipment.preCooling).toHaveLength(3);
    const link = (await api('GET', '/api/v1/shipments/SH-A')).body.shipment.links[0].linkId;
    expect(link).toBeTruthy();
  });
});
