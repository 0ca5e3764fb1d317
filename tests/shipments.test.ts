import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { GspRecord, ShipmentReport } from '../reports/schema.js';
import { influxFor, leadingBytes, publishReadings, readingsStored, rejectsStored, run, serviceSuite, tokenFileOf, waybill } from './helpers/workspace.js';

const MIN = 60_000;

/**
 * One shipment through the whole chain, with what the QA report must find injected on purpose:
 * cold room (2 sensors, 3 h) → reefer truck (2 sensors, 4 h: a 40-min reefer excursion to 10 °C,
 * a 30-min coverage gap uploaded afterwards as one batch, a 20-reading sensor dropout) →
 * receiving hospital fridge (1 sensor, 1 h) → delivered.
 */
describe('shipments: custody, full-chain report, GSP record, disposition, receiver link', () => {
  const suite = serviceSuite(() => ({
    devices: [
      { id: 'room-a', location: 'dc-sh-cold-room-1' },
      { id: 'room-b', location: 'dc-sh-cold-room-1' },
      { id: 'truck-a', location: 'truck-hu-a12345-box' },
      { id: 'truck-b', location: 'truck-hu-a12345-box' },
      { id: 'fridge-a', location: 'hospital-pudong-fridge' },
    ],
    users: ['quinn', 'olga'],
  }));
  const { api, devices } = suite;
  const T0 = Math.floor((Date.now() - 12 * 3_600_000) / (30 * MIN)) * 30 * MIN;
  const at = (minute: number) => T0 + minute * MIN;
  const shipmentId = 'SH-TEST-0001';

  /** Readings of one sensor: minute → °C, 1 per minute, with sequence numbers that show dropouts. */
  const publish = async (deviceId: string, minutes: number[], temperatureAt: (minute: number) => number, seqStart = 0) => {
    const client = await devices.connect(deviceId);
    for (let i = 0; i < minutes.length; i += 500)
      await publishReadings(
        client,
        deviceId,
        minutes.slice(i, i + 500).map((m) => ({ ts: at(m), temperature: temperatureAt(m), humidity: 55, seq: seqStart + m })),
      );
    return client;
  };
  const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
  const wobble = (m: number) => 5 + 0.3 * Math.sin(m / 7);
  const truckTemperature = (m: number) => (m >= 240 && m < 280 ? 10 : wobble(m));

  beforeAll(async () => {
    await Promise.all([publish('room-a', range(0, 180), wobble), publish('room-b', range(0, 180), (m) => wobble(m) + 0.2)]);
    // truck-a: minutes 360–379 never arrive (sensor dropout); its sequence numbers jump by 20.
    // The coverage gap (300–330) is uploaded by both sensors as a late batch after the rest.
    const coverage = (m: number) => m >= 300 && m < 330;
    await publish(
      'truck-a',
      range(180, 420).filter((m) => !coverage(m) && (m < 360 || m >= 380)),
      truckTemperature,
    );
    const truckB = await publish(
      'truck-b',
      range(180, 420).filter((m) => !coverage(m)),
      (m) => truckTemperature(m) + 0.1,
    );
    await publish('truck-a', range(300, 330), truckTemperature);
    await truckB.publishAsync(
      'cc/v1/truck-b/telemetry',
      JSON.stringify(range(300, 330).map((m) => ({ ts: at(m), temperature: truckTemperature(m) + 0.1, humidity: 55, seq: m }))),
      { qos: 1 },
    );
    await publish('fridge-a', range(420, 480), wobble);
    const influx = influxFor(suite.ws);
    await readingsStored(influx, 'fridge-a', (n) => n === 60, 'fridge readings in InfluxDB');
    await readingsStored(influx, 'truck-a', (n) => n === 220, 'truck readings in InfluxDB');
    await readingsStored(influx, 'truck-b', (n) => n === 240, 'truck readings in InfluxDB');
  });

  it('creates a waybill and refuses bad ones precisely', async () => {
    const created = await api('POST', '/api/v1/shipments', waybill(shipmentId, { batch: 'LOT-2026-118', expiry: '2027-10-31', quantity: 40, unit: 'cases' }));
    expect(created.status).toBe(201);
    expect(created.body.shipment).toMatchObject({ id: shipmentId, state: 'created', profileId: 'vaccines-2-8', createdBy: 'test-admin' });
    expect(
      (await api('POST', '/api/v1/shipments', { id: shipmentId, product: 'x', profile: 'vaccines-2-8', batch: 'b', quantity: 1, shipper: 's', consignee: 'c' }))
        .status,
    ).toBe(409);
    const bad = await api('POST', '/api/v1/shipments', { product: 'x', profile: 'no-such', batch: 'b', quantity: -1, shipper: 's', consignee: 'c' });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain('body.quantity');
    const unknownProfile = await api('POST', '/api/v1/shipments', { product: 'x', profile: 'no-such', batch: 'b', quantity: 1, shipper: 's', consignee: 'c' });
    expect(unknownProfile).toMatchObject({ status: 400, body: { message: expect.stringContaining('unknown product profile "no-such"') } });
    expect(
      (
        await api(
          'POST',
          '/api/v1/shipments',
          { product: 'x', profile: 'vaccines-2-8', batch: 'b', quantity: 1, shipper: 's', consignee: 'c' },
          suite.ws.apiTokens.viewer,
        )
      ).status,
    ).toBe(403);
  });

  it("records custody from the API and from the driver's device over MQTT, and refuses impossible events", async () => {
    expect(
      (
        await api('POST', `/api/v1/shipments/${shipmentId}/custody`, {
          event: 'stored',
          locationId: 'dc-sh-cold-room-1',
          at: new Date(at(0)).toISOString(),
          by: 'Wang Wei (warehouse)',
        })
      ).status,
    ).toBe(201);
    const wrongPlace = await api('POST', `/api/v1/shipments/${shipmentId}/custody`, { event: 'loaded', locationId: 'dc-sh-cold-room-1', at: at(180) });
    expect(wrongPlace).toMatchObject({ status: 400, body: { message: expect.stringContaining('"loaded" needs a vehicle compartment') } });
    expect((await api('POST', `/api/v1/shipments/NOPE/custody`, { event: 'stored', locationId: 'dc-sh-cold-room-1', at: at(0) })).status).toBe(404);

    // The driver scans the waybill: the place is the truck device's own compartment.
    const driver = await devices.connect('truck-a');
    await driver.publishAsync('cc/v1/truck-a/custody', JSON.stringify({ shipmentId, event: 'loaded', at: new Date(at(180)).toISOString() }), { qos: 1 });
    // A redelivered scan (QoS 1 duplicate) does not record a second event.
    await driver.publishAsync('cc/v1/truck-a/custody', JSON.stringify({ shipmentId, event: 'loaded', at: new Date(at(180)).toISOString() }), { qos: 1 });
    await driver.publishAsync('cc/v1/truck-a/custody', JSON.stringify({ shipmentId: 'SH-UNKNOWN', event: 'loaded' }), { qos: 1 });
    await driver.publishAsync('cc/v1/truck-a/custody', '{"event":"teleported"', { qos: 1 });
    const shipment = (await api('GET', `/api/v1/shipments/${shipmentId}`)).body.shipment;
    expect(shipment.state).toBe('in_transit');
    expect(shipment.custody.map((c: { event: string; source: string; locationId: string }) => [c.event, c.source, c.locationId])).toEqual([
      ['stored', 'api', 'dc-sh-cold-room-1'],
      ['loaded', 'mqtt', 'truck-hu-a12345-box'],
    ]);
    const rejects = await rejectsStored(influxFor(suite.ws), 'truck-a', (r) => r.length >= 2, 'custody rejects', 10_000);
    expect(rejects.map((r) => r.reason).sort()).toEqual(['invalid_custody_event', 'malformed_json']);
    expect(rejects.find((r) => r.reason === 'invalid_custody_event')!.message).toContain('no shipment SH-UNKNOWN');

    // Unloaded at the wrong time, then corrected: the mistake stays on record, superseded.
    const wrong = await api('POST', `/api/v1/shipments/${shipmentId}/custody`, { event: 'unloaded', locationId: 'hospital-pudong-fridge', at: at(400) });
    expect(wrong.status).toBe(201);
    const fixed = await api('POST', `/api/v1/shipments/${shipmentId}/custody`, {
      event: 'unloaded',
      locationId: 'hospital-pudong-fridge',
      at: at(420),
      corrects: wrong.body.custody.id,
      note: 'unload time misread from the dock clock',
    });
    expect(fixed.status).toBe(201);
    expect(
      (
        await api('POST', `/api/v1/shipments/${shipmentId}/custody`, {
          event: 'unloaded',
          locationId: 'hospital-pudong-fridge',
          at: at(421),
          corrects: wrong.body.custody.id,
        })
      ).status,
    ).toBe(409);
    expect((await api('POST', `/api/v1/shipments/${shipmentId}/custody`, { event: 'delivered', at: at(480) })).status).toBe(201);
    expect((await api('POST', `/api/v1/shipments/${shipmentId}/custody`, { event: 'stored', locationId: 'dc-sh-cold-room-1', at: at(500) })).status).toBe(409);
    const list = await api('GET', `/api/v1/shipments?state=delivered`);
    expect(list.body.shipments.map((s: { id: string }) => s.id)).toEqual([shipmentId]);
    expect((await api('GET', `/api/v1/shipments?state=in_transit`)).body.count).toBe(0);
  });

  it('stitches the segments with their sensors and finds the injected excursion, dropout and completeness', async () => {
    const { status, body } = await api('GET', `/api/v1/shipments/${shipmentId}/report`);
    expect(status).toBe(200);
    const report = body as ShipmentReport;
    expect(report.segments.map((s) => [s.place.locationId, s.start, s.end, s.sensors.map((x) => x.deviceId)])).toEqual([
      ['dc-sh-cold-room-1', at(0), at(180), ['room-a', 'room-b']],
      ['truck-hu-a12345-box', at(180), at(420), ['truck-a', 'truck-b']],
      ['hospital-pudong-fridge', at(420), at(480), ['fridge-a']],
    ]);
    expect(report.custody.find((c) => c.supersededBy)).toMatchObject({ at: at(400) });
    // The reefer excursion: first reading out at minute 240, first back in at 280.
    expect(report.overall.excursions).toEqual([
      expect.objectContaining({
        band: 'above',
        start: at(240),
        end: at(280),
        durationMs: 40 * MIN,
        peak: 10.1,
        deviceIds: ['truck-a', 'truck-b'],
        locationId: 'truck-hu-a12345-box',
      }),
    ]);
    expect(report.overall.timeOutOfRangeMs).toBe(40 * MIN);
    expect(report.overall.timeAboveMs).toBe(40 * MIN);
    // The coverage gap was uploaded later, so it is no data gap; the dropout is.
    expect(report.overall.gaps.map((g) => [g.deviceId, g.start, g.end, g.missingReadings])).toEqual([['truck-a', at(359), at(380), 20]]);
    expect(report.segments[1]!.figures.completeness).toMatchObject({ expected: 480, present: 460, missingBySequence: 20, percent: 95.83 });
    expect(report.overall.completeness).toMatchObject({ expected: 900, present: 880, missingBySequence: 20, percent: 97.78 });
    // This test publishes hours of readings at once, after their device time: they are late, and counted.
    expect(report.overall.completeness.late).toBeGreaterThan(800);
    expect(report.overall.max).toEqual({ value: 10.1, at: at(240) });
    expect(report.overall.mkt).toBeGreaterThan(report.overall.mean!);
    expect(report.verdict).toBe('excursion');
    expect(report.needsReview).toBe(true);
    expect(report.digest).toMatchObject({ algorithm: 'sha256', readings: 880, value: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(report.alarms.some((a) => a.kind === 'temperature_high' && a.locationId === 'truck-hu-a12345-box')).toBe(true);
  });

  it('reports one excursion alert with its readings, figures and trail', async () => {
    const alerts = (await api('GET', '/api/v1/alerts')).body.alerts as Array<{ id: string; kind: string; deviceId: string; occurredAt: number }>;
    const reefer = alerts.find((a) => a.kind === 'temperature_high' && a.deviceId === 'truck-b')!;
    expect(reefer.occurredAt).toBe(at(240));
    const { status, body } = await api('GET', `/api/v1/alerts/${reefer.id}/report`);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      reportType: 'excursion',
      alert: { id: reefer.id },
      place: { locationId: 'truck-hu-a12345-box', range: { min: 2, max: 8 } },
      from: at(120),
    });
    expect(body.figures.excursions[0]).toMatchObject({ start: at(240), end: at(280) });
    expect(body.events.map((e: { event: string }) => e.event)).toContain('activated');
    expect(body.chart.map((c: { deviceId: string }) => c.deviceId)).toEqual(['truck-a', 'truck-b']);
    const pdf = await fetch(`${suite.base}/api/v1/alerts/${reefer.id}/report?format=pdf`, {
      headers: { Authorization: `Bearer ${suite.ws.apiTokens.viewer}` },
    });
    expect(pdf.headers.get('content-type')).toBe('application/pdf');
    // Read by people: kind, severity, state, events and channels in words, never as codes.
    const en = (await api('GET', `/api/v1/alerts/${reefer.id}/report?format=csv&lang=en`)).body as string;
    expect(en).toContain('Temperature above range');
    expect(en).toContain('alarm raised');
    expect(en).not.toMatch(/temperature_high|,activated,|,major\r?\n/);
    const zh = (await api('GET', `/api/v1/alerts/${reefer.id}/report?format=csv&lang=zh-CN`)).body as string;
    expect(zh).toContain('温度超上限');
    expect(zh).toContain('报警触发');
    expect((await api('GET', '/api/v1/alerts/no-such-alert/report')).status).toBe(404);
  });

  it('keeps the GSP intervals: 30 min in storage, 5 min in transport, 2 min out of range', async () => {
    const record = async (location: string, from: number, to: number) =>
      (await api('GET', `/api/v1/locations/${location}/record?from=${from}&to=${to}`)).body as GspRecord;
    const store = await record('dc-sh-cold-room-1', at(0), at(180));
    const roomA = store.rows.filter((r) => r.deviceId === 'room-a').map((r) => (r.at - T0) / MIN);
    expect(roomA).toEqual([0, 30, 60, 90, 120, 150]);
    expect(store.place).toMatchObject({ locationKind: 'cold_room', siteName: 'Shanghai distribution centre' });
    const truck = await record('truck-hu-a12345-box', at(180), at(420));
    const truckB = truck.rows.filter((r) => r.deviceId === 'truck-b');
    const minutes = truckB.map((r) => (r.at - T0) / MIN);
    expect(minutes.filter((m) => m < 240).every((m) => m % 5 === 0)).toBe(true);
    expect(minutes.filter((m) => m >= 240 && m < 280)).toEqual([
      240, 242, 244, 246, 248, 250, 252, 254, 256, 258, 260, 262, 264, 266, 268, 270, 272, 274, 276, 278,
    ]);
    expect(minutes).toContain(280);
    expect(truckB.filter((r) => r.outOfRange)).toHaveLength(20);
    expect(truck.place).toMatchObject({ vehicleType: 'refrigerated truck', plate: '沪A12345' });
    expect((await api('GET', `/api/v1/locations/dc-sh-cold-room-1/record?from=${at(10)}&to=${at(0)}`)).status).toBe(400);
    expect((await api('GET', `/api/v1/locations/nowhere/record?from=${at(0)}`)).status).toBe(404);
  });

  it('signs the disposition only with the right password and role', async () => {
    const path = `/api/v1/shipments/${shipmentId}/disposition`;
    const wrong = await api('POST', path, {
      decision: 'released',
      user: 'quinn',
      password: 'not-it',
      meaning: 'released after excursion review',
      comment: 'stability data covers 40 min at 10 °C',
    });
    expect(wrong).toMatchObject({ status: 401, body: { error: 'signature_refused' } });
    const operator = await api('POST', path, {
      decision: 'released',
      user: 'olga',
      password: 'olga-password-1',
      meaning: 'released after excursion review',
      comment: 'x',
    });
    expect(operator.status).toBe(403);
    const signed = await api('POST', path, {
      decision: 'released',
      user: 'quinn',
      password: 'quinn-password-1',
      meaning: 'released after excursion review',
      comment: 'stability data covers 40 min at 10 °C',
    });
    expect(signed.status).toBe(201);
    const report = (await api('GET', `/api/v1/shipments/${shipmentId}/report`)).body as ShipmentReport;
    expect(report.disposition).toMatchObject({ decision: 'released', by: 'quinn', printedName: 'Quinn QA', meaning: 'released after excursion review' });
  });

  it('changes the digest when a stored reading changes', async () => {
    const before = ((await api('GET', `/api/v1/shipments/${shipmentId}/report`)).body as ShipmentReport).digest;
    // Someone overwrites one point directly in InfluxDB (same series, same time).
    await influxFor(suite.ws).write(
      `readings,deviceId=room-a,locationId=dc-sh-cold-room-1,siteId=dc-shanghai temperature=5.01,humidity=55,seq=10i ${at(10)}000000`,
    );
    const after = ((await api('GET', `/api/v1/shipments/${shipmentId}/report`)).body as ShipmentReport).digest;
    expect(after.readings).toBe(before.readings);
    expect(after.value).not.toBe(before.value);
  });

  it('shares a read-only receiver link that can be revoked', async () => {
    const created = await api('POST', `/api/v1/shipments/${shipmentId}/links`, { validDays: 7 });
    expect(created.status).toBe(201);
    const url = created.body.url as string;
    expect(url).toMatch(new RegExp(`^${suite.base}/verify/[A-Za-z0-9_-]{12}\\.[A-Za-z0-9_-]{32}$`));
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    // The link is the only authority: never cached, never indexed, never sent on in a Referer.
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(await page.text()).toContain(shipmentId);
    const refusedReceipt = await fetch(`${url}/receipt`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(refusedReceipt.status).toBe(400);
    expect([refusedReceipt.headers.get('referrer-policy'), refusedReceipt.headers.get('cache-control')]).toEqual(['no-referrer', 'no-store']);
    const json = await (await fetch(`${url}?format=json`)).json();
    expect(json.verification.url).toBe(url);
    // A forged token (right id, wrong MAC) and a truncated one are refused alike.
    expect((await fetch(url.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')))).status).toBe(404);
    expect((await fetch(url.slice(0, -5))).status).toBe(404);
    expect((await api('DELETE', `/api/v1/shipments/${shipmentId}/links/${created.body.linkId}`)).status).toBe(200);
    expect((await fetch(url)).status).toBe(404);
  });

  it('serves the report as CSV and PDF downloads', async () => {
    const csv = await fetch(`${suite.base}/api/v1/shipments/${shipmentId}/report?format=csv`, {
      headers: { Authorization: `Bearer ${suite.ws.apiTokens.viewer}` },
    });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-disposition')).toContain(`shipment-${shipmentId}.csv`);
    expect(await csv.text()).toContain(shipmentId);
    const pdf = await fetch(`${suite.base}/api/v1/shipments/${shipmentId}/report?format=pdf&lang=zh-CN&tz=Asia/Shanghai`, {
      headers: { Authorization: `Bearer ${suite.ws.apiTokens.viewer}` },
    });
    expect(pdf.status).toBe(200);
    expect(pdf.headers.get('content-type')).toBe('application/pdf');
    expect(await leadingBytes(pdf)).toBe('%PDF-');
    const badTz = await api('GET', `/api/v1/shipments/${shipmentId}/report?format=pdf&tz=Mars/Olympus`);
    expect(badTz).toMatchObject({ status: 400, body: { message: expect.stringContaining('query.tz') } });
  });

  it('coldchain shipment and report commands work through the running service', async () => {
    const tokenFile = tokenFileOf(suite.ws, 'admin');
    const cli = (args: string[], input?: string) =>
      run(process.execPath, [path.resolve('dist/cli/main.js'), ...args, '--url', suite.base, '--token-file', tokenFile], input, 30_000);
    const created = await cli([
      'shipment',
      'create',
      '--id',
      'SH-CLI-1',
      '--product',
      'Insulin pens',
      '--profile',
      'vaccines-2-8',
      '--batch',
      'INS-7',
      '--quantity',
      '12',
      '--shipper',
      'Shanghai DC',
      '--consignee',
      '=HYPERLINK("http://evil")',
    ]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toContain('created shipment SH-CLI-1');
    const stored = await cli(['shipment', 'custody', 'SH-CLI-1', 'stored', '--location', 'dc-sh-cold-room-1', '--at', new Date(at(0)).toISOString()]);
    expect(stored.code, stored.stderr).toBe(0);
    expect(stored.stdout).toContain('shipment SH-CLI-1 is now in_storage');
    const refused = await cli(['shipment', 'custody', 'SH-CLI-1', 'loaded', '--location', 'nowhere']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('400: locationId: unknown location "nowhere"');
    const listed = await cli(['shipment', 'list', '--state', 'in_storage']);
    expect(listed.stdout).toMatch(/^SH-CLI-1 {2}in_storage {2}dc-sh-cold-room-1 {2}not reviewed/m);
    expect((await api('GET', '/api/v1/shipments/SH-CLI-1')).body.shipment.custody[0].source).toBe('cli');

    const dir = mkdtempSync(path.join(tmpdir(), 'cc-report-'));
    const csvFile = path.join(dir, 'record.csv');
    const record = await cli([
      'report',
      'record',
      '--location',
      'dc-sh-cold-room-1',
      '--from',
      new Date(at(0)).toISOString(),
      '--to',
      new Date(at(180)).toISOString(),
      '--format',
      'csv',
      '--out',
      csvFile,
    ]);
    expect(record.code, record.stderr).toBe(0);
    expect(record.stderr).toMatch(/wrote .*record\.csv/);
    expect(readFileSync(csvFile, 'utf8')).toContain('room-a');
    const json = await cli(['report', 'shipment', 'SH-CLI-1', '--format', 'json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ shipmentId: 'SH-CLI-1', segments: [{ place: { locationId: 'dc-sh-cold-room-1' } }] });
    const pdfFile = path.join(dir, 'report.pdf');
    const pdf = await cli(['report', 'shipment', 'SH-CLI-1', '--format', 'pdf', '--out', pdfFile, '--lang', 'zh-CN']);
    expect(pdf.code, pdf.stderr).toBe(0);
    expect(readFileSync(pdfFile).subarray(0, 5).toString()).toBe('%PDF-');
    const noShipment = await cli(['report', 'shipment', 'SH-NONE', '--format', 'json']);
    expect(noShipment).toMatchObject({ code: 1, stderr: expect.stringContaining('404: no shipment SH-NONE') });
    // Eight CLI processes, each a Node start: 34-48 s in suite runs at load 11-14, once over 60 s.
  }, 120_000);

  it('rebuilds shipments, custody and the disposition after a restart', async () => {
    await suite.restart();
    const shipment = (await api('GET', `/api/v1/shipments/${shipmentId}`)).body.shipment;
    expect(shipment.state).toBe('delivered');
    expect(shipment.custody).toHaveLength(5);
    expect(shipment.disposition).toMatchObject({ decision: 'released', printedName: 'Quinn QA' });
    expect(shipment.links[0].revokedAt).not.toBeNull();
  });
});
