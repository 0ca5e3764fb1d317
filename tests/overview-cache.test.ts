import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compactOverviewSchema, overviewSchema, type CompactOverview, type Overview, type Sparklines } from '../live/overview.js';
import { OVERVIEW_SHARE_MS } from '../live/overview-answers.js';
import { expandOverview } from '../live/compact-overview.js';
import { decodeSparkline, encodeSparkline } from '../live/sparkline.js';
import type { RunningService } from '../app/service.js';
import { ManagedInfluxd } from '../storage/influxd.js';
import { excursionReadings } from './helpers/alarms.js';
import {
  connectDevice,
  makeWorkspace,
  readingCount,
  startTestService,
  testLog,
  unlimitedRate,
  waitFor,
  influxFor,
  type Workspace,
} from './helpers/workspace.js';

/**
 * The board's overview from memory (issue 15, item 4), against the real service and its own
 * influxd: last readings are read from InfluxDB once after a start, then follow ingestion, so
 * the board still shows what the sensors send while InfluxDB is down.
 */
describe('board overview: last readings kept in memory', () => {
  let influxd: ManagedInfluxd;
  let ws: Workspace;
  let service: RunningService | undefined;
  const clients: MqttClient[] = [];

  const get = async <T>(path: string): Promise<{ status: number; body: T }> => {
    const response = await fetch(`http://127.0.0.1:${service!.httpPort}${path}`, { headers: { Authorization: `Bearer ${ws.apiTokens.viewer}` } });
    return { status: response.status, body: (await response.json()) as T };
  };
  const overview = () => get<Overview>('/api/v1/overview');
  const deviceOf = (o: Overview, deviceId: string) => o.sites.flatMap((s) => s.locations.flatMap((l) => l.devices)).find((d) => d.id === deviceId);
  const lastOf = (o: Overview, deviceId: string) => deviceOf(o, deviceId)?.last ?? null;
  // 5-minute buckets (the 6-hour sparkline's): two readings in the first, none in the second.
  const STEP = 300_000;
  const base = Math.floor((Date.now() - 2 * 3_600_000) / STEP) * STEP;
  const history: Array<[number, number]> = [
    [base + 10_000, 4.21],
    [base + 70_000, 4.33],
    [base + 2 * STEP + 5_000, 5.04],
    [base + 3 * STEP, 2.64],
    [base + 5 * STEP + 299_000, 7.77],
  ];
  const publish = async (ts: number, temperature: number) => {
    const client = await connectDevice(service!.mqttPort!, 'room-1', ws.deviceTokens['room-1']!);
    clients.push(client);
    await client.publishAsync('cc/v1/room-1/telemetry', JSON.stringify({ ts, temperature, humidity: 50 }), { qos: 1 });
    await client.endAsync();
  };

  beforeAll(async () => {
    influxd = new ManagedInfluxd({ dataDir: mkdtempSync(path.join(tmpdir(), 'cc-overview-influxd-')), log: testLog });
    await influxd.start();
    ws = makeWorkspace({ devices: ['room-1', 'room-2', 'room-3'], yamlPatch: unlimitedRate });
    // room-3's last two hours, written as the writer would, before any start: its sparkline to check.
    const influx = influxFor(ws, influxd.url);
    await influx.ensureDatabase(1830 * 86_400_000);
    await influx.write(history.map(([ts, temperature]) => `readings,deviceId=room-3 temperature=${temperature} ${ts}000000`).join('\n'));
  });
  afterAll(async () => {
    for (const c of clients) c.end(true);
    await service?.stop();
    await influxd.stop();
  });

  it('after a restart, the last reading comes from InfluxDB; a device that never sent has none', async () => {
    service = await startTestService(ws, { influxUrl: influxd.url });
    const t1 = Date.now() - 60_000;
    await publish(t1, 4.2);
    await waitFor(
      () => readingCount(influxFor(ws, influxd.url), 'room-1'),
      (n) => n === 1,
      20_000,
      'the reading in InfluxDB',
    );
    await service.stop();
    service = await startTestService(ws, { influxUrl: influxd.url });
    const first = await overview();
    expect(first.status).toBe(200);
    expect(lastOf(first.body, 'room-1')).toMatchObject({ ts: t1, temperature: 4.2, humidity: 50 });
    expect(lastOf(first.body, 'room-2')).toBeNull();
    // The sparkline comes as start, step and values rounded as the tile shows them (0.1 °C), and
    // decodes to InfluxDB's 5-minute means: a bucket without readings is left out, not drawn as 0.
    expect(deviceOf(first.body, 'room-3')?.sparkline).toEqual({ from: base, stepMs: STEP, values: [4.3, null, 5, 2.6, null, 7.8] });
    expect(decodeSparkline(deviceOf(first.body, 'room-3')!.sparkline!)).toEqual({
      ts: [base, base + 2 * STEP, base + 3 * STEP, base + 5 * STEP],
      values: [4.3, 5, 2.6, 7.8],
    });
    expect(deviceOf(first.body, 'room-2')?.sparkline?.values).toEqual([]);

    // The board asks for the overview without them, and for them alone once its tiles are drawn.
    const bare = await get<Overview>('/api/v1/overview?sparklines=false');
    expect(bare.status).toBe(200);
    expect(deviceOf(bare.body, 'room-3')).toMatchObject({ sparkline: null, last: { ts: history[4]![0] } });
    const alone = await get<Sparklines>('/api/v1/overview/sparklines?hours=6');
    expect(alone.status).toBe(200);
    expect(alone.body).toEqual({
      hours: 6,
      sparklines: {
        'room-1': deviceOf(first.body, 'room-1')?.sparkline,
        'room-2': { from: 0, stepMs: STEP, values: [] },
        'room-3': deviceOf(first.body, 'room-3')?.sparkline,
      },
    });
    expect((await get<{ message: string }>('/api/v1/overview?sparklines=no')).status).toBe(400);

    // The compact form the board asks for first leaves out nulls and empty records, and reads back
    // as the same overview (but for when it was made).
    const compact = await get<CompactOverview>('/api/v1/overview?sparklines=false&compact=true');
    expect(compact.status).toBe(200);
    const devices = compact.body.sites.flatMap((s) => s.locations.flatMap((l) => l.devices));
    expect(devices.find((d) => d.id === 'room-2')).toEqual({ id: 'room-2', name: 'room-2', intervalMs: expect.any(Number) });
    expect(devices.find((d) => d.id === 'room-1')?.last).toEqual({ ts: t1, temperature: 4.2, humidity: 50, receivedAt: expect.any(Number) });
    const sensors = (o: { sites: Array<{ locations: Array<{ devices: object[] }> }> }) =>
      JSON.stringify(o.sites.flatMap((x) => x.locations.flatMap((l) => l.devices))).length;
    expect(sensors(compact.body)).toBeLessThan(sensors(bare.body) / 2);
    // Read back in place (the board's first tiles do not wait for a copy).
    expect({ ...expandOverview(compact.body), generatedAt: 0 }).toEqual({ ...bare.body, generatedAt: 0 });
  });

  it('clients asking at once share one build and one body; a later reading is in the overview within the sharing window', async () => {
    // Twenty board clients polling: one build of the sensors for all of them, not one each.
    const raw = () => fetch(`http://127.0.0.1:${service!.httpPort}/api/v1/overview?hours=6`, { headers: { Authorization: `Bearer ${ws.apiTokens.viewer}` } });
    const responses = await Promise.all(Array.from({ length: 20 }, raw));
    const bodies = await Promise.all(responses.map((r) => r.text()));
    expect(responses.every((r) => r.status === 200 && r.headers.get('content-type') === 'application/json; charset=utf-8')).toBe(true);
    expect(new Set(bodies).size).toBe(1);
    // The spliced body is the overview the schema describes (the compact one too).
    const shared = overviewSchema.parse(JSON.parse(bodies[0]!));
    expect(deviceOf(shared, 'room-3')?.sparkline?.values.length).toBeGreaterThan(0);
    const compact = await get<CompactOverview>('/api/v1/overview?sparklines=false&compact=true');
    expect(compactOverviewSchema.parse(compact.body).sites.length).toBe(shared.sites.length);

    // A reading accepted after that build shows once the window is over (the stream brings it sooner).
    // Between the first test's reading (a minute ago) and the next test's (30 s ago): newest when sent, older than those after.
    const t = Date.now() - 45_000;
    await publish(t, 4.8);
    const accepted = Date.now();
    const seen = await waitFor(overview, (o) => lastOf(o.body, 'room-1')?.ts === t, 10_000, 'the new reading on the shared overview');
    expect(Date.now() - accepted).toBeLessThan(OVERVIEW_SHARE_MS + 1_000);
    expect(seen.body.generatedAt).toBeGreaterThan(shared.generatedAt);
  });

  it('an alarm change is in the next overview at once, shared sensors or not', async () => {
    // Its sensors part is shared for the next second.
    expect((await overview()).status).toBe(200);
    const device = await connectDevice(service!.mqttPort!, 'room-2', ws.deviceTokens['room-2']!);
    clients.push(device);
    await device.publishAsync('cc/v1/room-2/telemetry', JSON.stringify(excursionReadings(Date.now() - 26 * 60_000)), { qos: 1 });
    const alerts = async () =>
      (await get<{ alerts: Array<{ id: string; deviceId: string; state: string; incidentId: string }> }>('/api/v1/alerts')).body.alerts.filter(
        (a) => a.deviceId === 'room-2' && a.state === 'active',
      );
    const [alert] = await waitFor(alerts, (a) => a.length > 0, 10_000, 'the excursion alert');
    // No waiting: the open alarms are made afresh after any change, whatever the sensors' age.
    const after = await overview();
    expect(after.body.alerts.map((a) => a.id)).toContain(alert!.id);
    expect(after.body.incidents.map((i) => i.id)).toContain(alert!.incidentId);
    await device.endAsync();
  });

  it('a sparkline decodes to the points it was made of', () => {
    const points: Array<[number, number]> = [
      [base, 4.3],
      [base + 4 * STEP, -18.2],
      [base + 5 * STEP, 0],
    ];
    expect(decodeSparkline(encodeSparkline(points, STEP))).toEqual({ ts: points.map(([ts]) => ts), values: points.map(([, v]) => v) });
    expect(decodeSparkline(encodeSparkline([], STEP))).toEqual({ ts: [], values: [] });
  });

  it('follows new readings without asking InfluxDB: with InfluxDB stopped the board still shows the newest reading', async () => {
    const t2 = Date.now() - 30_000;
    await publish(t2, 5.1);
    await waitFor(
      async () => lastOf((await overview()).body, 'room-1')?.ts,
      (ts) => ts === t2,
      10_000,
      'the new reading on the overview',
    );

    await influxd.stop();
    const t3 = Date.now();
    // PUBACK still comes: the reading is on disk in the spool.
    await publish(t3, 5.3);
    const during = await waitFor(overview, (o) => o.status === 200 && lastOf(o.body, 'room-1')?.ts === t3, 10_000, 'the reading sent during the outage');
    expect(lastOf(during.body, 'room-1')).toMatchObject({ temperature: 5.3 });
    // An older reading arriving late does not replace the newest one.
    const accepted = service!.pipeline.counters.acceptedReadings;
    await publish(t2 - 120_000, 9.9);
    await waitFor(
      () => Promise.resolve(service!.pipeline.counters.acceptedReadings),
      (n) => n === accepted + 1,
      10_000,
      'the late reading accepted',
    );
    expect(lastOf((await overview()).body, 'room-1')).toMatchObject({ ts: t3, temperature: 5.3 });
    await influxd.start();
  });
});
