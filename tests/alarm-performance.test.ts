import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../app/service.js';
import type { AlertKind } from '../core/config/alert-rules.js';
import { alertSchema, type Alert, type AlertEvent } from '../alerts/book.js';
import type { Incident } from '../alerts/incident.js';
import { alarmPerformanceSchema, computeAlarmPerformance, type ShelfEvent as IncidentEvent } from '../alerts/kpi.js';
import { connectDevice, makeWorkspace, run, startTestService, tokenFileOf, unlimitedRate, waitFor, withUsers, type Workspace } from './helpers/workspace.js';
import { testAlert } from './helpers/alarms.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
// A fixed clock: 10:05 is not on a 10-minute boundary, which the flood test relies on.
const T0 = Date.parse('2026-03-02T10:05:00Z');
const FROM = T0 - 3 * DAY;
const TO = T0 + 4 * DAY;

let serial = 0;
function alert(over: Partial<Alert> & { at: number }): Alert {
  const { at, ...rest } = over;
  return alertSchema.parse(
    testAlert({
      id: `al_${++serial}`,
      kind: 'temperature_high',
      severity: 'major',
      state: 'active',
      siteId: 'site-a',
      locationId: 'room-1',
      deviceId: 'dev-1',
      occurredAt: at,
      activatedAt: at,
      detectedAt: at,
      threshold: 8,
      peak: 9,
      incidentId: null,
      tier: 0,
      ...rest,
    }),
  );
}
const event = (a: Alert, type: AlertEvent['event'], at: number, change: Partial<Alert> = {}): AlertEvent => ({
  alertId: a.id,
  event: type,
  at,
  actor: 'system',
  alert: { ...a, ...change },
});
/** An alert activated at `at` (its activated event only). */
const raised = (at: number, over: Partial<Alert> = {}) => event(alert({ at, ...over }), 'activated', at);
const report = (alertEvents: AlertEvent[], extra: Partial<Parameters<typeof computeAlarmPerformance>[0]> = {}) =>
  computeAlarmPerformance({ alertEvents, from: FROM, to: TO, now: TO, ...extra });

