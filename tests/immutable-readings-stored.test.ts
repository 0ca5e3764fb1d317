import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import type { RunningService } from '../app/service.js';
import { RECENT_READINGS_MAX, deferredLine } from '../ingestor/records.js';
import { StoredReadingCheck } from '../ingestor/stored-readings.js';
import type { ReadingsResponse } from '../api/readings.js';
import { InfluxClient } from '../storage/influx.js';
import { connectDevice, influxFor, makeWorkspace, readingCount, startTestService, waitFor, type Workspace } from './helpers/workspace.js';

/**
 * Issue 13, item 1, the part the in-memory index cannot see: device times stored before the
 * service (re)started, and readings older than the index keeps. The writer looks them up in
 * InfluxDB before it writes them; a different reading is kept beside the stored one, counted and
 * recorded exactly as the in-memory path does; a redelivery stays one point.
 */
describe('immutable readings beyond the in-memory index', () => {
  const services: RunningService[] = [];
  const clients: MqttClient[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync()));
  });
  afterAll(async () => {
    for (const s of services) await s.stop();
  });

  const start = async (ws: Workspace) => {
    const service = await startTestService(ws);
    services.push(service);
    return service;
  };
  const stop = async (service: RunningService) => {
    services.splice(services.indexOf(service), 1);
    await service.stop();
  };
  const device = async (ws: Workspace, service: RunningService, id: string) => {
    const client = await connectDevice(service.mqttPort!, id, ws.deviceTokens[id]!);
    clients.push(client);
    return (reading: object) => client.publishAsync(`cc/v1/${id}/telemetry`, JSON.stringify(reading), { qos: 1 });
  };
  const get = async (ws: Workspace, service: RunningService, url: string) =>
    (await fetch(`http://127.0.0.1:${service.httpPort}${url}`, { headers: { Authorization: `Bearer ${ws.apiTokens.viewer}` } })).text();
  const conflictsMetric = async (ws: Workspace, service: RunningService) =>
    Number(/^coldchain_reading_conflicts_total\{kind="value"\} (\d+)$/m.exec(await get(ws, service, '/metrics'))?.[1] ?? Number.NaN);
  const checkedMetric = async (ws: Workspace, service: RunningService) =>
    Number(/^coldchain_readings_checked_in_influxdb_total (\d+)$/m.exec(await get(ws, service, '/metrics'))?.[1] ?? Number.NaN);
  const drained = (ws: Workspace, service: RunningService) =>
    waitFor(
      async () => (await get(ws, service, '/metrics')).match(/^coldchain_spool_depth_records (\d+)$/m)?.[1],
      (depth) => depth === '0',
      20_000,
      'the spool to drain',
    );
  const pointsAt = async (influx: InfluxClient, deviceId: string, ts: number) => {
    const series = await influx.query(
      `SELECT "temperature", "receivedAt" FROM "readings" WHERE "deviceId" = '${deviceId}' AND time = ${ts}ms GROUP BY "revision"`,
    );
    return series
      .flatMap((s) => s.values.map(([, temperature, receivedAt]) => ({ revision: s.tags?.revision ?? '', temperature, receivedAt })))
      .sort((a, b) => a.revision.localeCompare(b.revision));
  };
  const conflictRecords = async (influx: InfluxClient, deviceId: string) => {
    const [series] = await influx.query(
      `SELECT "ts", "revision", "firstTemperature", "temperature", "message" FROM "rejects" WHERE "reason" = 'conflicting_reading' AND "deviceId" = '${deviceId}'`,
    );
    return (series?.values ?? []).map(([, ts, revision, firstTemperature, temperature, message]) => ({ ts, revision, firstTemperature, temperature, message }));
  };

  it('after a restart: a different reading at a stored device time is kept beside it, counted and flagged; an identical redelivery stays one point', async () => {
    const ws = makeWorkspace({ devices: ['restart-1'] });
    const influx = influxFor(ws);
    const ts = Date.now() - 30 * 60_000;
    const first = await start(ws);
    const publish = await device(ws, first, 'restart-1');
    await publish({ ts: ts - 60_000, temperature: 4.1, seq: 1 });
    await publish({ ts, temperature: 4.5, humidity: 50, seq: 2 });
    await drained(ws, first);
    const [stored] = await pointsAt(influx, 'restart-1', ts);
    await stop(first);

    const second = await start(ws);
    const again = await device(ws, second, 'restart-1');
    // Identical redeliveries (a device resending after reconnecting), one of them in a batch with a different reading.
    await again({ ts, temperature: 4.5, humidity: 50, seq: 2 });
    await again([
      { ts: ts - 60_000, temperature: 4.1, seq: 1 },
      { ts, temperature: 9.25, humidity: 50, seq: 2 },
    ]);
    // The different one again: a redelivery of its revision, still one point.
    await again({ ts, temperature: 9.25, humidity: 50, seq: 2 });
    await drained(ws, second);

    expect(await pointsAt(influx, 'restart-1', ts)).toEqual([
      // The first reading untouched, down to when it was received.
      { revision: '', temperature: 4.5, receivedAt: stored!.receivedAt },
      { revision: '1', temperature: 9.25, receivedAt: expect.any(Number) },
    ]);
    expect(await readingCount(influx, 'restart-1')).toBe(3);
    expect(await conflictsMetric(ws, second)).toBe(1);
    const records = await conflictRecords(influx, 'restart-1');
    expect(records).toEqual([{ ts, revision: 1, firstTemperature: 4.5, temperature: 9.25, message: expect.stringContaining('both kept') }]);

    const api = JSON.parse(await get(ws, second, `/api/v1/devices/restart-1/readings?from=${ts - 3_600_000}`)) as ReadingsResponse;
    expect(api.readings.map(({ ts: t, temperature, conflict, revision }) => ({ t, temperature, conflict, revision }))).toEqual([
      { t: ts - 60_000, temperature: 4.1, conflict: undefined, revision: undefined },
      { t: ts, temperature: 4.5, conflict: true, revision: 0 },
      { t: ts, temperature: 9.25, conflict: true, revision: 1 },
    ]);
    const rejects = JSON.parse(await get(ws, second, '/api/v1/rejects?reason=conflicting_reading&device=restart-1')) as { count: number };
    expect(rejects.count).toBe(1);

    // Only what is at or before the device's newest stored time was looked up in InfluxDB; a newer
    // reading is decided in memory (the start floor used to defer every reading of the first 5 minutes).
    expect(await checkedMetric(ws, second)).toBe(4);
    await again({ ts: ts + 60_000, temperature: 4.6, seq: 3 });
    expect(await checkedMetric(ws, second)).toBe(4);
    await drained(ws, second);
    expect(await readingCount(influx, 'restart-1')).toBe(4);
  });

  it('a different reading older than the in-memory index keeps is looked up in InfluxDB and kept beside the stored one', async () => {
    // A 1 s clock tolerance: device times from 1 s after the start on are checked in memory, so the index's own bound is what is tested.
    const ws = makeWorkspace({ devices: ['old-1'], yamlPatch: (yaml) => yaml.replace(/maxFutureSkew: \S+/, 'maxFutureSkew: 1s') });
    const influx = influxFor(ws);
    const service = await start(ws);
    const t0 = Date.now() + 1001;
    const count = RECENT_READINGS_MAX + 4;
    // Every device time must have passed (1 s tolerance) before it is sent.
    await waitFor(
      async () => Date.now(),
      (now) => now > t0 + count + 200,
      10_000,
      'the device times to pass',
    );
    const publish = await device(ws, service, 'old-1');
    await publish({ ts: t0, temperature: 5, seq: 1 });
    await publish(Array.from({ length: count }, (_, i) => ({ ts: t0 + 1 + i, temperature: 5, seq: 2 + i })));
    // The newest one, still in the index: decided in memory.
    await publish({ ts: t0 + count, temperature: 6.5, seq: 2 + count });
    // The first one, evicted from the index by the 4,100 after it: decided against InfluxDB by the writer.
    await publish({ ts: t0, temperature: 7.5, seq: 1 });
    await publish({ ts: t0, temperature: 5, seq: 1 });
    await drained(ws, service);

    expect((await pointsAt(influx, 'old-1', t0)).map(({ revision, temperature }) => ({ revision, temperature }))).toEqual([
      { revision: '', temperature: 5 },
      { revision: '1', temperature: 7.5 },
    ]);
    expect(await readingCount(influx, 'old-1')).toBe(count + 1 + 2);
    expect(await conflictsMetric(ws, service)).toBe(2);
    expect(
      (await conflictRecords(influx, 'old-1')).map(({ ts, revision, firstTemperature, temperature }) => ({ ts, revision, firstTemperature, temperature })),
    ).toEqual(
      expect.arrayContaining([
        { ts: t0, revision: 1, firstTemperature: 5, temperature: 7.5 },
        { ts: t0 + count, revision: 1, firstTemperature: 5, temperature: 6.5 },
      ]),
    );
  });

  it('a batch replayed after a crash is decided the same way: one revision, one conflict record', async () => {
    const influx = new InfluxClient({ url: inject('influxUrl'), database: `t_replay_${Date.now()}` });
    await influx.ensureDatabase(1830 * 86_400_000);
    const ts = Date.now() - 3_600_000;
    const placement = { deviceId: 'replay-1', siteId: 's', locationId: 'l', receivedAt: Date.now() };
    const check = new StoredReadingCheck(influx);
    const batch = [
      deferredLine(placement, 'cc/v1/replay-1/telemetry', { ts, temperature: 3 }),
      deferredLine(placement, 'cc/v1/replay-1/telemetry', { ts, temperature: 3 }),
      deferredLine(placement, 'cc/v1/replay-1/telemetry', { ts, temperature: 8 }),
    ];
    const once = await check.resolve(batch);
    expect(once).toMatchObject({ conflicts: 1, checked: 3 });
    // The first reading, the revision and its record; the in-batch redelivery is not written again.
    expect(once.lines).toHaveLength(3);
    await influx.write(`${once.lines.join('\n')}\n`);
    // The crash came before the spool's cursor moved: the same batch again.
    const twice = await check.resolve(batch);
    expect(twice).toMatchObject({ lines: [], conflicts: 0 });
    expect(await readingCount(influx, 'replay-1')).toBe(2);
    expect(await conflictRecords(influx, 'replay-1')).toHaveLength(1);
  });
});
