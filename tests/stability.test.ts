import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../core/config/load.js';
import { auditFile, readAuditEntries } from '../audit/audit-log.js';
import { SAMPLE_CONFIG } from '../cli/sample-config.js';
import type { Excursion, ShipmentReport } from '../reports/schema.js';
import { computeLedger, mergeExcursions } from '../stability/ledger.js';
import type { Ledger } from '../stability/schema.js';
import { influxFor, leadingBytes, readingsStored, run, serviceSuite, tokenFileOf, waitFor, waybill as vaccineWaybill } from './helpers/workspace.js';

const MIN = 60_000;
const CLI = path.resolve('dist/cli/main.js');

/** The vaccines profile with stability data: 4 h at 8–25 °C, 2 h at 0–2 °C, 5 h in all, two freeze events. */
const STABILITY = `    stability:
      allowances:
        - { id: up-to-25, name: "8–25 °C", from: 8, to: 25, allowance: 4h }
        - { id: cold-0-2, name: "0–2 °C", from: 0, to: 2, allowance: 2h }
      total: 5h
      freeze: { below: 0, maxEvents: 2 }
      alertBelow: 85
`;

/** A second reefer and a second consignee's store, beside the sample's truck and hospital. */
const MORE_SITES = `  - id: truck-hu-b67890
    name: Reefer van 沪B67890
    kind: vehicle
    vehicleType: refrigerated van
    plate: 沪B67890
    locations:
      - { id: truck-hu-b67890-box, name: Cargo box, kind: vehicle_compartment, profile: vaccines-2-8, volumeM3: 12 }
  - id: clinic-minhang
    name: Minhang community clinic
    kind: warehouse
    locations:
      - { id: clinic-minhang-fridge, name: Clinic vaccine fridge, kind: cold_room, profile: vaccines-2-8, areaM2: 2 }
`;

const withStability = (yaml: string) =>
  yaml
    .replace('    humidity: { min: 35, max: 75 }\n', `    humidity: { min: 35, max: 75 }\n${STABILITY}`)
    .replace('\n# Devices are added with', `${MORE_SITES}\n# Devices are added with`);

const excursion = (locationId: string, band: 'above' | 'below', start: number, end: number, peak: number): Excursion => ({
  band,
  limit: band === 'above' ? 8 : 2,
  start,
  end,
  durationMs: end - start,
  peak,
  peakAt: start,
  degreeMinutes: 0,
  ongoing: false,
  deviceIds: ['x'],
  locationId,
});

describe('stability data in the configuration', () => {
  it('names the exact key of an allowance that overlaps the range or a weighting that does not apply', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cc-stab-'));
    const file = path.join(dir, 'coldchain.yaml');
    writeFileSync(file, withStability(SAMPLE_CONFIG).replace('from: 8, to: 25', 'from: 6, to: 25'));
    expect(() => loadConfig(file)).toThrow(/line \d+: profiles\[0\]\.stability\.allowances\[0\]: the band 6…25 °C overlaps the range 2–8 °C/);
    writeFileSync(file, withStability(SAMPLE_CONFIG).replace('from: 0, to: 2, allowance: 2h', 'from: 0, to: 2, allowance: 2h, weighting: mkt'));
    expect(() => loadConfig(file)).toThrow(/profiles\[0\]\.stability\.allowances\[1\]\.weighting: mkt weighting applies to bands above the range only/);
    writeFileSync(file, withStability(SAMPLE_CONFIG).replace('allowance: 4h', 'allowance: four hours'));
    expect(() => loadConfig(file)).toThrow(/profiles\[0\]\.stability\.allowances\[0\]\.allowance: "four hours" is not a duration/);
    writeFileSync(file, withStability(SAMPLE_CONFIG));
    const profile = loadConfig(file).config.profiles[0]!;
    expect(profile.stability).toMatchObject({ total: 5 * 60 * MIN, freeze: { below: 0, maxEvents: 2 }, alertBelow: 85 });
    expect(profile.stability!.allowances[0]).toMatchObject({ id: 'up-to-25', allowance: 4 * 60 * MIN, weighting: 'time' });
  });
});