describe('alarm performance: the computation', () => {
  it('finds floods on a sliding window (a burst across a 10-minute boundary too), not 10 alarms in 10 minutes', () => {
    // 12 at site-a from 10:07 to 10:12:30 (6 before 10:10, 6 after): a fixed-bin count would see 6 + 6.
    const B = T0 + 2 * MIN;
    const burst = Array.from({ length: 12 }, (_, i) => raised(B + i * 30_000, { deviceId: `dev-${i}` }));
    // Exactly 10 in 10 minutes at site-b: busy, not a flood.
    const busy = Array.from({ length: 10 }, (_, i) => raised(T0 + 2 * HOUR + i * 55_000, { siteId: 'site-b', locationId: 'dock' }));
    // 11 at site-a over 9 minutes, a day later: a second flood.
    const second = Array.from({ length: 11 }, (_, i) => raised(T0 + DAY + HOUR + i * 54_000, { deviceId: `dev-${i}`, kind: 'door_open' }));
    const r = report([...burst, ...busy, ...second]);
    expect(r.floods).toEqual([
      // The window from the second alarm still holds 11, so the flood lasts until 10 minutes after it.
      { siteId: 'site-a', start: B, end: B + 30_000 + 10 * MIN, alarms: 12 },
      { siteId: 'site-a', start: T0 + DAY + HOUR, end: T0 + DAY + HOUR + 10 * MIN, alarms: 11 },
    ]);
    const a = r.sites.find((s) => s.siteId === 'site-a')!;
    const b = r.sites.find((s) => s.siteId === 'site-b')!;
    expect(a).toMatchObject({ alarms: 23, floods: 2, perTenMinutes: { peak: 12 }, perDay: { peak: 12 } });
    expect(b).toMatchObject({ alarms: 10, floods: 0, perTenMinutes: { peak: 10 } });
    expect(r.total.alarms).toBe(33);
    // 7 days = 1008 ten-minute periods.
    expect(a.perTenMinutes.average).toBeCloseTo(23 / 1008, 4);
    expect(a.perDay.average).toBeCloseTo(23 / 7, 4);
    expect(a.floodTimeShare).toBeCloseTo((10.5 * MIN + 10 * MIN) / (7 * DAY), 4);
    expect(a.assessment).toBe('acceptable');
  });

  it('rates the load against ISA-18.2: 200 a day is manageable, 400 is over-demanding', () => {
    const oneDay = { from: T0, to: T0 + DAY, now: T0 + DAY };
    const spread = (n: number) => Array.from({ length: n }, (_, i) => raised(T0 + Math.floor((i * DAY) / n)));
    expect(report(spread(140), oneDay).total.assessment).toBe('acceptable');
    expect(report(spread(200), oneDay).total.assessment).toBe('manageable');
    expect(report(spread(400), oneDay).total).toMatchObject({ assessment: 'over_demanding', floods: 0, perDay: { average: 400, peak: 400 } });
  });

  it('counts an alert once however often it is re-activated, and only alarms raised in the period', () => {
    const a = alert({ at: T0 });
    const before = raised(FROM - HOUR);
    const after = raised(TO + MIN);
    const r = report([
      event(a, 'pending', T0 - MIN, { state: 'pending' }),
      event(a, 'activated', T0),
      event(a, 'cleared', T0 + MIN, { state: 'cleared', clearedAt: T0 + MIN }),
      event(a, 'activated', T0 + 2 * MIN, { relapses: 1 }),
      before,
      after,
    ]);
    expect(r.total.alarms).toBe(1);
    expect(r.topAlarms).toEqual([{ siteId: 'site-a', locationId: 'room-1', kind: 'temperature_high', alarms: 1, share: 1, deviceIds: ['dev-1'] }]);
  });

  it('ranks the top 10 by place and kind, with counts and shares', () => {
    const events: AlertEvent[] = [];
    // Place p0 has 12 alarms from two sensors, p1 has 11, … p11 has 1: 78 in all.
    for (let p = 0; p < 12; p++) {
      for (let n = 0; n < 12 - p; n++)
        events.push(
          raised(T0 + (p * 12 + n) * HOUR, { locationId: `p${p}`, deviceId: `p${p}-dev-${n % 2}`, kind: p % 2 ? 'temperature_low' : 'temperature_high' }),
        );
    }
    const r = report(events, { from: T0, to: T0 + 30 * DAY, now: T0 + 30 * DAY });
    expect(r.total.alarms).toBe(78);
    expect(r.topAlarms).toHaveLength(10);
    expect(r.topAlarms.map((t) => [t.locationId, t.kind, t.alarms])).toEqual(
      Array.from({ length: 10 }, (_, p) => [`p${p}`, p % 2 ? 'temperature_low' : 'temperature_high', 12 - p]),
    );
    expect(r.topAlarms[0]).toMatchObject({ share: Math.round((12 / 78) * 1e4) / 1e4, deviceIds: ['p0-dev-0', 'p0-dev-1'] });
    expect(r.topAlarms[9]).toMatchObject({ alarms: 3, deviceIds: ['p9-dev-0', 'p9-dev-1'] });
  });

  it('lists chattering alerts (flagged or relapsing 3+ times) and sensors activating 3+ times in 10 minutes', () => {
    const flagged = raised(T0, { deviceId: 'flagged', chattering: true, relapses: 2 });
    const relapsing = raised(T0, { deviceId: 'relapsing', relapses: 3 });
    const calm = raised(T0, { deviceId: 'calm', relapses: 2 });
    // Three alerts of one sensor and kind within 9 minutes, and three of another spread over 25.
    const fast = [0, 4, 9].map((m) => raised(T0 + HOUR + m * MIN, { deviceId: 'door-1', kind: 'door_open', locationId: 'dock' }));
    const slow = [0, 12, 25].map((m) => raised(T0 + HOUR + m * MIN, { deviceId: 'door-2', kind: 'door_open', locationId: 'dock' }));
    // Same sensor, different kinds: no pair.
    const mixed = (['temperature_high', 'temperature_warning_high', 'humidity_high'] as AlertKind[]).map((kind, i) =>
      raised(T0 + 2 * HOUR + i * MIN, { deviceId: 'mixed', kind }),
    );
    const r = report([flagged, relapsing, calm, ...fast, ...slow, ...mixed]);
    expect(r.chattering.alerts.map((a) => [a.deviceId, a.relapses, a.flagged])).toEqual([
      ['relapsing', 3, false],
      ['flagged', 2, true],
    ]);
    expect(r.chattering.pairs).toEqual([
      { siteId: 'site-a', locationId: 'dock', kind: 'door_open', deviceId: 'door-1', activations: 3, windowStart: T0 + HOUR },
    ]);
  });

  it('a relapse that re-activates the same alert counts toward a chattering sensor', () => {
    const a = alert({ at: T0, deviceId: 'flappy' });
    const events = [0, 3, 6].flatMap((m, i) => [
      event(a, 'activated', T0 + m * MIN, { relapses: i }),
      event(a, 'cleared', T0 + (m + 1) * MIN, { state: 'cleared', clearedAt: T0 + (m + 1) * MIN, relapses: i }),
    ]);
    const r = report(events);
    expect(r.total.alarms).toBe(1);
    expect(r.chattering.pairs).toEqual([expect.objectContaining({ deviceId: 'flappy', activations: 3 })]);
  });

  it('finds alarms active more than 24 h at the end of the period, acknowledged or not', () => {
    const end = TO;
    const old = alert({ at: end - 30 * HOUR, deviceId: 'old' });
    const acked = alert({ at: end - 48 * HOUR, deviceId: 'acked' });
    const young = alert({ at: end - 20 * HOUR, deviceId: 'young' });
    const cleared = alert({ at: end - 50 * HOUR, deviceId: 'cleared' });
    const clearsLater = alert({ at: end - 26 * HOUR, deviceId: 'clears-later' });
    const ack = { by: 'olga', printedName: 'Olga Operator', at: end - 47 * HOUR, meaning: 'acknowledged', comment: 'on it' };
    const events = [
      event(old, 'activated', old.activatedAt!),
      event(acked, 'activated', acked.activatedAt!),
      event(acked, 'acknowledged', ack.at, { state: 'acknowledged', acknowledged: ack }),
      event(young, 'activated', young.activatedAt!),
      event(cleared, 'activated', cleared.activatedAt!),
      event(cleared, 'cleared', end - 40 * HOUR, { state: 'cleared', clearedAt: end - 40 * HOUR }),
      event(clearsLater, 'activated', clearsLater.activatedAt!),
      // After the period: at its end the alarm was still standing.
      event(clearsLater, 'cleared', end + HOUR, { state: 'cleared', clearedAt: end + HOUR }),
    ];
    const r = report(events, { now: end + 2 * HOUR });
    expect(r.stale.map((s) => [s.deviceId, s.state, s.activeForMs])).toEqual([
      ['acked', 'acknowledged', 48 * HOUR],
      ['old', 'active', 30 * HOUR],
      ['clears-later', 'active', 26 * HOUR],
    ]);
    // A period ending in the future is judged at now: 28 h for the acknowledged one, 6 h for another.
    expect(report(events, { now: end - 20 * HOUR }).stale.map((s) => [s.deviceId, s.activeForMs])).toEqual([['acked', 28 * HOUR]]);
  });

  it('times acknowledgement: median, 90th percentile, share within 15 minutes (alarms younger than 15 minutes wait)', () => {
    const now = TO;
    const events: AlertEvent[] = [];
    for (const [i, minutes] of [2, 4, 10, 20, 40].entries()) {
      const a = alert({ at: T0 + i * HOUR });
      const ack = { by: 'olga', printedName: 'Olga Operator', at: T0 + i * HOUR + minutes * MIN, meaning: 'acknowledged', comment: 'x' };
      events.push(event(a, 'activated', T0 + i * HOUR), event(a, 'acknowledged', ack.at, { state: 'acknowledged', acknowledged: ack }));
    }
    events.push(raised(T0 + 10 * HOUR)); // never acknowledged: late
    events.push(raised(now - 5 * MIN)); // five minutes old: not yet due
    const r = report(events, { now });
    expect(r.acknowledgement).toEqual({ alarms: 7, acknowledged: 5, medianMs: 10 * MIN, p90Ms: 32 * MIN, withinTarget: 3, withinTargetShare: 0.5 });
    expect(report([], { now }).acknowledgement).toEqual({ alarms: 0, acknowledged: 0, medianMs: null, p90Ms: null, withinTarget: 0, withinTargetShare: null });
  });

  it('counts incidents shelved in the period and shelved now (expired, unshelved and closed ones are not)', () => {
    const incident = (id: string, shelved: Incident['shelved'], state: Incident['state'] = 'active', siteId = 'site-a') => ({
      id,
      siteId,
      locationId: 'room-1',
      state,
      shelved,
    });
    const shelf = (at: number, until: number) => ({ by: 'olga', printedName: 'Olga Operator', at, until, reason: 'sensor being replaced' });
    const incidentEvents: IncidentEvent[] = [
      { incidentId: 'i1', event: 'shelved', at: T0, incident: incident('i1', shelf(T0, T0 + 8 * HOUR)) },
      { incidentId: 'i1', event: 'unshelved', at: T0 + HOUR, incident: incident('i1', null) },
      { incidentId: 'i2', event: 'shelved', at: TO - HOUR, incident: incident('i2', shelf(TO - HOUR, TO + 5 * HOUR)) },
      { incidentId: 'i3', event: 'shelved', at: FROM - 2 * HOUR, incident: incident('i3', shelf(FROM - 2 * HOUR, FROM - HOUR)) },
      { incidentId: 'i4', event: 'shelved', at: T0, incident: incident('i4', shelf(T0, TO + HOUR)) },
      { incidentId: 'i4', event: 'closed', at: T0 + HOUR, incident: incident('i4', shelf(T0, TO + HOUR), 'closed') },
      { incidentId: 'i5', event: 'shelved', at: T0, incident: incident('i5', shelf(T0, TO + HOUR), 'active', 'site-b') },
    ];
    const r = report([], { incidentEvents });
    expect(r.shelved).toMatchObject({ inPeriod: 4, current: 2 });
    expect(r.shelved.incidents.map((i) => i.incidentId)).toEqual(['i5', 'i2']);
    expect(report([], { incidentEvents, siteId: 'site-a' }).shelved).toMatchObject({ inPeriod: 3, current: 1 });
    expect(report([]).shelved).toEqual({ inPeriod: 0, current: 0, incidents: [] });
  });

  it('a site filter keeps that site only, listed even without alarms; known sites get zero rows', () => {
    const events = [raised(T0), raised(T0, { siteId: 'site-b' })];
    const r = report(events, { siteId: 'site-c', knownSites: ['site-a', 'site-b', 'site-c'] });
    expect(r.sites).toEqual([expect.objectContaining({ siteId: 'site-c', alarms: 0, assessment: 'acceptable' })]);
    expect(r.total.alarms).toBe(0);
    expect(report(events, { knownSites: ['site-a', 'site-b', 'site-c'] }).sites.map((s) => [s.siteId, s.alarms])).toEqual([
      ['site-a', 1],
      ['site-b', 1],
      ['site-c', 0],
    ]);
    expect(alarmPerformanceSchema.safeParse(r).success).toBe(true);
  });
});

