import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { GspRecord, ShipmentReport } from '../reports/schema.js';
import { influxFor, leadingBytes, run, serviceSuite, tokenFileOf, waitFor, waybill } from './helpers/workspace.js';

const MIN = 60_000;

/**
 * Signed means frozen (issue 13, item 6), against the real service and influxd: the cold room's
 * product range (vaccines-2-8, 2–8 °C) is narrowed to 2–6 °C after an hour of readings at 7 °C;
 * those readings stay in range (judged by the range in force when they were taken), new ones at
 * 7 °C are out. QA signs the shipment's disposition; a back-dated upload, a conflicting revision
 * and a further range edit then show in the report as "changed after the signature", while the
 * signed version (?version=signed) rebuilds the signed digest. A restart keeps it all.
 */
describe('signed means frozen: versioned ranges, dispositions bound to the report digest', () => {
  const suite = serviceSuite(() => ({
    devices: [{ id: 'room-a', location: 'dc-sh-cold-room-1' }],
    users: ['quinn'],
  }));
  const { api, devices } = suite;
  const T = Math.floor(Date.now() / MIN) * MIN;
  const at = (minute: number) => T + minute * MIN;
  const minutes = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
  const shipmentId = 'SH-FROZEN-1';
  let signedOn: { asOf: number; digest: { value: string; readings: number }; readings: number; rangeVersions: Array<{ version: number | null }> };
  let lateSentAt = 0;

  const report = async (query = '') => {
    const answer = await api('GET', `/api/v1/shipments/${shipmentId}/report${query}`);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    return answer.body as ShipmentReport;
  };
  const publish = async (list: Array<{ minute?: number; ts?: number; temperature: number; seq: number }>) => {
    const readings = list.map((r) => ({ ts: r.ts ?? at(r.minute!), temperature: r.temperature, humidity: 55, seq: r.seq }));
    await devices.send('room-a', readings);
  };
  const stored = async () => {
    const series = await influxFor(suite.ws).query(`SELECT count("temperature") FROM "readings" WHERE "deviceId" = 'room-a'`);
    return Number(series[0]?.values[0]?.[1] ?? 0);
  };
  const setRange = (from: string, to: string) => {
    const yaml = readFileSync(suite.ws.configFile, 'utf8');
    expect(yaml).toContain(from);
    writeFileSync(suite.ws.configFile, yaml.replace(from, to));
  };
  const versionsOf = (r: { rangeVersions: Array<{ version: number | null }> }) => r.rangeVersions.map((v) => v.version);

  beforeAll(async () => {
    // An hour at 7 °C: inside 2–8 °C.
    await publish(minutes(-60, -30).map((m) => ({ minute: m, temperature: 7, seq: 1000 + m })));
    await waitFor(stored, (n) => n === 30, 20_000, '30 readings stored');
    const created = await api('POST', '/api/v1/shipments', waybill(shipmentId, { batch: 'LOT-2026-9', quantity: 12, unit: 'cases' }));
    expect(created.status).toBe(201);
    const custody = await api('POST', `/api/v1/shipments/${shipmentId}/custody`, {
      event: 'stored',
      locationId: 'dc-sh-cold-room-1',
      at: new Date(at(-60)).toISOString(),
      by: 'Wang Wei',
    });
    expect(custody.status).toBe(201);
  });

  it('judges past readings by the range in force when they were taken, new ones by the new range', async () => {
    const before = await report();
    expect(versionsOf(before)).toEqual([1]);
    expect(before.rangeVersions[0]).toMatchObject({ profileId: 'vaccines-2-8', effectiveFrom: null, until: null, temperature: { min: 2, max: 8 } });
    expect(before.overall.timeOutOfRangeMs).toBe(0);

    const editedAt = Date.now();
    setRange('temperature: { min: 2, max: 8 }', 'temperature: { min: 2, max: 6 }');
    const after = await waitFor(report, (r) => r.rangeVersions.length === 2, 20_000, 'range version 2 in the report');
    const v2 = after.rangeVersions[1]!;
    expect(v2).toMatchObject({ version: 2, until: null, temperature: { min: 2, max: 6 } });
    expect(v2.effectiveFrom).toBeGreaterThanOrEqual(editedAt);
    expect(after.rangeVersions[0]).toMatchObject({ version: 1, until: v2.effectiveFrom });
    // The hour at 7 °C stays in range: same minutes out of range, no excursion.
    expect(after.overall.timeOutOfRangeMs).toBe(before.overall.timeOutOfRangeMs);
    expect(after.overall.excursions).toEqual([]);
    expect(after.segments[0]!.place.range).toEqual({ min: 2, max: 8 });

    // Readings taken after the edit, at the same 7 °C, are out of the new range.
    const firstNew = v2.effectiveFrom! + 1000;
    await waitFor(
      async () => Date.now(),
      (now) => now > firstNew + 2000,
      5000,
      'the clock past the new readings',
    );
    await publish([0, 1, 2].map((i) => ({ ts: firstNew + i * 1000, temperature: 7, seq: 2000 + i })));
    await waitFor(stored, (n) => n === 33, 20_000, '33 readings stored');
    const later = await waitFor(report, (r) => r.overall.readings === 33, 20_000, 'the new readings in the report');
    expect(later.overall.excursions).toHaveLength(1);
    expect(later.overall.excursions[0]).toMatchObject({ band: 'above', limit: 6, start: firstNew });
    // The hour before the edit is still not out of range.
    expect(later.overall.excursions[0]!.start).toBeGreaterThan(v2.effectiveFrom!);

    // The GSP record judges its rows the same way and lists both versions.
    const gsp = (await api('GET', `/api/v1/locations/dc-sh-cold-room-1/record?from=${at(-60)}&to=${Date.now() + 1000}`)).body as GspRecord;
    expect(gsp.rows.filter((r) => r.at < v2.effectiveFrom!).every((r) => !r.outOfRange)).toBe(true);
    expect(gsp.rows.filter((r) => r.at > v2.effectiveFrom!).every((r) => r.outOfRange)).toBe(true);
    expect(versionsOf(gsp)).toEqual([1, 2]);

    // The new version is an audit-trail entry.
    const audit = await api('GET', '/api/v1/audit?action=profile&target=vaccines-2-8');
    expect(audit.body.entries.map((e: any) => [e.action, e.target, e.details.version])).toEqual([
      ['profile.range.version', 'vaccines-2-8', 2],
      ['profile.range.version', 'vaccines-2-8', 1],
    ]);
  });

  it('binds a QA disposition to the digest of the report it was signed on', async () => {
    const unsigned = await api('GET', `/api/v1/shipments/${shipmentId}/report?version=signed`);
    expect(unsigned).toMatchObject({ status: 404, body: { error: 'not_signed' } });
    const current = await report();
    const signed = await api('POST', `/api/v1/shipments/${shipmentId}/disposition`, {
      decision: 'quarantined',
      user: 'quinn',
      password: 'quinn-password-1',
      meaning: 'quarantined pending excursion review',
      comment: 'three readings above 6 °C after the range was narrowed',
    });
    expect(signed.status, JSON.stringify(signed.body)).toBe(201);
    signedOn = signed.body.disposition.signedOn;
    expect(signedOn.digest.value).toBe(current.digest.value);
    expect(signedOn.readings).toBe(33);
    expect(signedOn.rangeVersions.map((v) => v.version)).toEqual([1, 2]);
    const now = await report();
    expect(now.sinceSignature).toMatchObject({ changed: false, arrivals: [], rangeChanges: [], custodyChanges: [], digest: { same: true } });
  });

  it('shows readings that arrived after the signature, what and when, and renders the signed version with the signed digest', async () => {
    lateSentAt = Date.now();
    // A back-dated upload into the signed hour, and a different reading for a device time already stored.
    await publish([
      { minute: -30, temperature: 7.5, seq: 970 },
      { minute: -40, temperature: 9.9, seq: 960 },
    ]);
    await waitFor(stored, (n) => n === 35, 20_000, 'the late reading and the revision stored');
    const now = await waitFor(report, (r) => r.sinceSignature?.changed === true && r.sinceSignature.arrivals.length === 2, 20_000, 'changes flagged');
    const since = now.sinceSignature!;
    expect(since.digest.same).toBe(false);
    expect(since.digest.signed).toBe(signedOn.digest.value);
    expect(since.digest.now).toBe(now.digest.value);
    const byKind = Object.fromEntries(since.arrivals.map((a) => [a.kind, a]));
    expect(byKind.late_upload).toMatchObject({ deviceId: 'room-a', readings: 1, start: at(-30), end: at(-30) });
    expect(byKind.revision).toMatchObject({ deviceId: 'room-a', readings: 1, start: at(-40) });
    expect(byKind.late_upload!.receivedAt).toBeGreaterThanOrEqual(lateSentAt);
    expect(byKind.late_upload!.receivedAt).toBeGreaterThan(signedOn.asOf);
    // The revision is also listed with both readings, and sends the shipment to review.
    expect(now.conflicts).toMatchObject([{ deviceId: 'room-a', at: at(-40), readings: [{}, { temperature: 9.9 }] }]);
    expect(now.reviewReasons).toContain('1 device time(s) with conflicting readings (a different reading arrived for a time already stored; both are kept)');

    const frozen = await report('?version=signed');
    expect(frozen.digest.value).toBe(signedOn.digest.value);
    expect(frozen.digest.readings).toBe(signedOn.readings);
    expect(frozen.signedVersion).toMatchObject({ decision: 'quarantined', signedBy: 'quinn', matches: true, signedDigest: signedOn.digest.value });
    expect(frozen.sinceSignature).toBeUndefined();
    expect(frozen.conflicts).toEqual([]);

    const html = (await api('GET', `/api/v1/shipments/${shipmentId}/report?format=html&lang=en`)).body as string;
    expect(html).toContain('Data changed after the signature');
    expect(html).toContain('late upload into the signed period');
    const zh = (await api('GET', `/api/v1/shipments/${shipmentId}/report?format=html&lang=zh-CN`)).body as string;
    expect(zh).toContain('签名后数据有变化');
    const csv = (await api('GET', `/api/v1/shipments/${shipmentId}/report?format=csv&lang=en`)).body as string;
    expect(csv).toContain('Readings that arrived after the signature');
    expect(csv).toContain('Product range versions used');
    expect(csv).toContain('Conflicting readings (a different reading arrived for a device time already stored)');
    const pdf = await fetch(`${suite.base}/api/v1/shipments/${shipmentId}/report?format=pdf&lang=zh-CN&version=signed`, {
      headers: { Authorization: `Bearer ${suite.ws.apiTokens.admin}` },
    });
    expect(pdf.status).toBe(200);
    expect(await leadingBytes(pdf)).toBe('%PDF-');
    // The CLI asks for the same signed version.
    const tokenFile = tokenFileOf(suite.ws, 'admin');
    const cli = await run(
      process.execPath,
      [path.resolve('dist/cli/main.js'), 'report', 'shipment', shipmentId, '--signed', '--format', 'json', '--url', suite.base, '--token-file', tokenFile],
      undefined,
      30_000,
    );
    expect(cli.code, cli.stderr).toBe(0);
    expect((JSON.parse(cli.stdout) as ShipmentReport).digest.value).toBe(signedOn.digest.value);
    const signedHtml = (await api('GET', `/api/v1/shipments/${shipmentId}/report?format=html&lang=en&version=signed`)).body as string;
    expect(signedHtml).toContain('Signed version');
    expect(signedHtml).toContain(signedOn.digest.value);
  });

  it('lists a range change after the signature; the signed version keeps the ranges in force then', async () => {
    setRange('temperature: { min: 2, max: 6 }', 'temperature: { min: 2, max: 5 }');
    const now = await waitFor(report, (r) => (r.sinceSignature?.rangeChanges.length ?? 0) === 1, 20_000, 'the range change flagged');
    expect(now.sinceSignature!.rangeChanges[0]).toMatchObject({ profileId: 'vaccines-2-8', version: 3, temperature: { min: 2, max: 5 } });
    expect(now.sinceSignature!.rangeChanges[0]!.recordedAt).toBeGreaterThan(signedOn.asOf);
    const frozen = await report('?version=signed');
    expect(versionsOf(frozen)).toEqual([1, 2]);
    expect(frozen.digest.value).toBe(signedOn.digest.value);
  });

  it('keeps the range history and the signed digest through a restart', async () => {
    const beforeRestart = await report();
    await suite.restart();
    const after = await report();
    expect(versionsOf(after)).toEqual([1, 2, 3]);
    expect(after.rangeVersions).toEqual(beforeRestart.rangeVersions);
    // The same excursions, judged by the same versions (the open one's end moves with the clock).
    const judged = (r: ShipmentReport) => r.overall.excursions.map((e) => [e.band, e.limit, e.start, e.peak]);
    expect(judged(after)).toEqual(judged(beforeRestart));
    expect(after.disposition?.signedOn?.digest.value).toBe(signedOn.digest.value);
    expect(after.sinceSignature).toMatchObject({ changed: true, digest: { signed: signedOn.digest.value, same: false } });
    const frozen = await report('?version=signed');
    expect(frozen.digest.value).toBe(signedOn.digest.value);
    // No version was recorded twice.
    const audit = await api('GET', '/api/v1/audit?action=profile&target=vaccines-2-8');
    expect(audit.body.entries.map((e: any) => e.details.version)).toEqual([3, 2, 1]);
  });
});