describe('the ledger arithmetic', () => {
  it('merges an excursion two shipments saw into one, keeps distinct ones as they are, and weights by MKT where asked', () => {
    const merged = mergeExcursions([
      {
        shipmentId: 'A',
        excursions: [excursion('room', 'above', 0, 10 * MIN, 10), excursion('truck', 'above', 60 * MIN, 70 * MIN, 12)],
        placeNames: new Map(),
      },
      // B left the room later: it saw the same excursion run on (overlapping), and one of its own.
      { shipmentId: 'B', excursions: [excursion('room', 'above', 0, 15 * MIN, 11), excursion('van', 'above', 80 * MIN, 85 * MIN, 9)], placeNames: new Map() },
    ]);
    expect(merged.map((e) => [e.locationId, e.shipmentIds, e.durationMs / MIN, e.peak])).toEqual([
      ['room', ['A', 'B'], 15, 11],
      ['truck', ['A'], 10, 12],
      ['van', ['B'], 5, 9],
    ]);
    const profile = loadConfig(
      (() => {
        const dir = mkdtempSync(path.join(tmpdir(), 'cc-stab-'));
        const file = path.join(dir, 'coldchain.yaml');
        writeFileSync(file, withStability(SAMPLE_CONFIG).replace('allowance: 4h }', 'allowance: 4h, weighting: mkt }'));
        return file;
      })(),
    ).config.profiles[0]!;
    const ledger = computeLedger({
      batch: 'L',
      records: [],
      profile,
      parts: [{ shipmentId: 'A', excursions: [excursion('room', 'above', 0, 60 * MIN, 25)], placeNames: new Map() }],
      addBacks: [],
      now: 0,
    });
    // At the band's stated temperature an hour is an hour.
    expect(ledger.allowances[0]!.consumedMs).toBeCloseTo(60 * MIN, 3);
    const cooler = computeLedger({
      batch: 'L',
      records: [],
      profile,
      parts: [{ shipmentId: 'A', excursions: [excursion('room', 'above', 0, 60 * MIN, 15)], placeNames: new Map() }],
      addBacks: [],
      now: 0,
    });
    // At 15 °C with ΔH 83.144 kJ/mol: exp(ΔH/R·(1/298.15 − 1/288.15)) ≈ 0.312.
    expect(cooler.allowances[0]!.consumedMs / (60 * MIN)).toBeCloseTo(Math.exp(10_000 * (1 / 298.15 - 1 / 288.15)), 6);
    expect(cooler.timeOutOfRangeMs).toBe(60 * MIN);
  });
});

/**
 * Issue 17's test, against the real service (influxd, broker, report workers, API, CLI): batch
 * LOT-S is stored in one cold room, split over two waybills, carried in two reefers to two
 * consignees, with an excursion at every place. One ledger, whose consumption is the sum of the
 * excursions as the two shipment reports compute them (the room's, seen by both, once).
 */