describe('alarm performance: the running service, API and CLI', () => {
  let ws: Workspace;
  let service: RunningService;
  const base = () => `http://127.0.0.1:${service.httpPort}`;
  const get = (query: string, token = ws.apiTokens.viewer) =>
    fetch(`${base()}/api/v1/alarms/performance${query}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });

  beforeAll(async () => {
    const users = await withUsers('olga');
    ws = makeWorkspace({
      // A long reporting interval: the test must not also raise "sensor not reporting".
      devices: ['room-1', 'room-2'].map((id) => ({ id, location: 'dc-sh-cold-room-1', interval: '30m' })),
      yamlPatch: (yaml) =>
        users(
          unlimitedRate(yaml).replace(
            '    temperature: { min: 2, max: 8 }\n',
            '    temperature: { min: 2, max: 8 }\n    alerts: { activationDelay: 0s, warningBand: 0 }\n',
          ),
        ),
    });
    service = await startTestService(ws);
  });
  afterAll(async () => {
    await service?.stop();
  });

  it('two real excursions show in the report: counts, top alarm, acknowledgement, a shelved incident', async () => {
    const start = Date.now() - 5 * MIN;
    for (const id of ['room-1', 'room-2']) {
      const device = await connectDevice(service.mqttPort!, id, ws.deviceTokens[id]!);
      await device.publishAsync(`cc/v1/${id}/telemetry`, JSON.stringify([0, 1, 2, 3].map((i) => ({ ts: start + i * MIN, temperature: 9.5 }))), { qos: 1 });
      await device.endAsync();
    }
    const alerts = await waitFor(
      async () =>
        ((await (await fetch(`${base()}/api/v1/alerts`, { headers: { Authorization: `Bearer ${ws.apiTokens.viewer}` } })).json()).alerts as Alert[]).filter(
          (a) => a.kind === 'temperature_high',
        ),
      (list) => list.length === 2 && list.every((a) => a.state === 'active'),
      15_000,
      'two active temperature alarms',
    );
    const room1 = alerts.find((a) => a.deviceId === 'room-1')!;
    const ack = await fetch(`${base()}/api/v1/alerts/${room1.id}/ack`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ws.apiTokens.admin}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ user: 'olga', password: 'olga-password-1', meaning: 'acknowledged', comment: 'door closed' }),
    });
    expect(ack.status).toBe(200);

    // The two sensors' alarms are one incident in the cold room; an operator shelves it (e-signed).
    const incidentId = (await waitFor(
      async () =>
        ((await (await fetch(`${base()}/api/v1/alerts`, { headers: { Authorization: `Bearer ${ws.apiTokens.viewer}` } })).json()).alerts as Alert[]).find(
          (a) => a.id === room1.id,
        )?.incidentId,
      Boolean,
      10_000,
      'the incident',
    ))!;
    const shelve = await fetch(`${base()}/api/v1/incidents/${incidentId}/shelve`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ws.apiTokens.admin}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ user: 'olga', password: 'olga-password-1', meaning: 'shelved', comment: 'probe being replaced', duration: '1h' }),
    });
    expect(shelve.status).toBe(200);

    const body = await waitFor(
      async () => alarmPerformanceSchema.parse(await (await get('')).json()),
      (r) => r.total.alarms === 2 && r.acknowledgement.acknowledged === 1 && r.shelved.current === 1,
      15_000,
      'the stored alert events in the report',
    );
    expect(body.period.to - body.period.from).toBe(7 * DAY);
    expect(body.siteId).toBeNull();
    expect(body.sites.map((s) => [s.siteId, s.alarms])).toEqual([
      ['dc-shanghai', 2],
      ['hospital-pudong', 0],
      ['truck-hu-a12345', 0],
    ]);
    expect(body.topAlarms).toEqual([
      { siteId: 'dc-shanghai', locationId: 'dc-sh-cold-room-1', kind: 'temperature_high', alarms: 2, share: 1, deviceIds: ['room-1', 'room-2'] },
    ]);
    expect(body.total).toMatchObject({ perTenMinutes: { peak: 2 }, floods: 0, assessment: 'acceptable' });
    expect(body.floods).toEqual([]);
    expect(body.stale).toEqual([]);
    expect(body.acknowledgement).toMatchObject({ alarms: 2, acknowledged: 1 });
    expect(body.acknowledgement.medianMs).toBeLessThan(15_000);
    expect(body.shelved).toMatchObject({ inPeriod: 1, current: 1, incidents: [expect.objectContaining({ incidentId, reason: 'probe being replaced' })] });

    const truck = alarmPerformanceSchema.parse(await (await get('?site=truck-hu-a12345')).json());
    expect(truck).toMatchObject({ siteId: 'truck-hu-a12345', total: { alarms: 0 }, topAlarms: [], shelved: { inPeriod: 0 } });
    expect(truck.sites.map((s) => s.siteId)).toEqual(['truck-hu-a12345']);
    // A period before the alarms holds none of them.
    expect(alarmPerformanceSchema.parse(await (await get(`?from=${start - 2 * DAY}&to=${start - DAY}`)).json()).total.alarms).toBe(0);
  });

  it('names every problem with the query, and needs a signed-in caller', async () => {
    const unknown = await get('?site=nowhere');
    expect(unknown.status).toBe(400);
    expect((await unknown.json()).message).toBe('query.site: no site "nowhere"; known sites: dc-shanghai, truck-hu-a12345, hospital-pudong');
    const bad = await get('?from=yesterday');
    expect((await bad.json()).message).toMatch(/^query\.from: must be epoch milliseconds or ISO 8601 with a zone/);
    const backwards = await get('?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z');
    expect(backwards.status).toBe(400);
    expect((await backwards.json()).message).toBe('query.from: from must be before to');
    const long = await get('?from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z');
    expect((await long.json()).message).toBe('query.from: the period may be at most 366 days');
    expect((await get('', '')).status).toBe(401);
  });

  it('coldchain alerts performance prints names and words, or the JSON', async () => {
    const main = path.resolve('dist/cli/main.js');
    const tokenFile = tokenFileOf(ws, 'viewer');
    const common = ['--config', ws.configFile, '--url', base(), '--token-file', tokenFile];
    const text = await run(process.execPath, [main, 'alerts', 'performance', ...common]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^Alarm performance \(ANSI\/ISA-18\.2\), all sites: .* \(7 days\)$/m);
    expect(text.stdout).toMatch(/^ {2}Shanghai distribution centre +2 +0\.29 +2 +0\.002 +2 +0 +0 % +acceptable$/m);
    expect(text.stdout).toMatch(/^ {2}1 +Shanghai distribution centre · Cold room 1 +Temperature above range +2 +100 %$/m);
    expect(text.stdout).toContain('Shelved: 1 incident shelved in the period, 1 shelved now');
    expect(text.stdout).toMatch(/Time to acknowledge: 1 of 2 alarms acknowledged; median \d+ s/);
    expect(text.stdout).not.toContain('dc-sh-cold-room-1');

    const json = await run(process.execPath, [main, 'alerts', 'performance', '--json', '--site', 'dc-shanghai', '--days', '1', ...common]);
    expect(json.code, json.stderr).toBe(0);
    const parsed = alarmPerformanceSchema.parse(JSON.parse(json.stdout));
    expect(parsed).toMatchObject({ siteId: 'dc-shanghai', period: { days: 1 }, total: { alarms: 2 } });

    const wrong = await run(process.execPath, [main, 'alerts', 'performance', '--site', 'nowhere', ...common]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('400: query.site: no site "nowhere"');
    const days = await run(process.execPath, [main, 'alerts', 'performance', '--days', '0', ...common]);
    expect(days.code).not.toBe(0);
    expect(days.stderr).toContain('expected a number of days');
  });
});
