import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Overview } from '../live/overview.js';
import type { RunningService } from '../app/service.js';
import { ManagedInfluxd } from '../storage/influxd.js';
import { connectDevice, makeWorkspace, readingCount, startTestService, testLog, waitFor, influxFor, type Workspace } from './helpers/workspace.js';

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

  const overview = async (): Promise<{ status: number; body: Overview }> => {
    const response = await fetch(`http://127.0.0.1:${service!.httpPort}/api/v1/overview`, { headers: { Authorization: `Bearer ${ws.apiTokens.viewer}` } });
    return { status: response.status, body: (await response.json()) as Overview };
  };
  const lastOf = (o: Overview, deviceId: string) => o.sites.flatMap((s) => s.locations.flatMap((l) => l.devices)).find((d) => d.id === deviceId)?.last ?? null;
  const publish = async (ts: number, temperature: number) => {
    const client = await connectDevice(service!.mqttPort!, 'room-1', ws.deviceTokens['room-1']!);
    clients.push(client);
    await client.publishAsync('cc/v1/room-1/telemetry', JSON.stringify({ ts, temperature, humidity: 50 }), { qos: 1 });
    await client.endAsync();
  };

  beforeAll(async () => {
    influxd = new ManagedInfluxd({ dataDir: mkdtempSync(path.join(tmpdir(), 'cc-overview-influxd-')), log: testLog });
    await influxd.start();
    ws = makeWorkspace({ devices: ['room-1', 'room-2'] });
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