describe('one stability budget per batch across storage and every transport leg', () => {
  const suite = serviceSuite(() => ({
    devices: [
      { id: 'room-1', location: 'dc-sh-cold-room-1' },
      { id: 'truck-a', location: 'truck-hu-a12345-box' },
      { id: 'van-b', location: 'truck-hu-b67890-box' },
      { id: 'fridge-a', location: 'hospital-pudong-fridge' },
      { id: 'fridge-b', location: 'clinic-minhang-fridge' },
    ],
    yamlPatch: (yaml) => withStability(yaml).replace('  maxShelve: 24h', '  stability: { every: 2s }\n  maxShelve: 24h'),
    users: ['quinn', 'olga'],
  }));
  const { api, devices } = suite;
  const T0 = Math.floor((Date.now() - 6 * 3_600_000) / (30 * MIN)) * 30 * MIN;
  const at = (minute: number) => T0 + minute * MIN;
  const reports: Record<string, ShipmentReport> = {};
  let tokenFile = '';

  const ledger = async () => {
    const answer = await api('GET', '/api/v1/batches/LOT-S/stability', undefined, suite.ws.apiTokens.viewer);
    expect(answer.status).toBe(200);
    return answer.body as Ledger;
  };
  const stabilityAlerts = () => suite.service.alerts.book.list().filter((a) => a.kind.startsWith('stability_budget'));
  /** Readings every minute from `from` to `to` (exclusive), 5 °C except the excursions. */
  const publish = async (deviceId: string, from: number, to: number, ...outs: Array<{ from: number; to: number; value: number }>) => {
    const readings = Array.from({ length: to - from }, (_, i) => {
      const m = from + i;
      return { ts: at(m), temperature: outs.find((o) => m >= o.from && m < o.to)?.value ?? 5, seq: m };
    });
    await devices.send(deviceId, readings);
    await readingsStored(influxFor(suite.ws), deviceId, (n) => n === to - from, `${deviceId}'s readings in InfluxDB`, 30_000);
  };
  const waybill = (id: string, consignee: string) => vaccineWaybill(id, { batch: 'LOT-S', quantity: 20, consignee });
  const custody = async (id: string, event: string, minute: number, locationId?: string) => {
    const answer = await api('POST', `/api/v1/shipments/${id}/custody`, { event, at: at(minute), ...(locationId ? { locationId } : {}) });
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  };
  const audit = async () => {
    const entries = [];
    for await (const e of readAuditEntries(auditFile(loadConfig(suite.ws.configFile).dataDir))) entries.push(e);
    return entries;
  };

  beforeAll(async () => {
    tokenFile = tokenFileOf(suite.ws, 'admin');
    // The cold room: 15 min at 10 °C while both halves of the batch are in it.
    await publish('room-1', 0, 120, { from: 30, to: 45, value: 10 });
    // Reefer A (SH-1, minutes 60–120): 10 min at 12 °C. Van B (SH-2, minutes 90–170): 20 min at 15 °C.
    await publish('truck-a', 20, 130, { from: 70, to: 80, value: 12 });
    await publish('van-b', 50, 180, { from: 100, to: 120, value: 15 });
    // The hospital's fridge (SH-1 from 120): 10 min at 1 °C. The clinic's (SH-2 from 170): 9 min below 2 °C
    // that went below 0 °C twice (−1 °C, 1 °C, −0.5 °C): one excursion, two freeze events.
    await publish('fridge-a', 100, 210, { from: 140, to: 150, value: 1 });
    await publish('fridge-b', 150, 250, { from: 190, to: 195, value: -1 }, { from: 195, to: 197, value: 1 }, { from: 197, to: 199, value: -0.5 });
    for (const [id, consignee] of [
      ['SH-1', 'Pudong hospital pharmacy'],
      ['SH-2', 'Minhang community clinic'],
    ] as const)
      expect((await api('POST', '/api/v1/shipments', waybill(id, consignee))).status).toBe(201);
    await custody('SH-1', 'stored', 0, 'dc-sh-cold-room-1');
    await custody('SH-2', 'stored', 0, 'dc-sh-cold-room-1');
    await custody('SH-1', 'loaded', 60, 'truck-hu-a12345-box');
    await custody('SH-1', 'unloaded', 120, 'hospital-pudong-fridge');
    await custody('SH-1', 'delivered', 200);
    await custody('SH-2', 'loaded', 90, 'truck-hu-b67890-box');
    await custody('SH-2', 'unloaded', 170, 'clinic-minhang-fridge');
    await custody('SH-2', 'delivered', 240);
    for (const id of ['SH-1', 'SH-2']) reports[id] = (await api('GET', `/api/v1/shipments/${id}/report?format=json`)).body as ShipmentReport;
  }, 180_000);

  it('has one ledger whose consumption equals the sum of the excursions as the shipment reports compute them', async () => {
    // The reports' own excursions: every place of each shipment had one; the cold room's is in both.
    expect(reports['SH-1']!.overall.excursions.map((e) => [e.locationId, e.durationMs / MIN])).toEqual([
      ['dc-sh-cold-room-1', 15],
      ['truck-hu-a12345-box', 10],
      ['hospital-pudong-fridge', 10],
    ]);
    expect(reports['SH-2']!.overall.excursions.map((e) => [e.locationId, e.durationMs / MIN])).toEqual([
      ['dc-sh-cold-room-1', 15],
      ['truck-hu-b67890-box', 20],
      ['clinic-minhang-fridge', 9],
    ]);
    expect(reports['SH-2']!.freezeEntries!.map((e) => [(e.start - T0) / MIN, e.durationMs / MIN])).toEqual([
      [190, 5],
      [197, 2],
    ]);
    // The same excursion (same place, side and time) seen by two shipments of the batch is the batch's once.
    const distinct = new Map<string, Excursion>();
    for (const report of Object.values(reports)) for (const e of report.overall.excursions) distinct.set(`${e.locationId}|${e.band}|${e.start}|${e.end}`, e);
    const sum = (list: Excursion[]) => list.reduce((s, e) => s + e.durationMs, 0);
    const all = [...distinct.values()];

    const l = await ledger();
    expect(l.shipments.map((s) => s.id)).toEqual(['SH-1', 'SH-2']);
    expect(l.excursions).toHaveLength(5);
    expect(l.timeOutOfRangeMs).toBe(sum(all));
    expect(l.timeOutOfRangeMs).toBe(64 * MIN);
    const room = l.excursions.find((e) => e.locationId === 'dc-sh-cold-room-1')!;
    expect(room).toMatchObject({
      shipmentIds: ['SH-1', 'SH-2'],
      durationMs: 15 * MIN,
      placeName: 'Shanghai distribution centre / Cold room 1',
      allowanceId: 'up-to-25',
    });
    // Each allowance consumed exactly the excursions whose worst reading lies in its band.
    const up = l.allowances.find((a) => a.id === 'up-to-25')!;
    const cold = l.allowances.find((a) => a.id === 'cold-0-2')!;
    expect(up.consumedMs).toBe(sum(all.filter((e) => e.band === 'above')));
    expect(cold.consumedMs).toBe(sum(all.filter((e) => e.band === 'below' && e.peak >= 0)));
    expect([up.consumedMs / MIN, up.remainingMs / MIN, up.remainingPercent]).toEqual([45, 195, 81.3]);
    expect([cold.consumedMs / MIN, cold.remainingPercent]).toEqual([10, 91.7]);
    expect(l.total).toMatchObject({ allowanceMs: 300 * MIN, consumedMs: 64 * MIN, remainingMs: 236 * MIN, remainingPercent: 78.7 });
    // The clinic's two dips below 0 °C are two freeze events: the two allowed are used, so the budget is exhausted.
    expect(l.excursions.find((e) => e.locationId === 'clinic-minhang-fridge')).toMatchObject({ freeze: true, freezeEvents: 2, allowanceId: null });
    expect(l.freeze).toEqual({ below: 0, maxEvents: 2, events: 2, addedBack: 0, remaining: 0 });
    expect(l.state).toBe('exhausted');
    expect(l.findings.map((f) => f.code)).toEqual(['allowance_low', 'total_low', 'freeze_exhausted']);
    const list = await api('GET', '/api/v1/batches', undefined, suite.ws.apiTokens.viewer);
    expect(list.body.batches).toEqual([{ batch: 'LOT-S', product: 'Influenza vaccine 0.5 ml', profileId: 'vaccines-2-8', shipments: ['SH-1', 'SH-2'] }]);
    expect((await api('GET', '/api/v1/batches/NO-SUCH/stability')).status).toBe(404);
  });

  it("puts the batch's ledger in each shipment report (JSON, CSV, HTML, PDF; English and Chinese)", async () => {
    for (const id of ['SH-1', 'SH-2']) {
      const s = reports[id]!.stability!;
      expect(s.timeOutOfRangeMs).toBe(64 * MIN);
      expect(s.state).toBe('exhausted');
      expect(reports[id]!.reviewReasons).toContain(
        'stability budget of batch LOT-S used up: allowance up-to-25: 81.3 % left; total: 78.7 % left; no freeze event left',
      );
    }
    const csv = (await api('GET', '/api/v1/shipments/SH-1/report?format=csv&lang=zh-CN')).body as string;
    expect(csv).toContain('批次 LOT-S 的稳定性预算');
    expect(csv).toContain('已用尽——放行前须由质量部门调查');
    expect(csv).toContain('Minhang community clinic / Clinic vaccine fridge');
    const html = (await api('GET', '/api/v1/shipments/SH-2/report?format=html')).body as string;
    expect(html).toContain('Stability budget of batch LOT-S');
    expect(html).toContain('Excursions of the batch (each counted once, however many shipments saw it)');
    expect(html).toContain('SH-1, SH-2');
    const pdf = await fetch(`${suite.base}/api/v1/shipments/SH-1/report?format=pdf&lang=zh-CN`, {
      headers: { Authorization: `Bearer ${suite.ws.apiTokens.viewer}` },
    });
    expect(pdf.status).toBe(200);
    expect(await leadingBytes(pdf)).toBe('%PDF-');
  });

  it("shows the receiver the budget, with other consignees' legs as figures only", async () => {
    const link = await api('POST', '/api/v1/shipments/SH-1/links', { validDays: 7 });
    expect(link.status).toBe(201);
    const page = await fetch(`${link.body.url}?lang=zh-CN`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('批次 LOT-S 的稳定性预算');
    expect(html).toContain('链条中的其他环节（该批次的另一运单）');
    expect(html).not.toContain('SH-2');
    expect(html).not.toContain('Minhang');
    const json = (await (await fetch(`${link.body.url}?format=json`)).json()) as ShipmentReport;
    expect(json.stability!.timeOutOfRangeMs).toBe(64 * MIN);
    expect(json.stability!.shipments.map((s) => s.id)).toEqual(['SH-1']);
  });

  it('raises stability_budget_exhausted at the monitoring-system place of the site where the batch is, in English and Chinese', async () => {
    const alarm = await waitFor(
      async () => stabilityAlerts().find((a) => a.kind === 'stability_budget_exhausted' && a.state === 'active'),
      (a) => a !== undefined,
      30_000,
      'the exhausted alarm',
    );
    expect(alarm).toMatchObject({ deviceId: 'LOT-S', locationId: 'system:clinic-minhang', severity: 'critical', peak: 0, threshold: 85 });
    const incident = suite.service.alerts.incidents.list().find((i) => i.locationId === 'system:clinic-minhang')!;
    const { text } = suite.service.alerts.view(incident);
    expect(text.en.what).toContain('the stability budget of batch LOT-S is used up');
    expect(text.en.where).toBe('Minhang community clinic (Monitoring system); batch: LOT-S');
    expect(text['zh-CN'].what).toContain('批次 LOT-S 的稳定性预算已用尽');
    expect(text['zh-CN'].action).toContain('隔离');
    expect((await audit()).some((e) => e.action === 'stability_alarm.raised' && e.target === 'batch:LOT-S')).toBe(true);
  });

  it('takes a signed add-back after an investigation through the CLI; refuses what cannot be given back; the alarm turns to low', async () => {
    const signed = {
      user: 'quinn',
      password: 'quinn-password-1',
      meaning: 'add-back after investigation',
      comment: 'sensor artefact',
      investigation: 'DEV-2026-031',
    };
    const tooMuch = await api('POST', '/api/v1/batches/LOT-S/stability/add-backs', { ...signed, allowance: 'up-to-25', amount: '2h' });
    expect(tooMuch.status).toBe(409);
    expect(tooMuch.body.message).toBe('amount: 120 min is more than the 45 min consumed and not yet given back in allowance up-to-25');
    const unknown = await api('POST', '/api/v1/batches/LOT-S/stability/add-backs', { ...signed, allowance: 'hot', amount: '10m' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toBe('allowance: profile vaccines-2-8 has no allowance "hot"; known: up-to-25, cold-0-2');
    const nothing = await api('POST', '/api/v1/batches/LOT-S/stability/add-backs', { ...signed, investigation: 'DEV-1' });
    expect(nothing.status).toBe(400);
    expect(nothing.body.message).toContain('body.amount: give back some time (amount) or some freeze events (freezeEvents)');
    const operator = await api('POST', '/api/v1/batches/LOT-S/stability/add-backs', { ...signed, user: 'olga', password: 'olga-password-1', freezeEvents: 1 });
    expect(operator.status).toBe(403);
    const wrong = await api('POST', '/api/v1/batches/LOT-S/stability/add-backs', { ...signed, password: 'not-the-password', freezeEvents: 1 });
    expect(wrong.status).toBe(401);
    const viewer = await api('POST', '/api/v1/batches/LOT-S/stability/add-backs', { ...signed, freezeEvents: 1 }, suite.ws.apiTokens.viewer);
    expect(viewer.status).toBe(403);

    const args = ['batch', 'add-back', 'LOT-S', '--freeze-events', '1', '--investigation', 'DEV-2026-031', '--user', 'quinn'];
    const sign = [
      '--comment',
      'the fridge probe touched the evaporator; product temperature stayed above 0 °C',
      '--url',
      suite.base,
      '--token-file',
      tokenFile,
    ];
    const added = await run(process.execPath, [CLI, ...args, ...sign, '--lang', 'en'], 'quinn-password-1\n', 60_000);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toMatch(/^add-back AB-[0-9A-F]{8} recorded, signed by Quinn QA \/ 已记录补回 AB-[0-9A-F]{8}，签名人 Quinn QA$/m);
    expect(added.stdout).toContain('Budget: running low; allowance up-to-25: 81.3 % left; total: 78.7 % left');
    expect(added.stdout).toContain('2 of 2 allowed; 1 given back; 1 left');
    const l = await ledger();
    expect(l.state).toBe('low');
    expect(l.addBacks).toEqual([expect.objectContaining({ investigation: 'DEV-2026-031', freezeEvents: 1, amountMs: 0, printedName: 'Quinn QA' })]);
    // Consumption is unchanged: an add-back is QA's decision beside the record, not a change to it.
    expect(l.timeOutOfRangeMs).toBe(64 * MIN);
    await waitFor(
      async () => stabilityAlerts().map((a) => [a.kind, a.state].join(' ')),
      (states) => states.includes('stability_budget_exhausted cleared') && states.includes('stability_budget_low active'),
      30_000,
      'exhausted to clear and low to be raised',
    );
    const entry = (await audit()).find((e) => e.action === 'stability.add_back')!;
    expect(entry).toMatchObject({ actor: 'quinn', printedName: 'Quinn QA', target: 'batch:LOT-S' });
    expect((await audit()).some((e) => e.action === 'signature.refused' && e.target === 'batch:LOT-S')).toBe(true);
    const shown = await run(process.execPath, [CLI, 'batch', 'stability', 'LOT-S', '--lang', 'zh-CN', '--url', suite.base, '--token-file', tokenFile]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('批次 LOT-S 的稳定性预算');
    expect(shown.stdout).toContain('DEV-2026-031');
  });

  it('keeps the add-back across a restart (a fact in InfluxDB, read back at start)', async () => {
    await suite.restart();
    const l = await ledger();
    expect(l.freeze).toMatchObject({ events: 2, addedBack: 1, remaining: 1 });
    expect(l.addBacks.map((a) => a.investigation)).toEqual(['DEV-2026-031']);
    expect(l.state).toBe('low');
  });
});
