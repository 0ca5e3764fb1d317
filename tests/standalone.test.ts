import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import mqtt from 'mqtt';
import { loadConfig } from '../core/config/load.js';
import { startIngestService, type RunningService } from '../app/service.js';
import { influxFor, makeWorkspace, readingsStored, rejectsOf, rejectsStored, run, testLog, waitFor, type Workspace } from './helpers/workspace.js';
import { startMosquitto } from '../bench/mosquitto.js';
import { shipmentCreateSchema } from '../shipments/schema.js';

describe('standalone ingestor behind Debian Mosquitto', () => {
  let ws: Workspace;
  let mosquitto: Awaited<ReturnType<typeof startMosquitto>>;
  let service: RunningService | undefined;
  const start = () =>
    startIngestService(
      loadConfig(ws.configFile),
      { httpPort: 0, influxUrl: inject('influxUrl'), influxDb: ws.database, brokerUrl: `mqtt://127.0.0.1:${mosquitto.port}`, clientId: 'cc-ingest-test' },
      testLog,
    );

  beforeAll(async () => {
    ws = makeWorkspace({ devices: ['ext-1', 'ext-2', { id: 'ext-truck', location: 'truck-hu-a12345-box' }] });
    mosquitto = await startMosquitto();
    service = await start();
  });
  afterAll(async () => {
    await service?.stop();
    await mosquitto?.stop();
  });

  it('stores what mosquitto_pub publishes, and quarantines unknown devices and bad payloads', async () => {
    const base = Date.now() - 600_000;
    const lines = Array.from({ length: 40 }, (_, i) => JSON.stringify({ ts: base + i * 5000, temperature: 3 + i / 10 }));
    const pub = await run(
      'mosquitto_pub',
      ['-h', '127.0.0.1', '-p', String(mosquitto.port), '-q', '1', '-t', 'cc/v1/ext-1/telemetry', '-l'],
      `${lines.join('\n')}\n`,
    );
    expect(pub.code, pub.stderr).toBe(0);
    await run('mosquitto_pub', [
      '-h',
      '127.0.0.1',
      '-p',
      String(mosquitto.port),
      '-q',
      '1',
      '-t',
      'cc/v1/ghost/telemetry',
      '-m',
      JSON.stringify({ ts: base, temperature: 4 }),
    ]);
    await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mosquitto.port), '-q', '1', '-t', 'cc/v1/ext-2/telemetry', '-m', '{"ts":']);

    const influx = influxFor(ws);
    await readingsStored(influx, 'ext-1', (n) => n === 40, '40 readings');
    const [series] = await influx.query(`SELECT "temperature" FROM "readings" WHERE "deviceId" = 'ext-1' ORDER BY time`);
    expect(series!.values).toEqual(Array.from({ length: 40 }, (_, i) => [base + i * 5000, 3 + i / 10]));
    await rejectsStored(influx, 'ghost', (r) => r.length === 1, 'unknown device reject');
    expect((await rejectsOf(influx, 'ghost'))[0]).toMatchObject({ reason: 'unknown_device' });
    await rejectsStored(influx, 'ext-2', (r) => r.length === 1 && r[0]!.reason === 'malformed_json', 'malformed reject');
  });

  it('keeps its persistent session: readings published while it is down arrive after it returns', async () => {
    await service!.stop();
    service = undefined;
    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${mosquitto.port}`, { reconnectPeriod: 0 });
    const base = Date.now() - 300_000;
    for (let i = 0; i < 50; i++) await device.publishAsync('cc/v1/ext-2/telemetry', JSON.stringify({ ts: base + i * 1000, temperature: 5 }), { qos: 1 });
    await device.endAsync();
    service = await start();
    await readingsStored(influxFor(ws), 'ext-2', (n) => n === 50, '50 readings queued by mosquitto');
  });

  it('takes status, events and custody through the same dispatch as the embedded broker, custody rules included', async () => {
    const pub = (topic: string, message: string) =>
      run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mosquitto.port), '-q', '1', '-t', topic, '-m', message]);
    const downlink: string[] = [];
    const listener = await mqtt.connectAsync(`mqtt://127.0.0.1:${mosquitto.port}`, { reconnectPeriod: 0 });
    await listener.subscribeAsync('cc/v1/ext-1/downlink/#', { qos: 1 });
    listener.on('message', (_topic, payload) => downlink.push(payload.toString()));

    await service!.shipments.create(
      shipmentCreateSchema.parse({ id: 'SH-EXT', product: 'Vaccine', profile: 'vaccines-2-8', batch: 'L7', quantity: 2, shipper: 'DC', consignee: 'Hospital' }),
      { by: 'test', source: 'cli' },
    );
    expect((await pub('cc/v1/ext-1/status', JSON.stringify({ online: true, firmware: '2.4.1', battery: 81 }))).code).toBe(0);
    expect((await pub('cc/v1/ext-1/events', JSON.stringify({ door: 'open' }))).code).toBe(0);
    expect((await pub('cc/v1/ext-2/status', '[1,2]')).code).toBe(0);
    // A cold-room sensor may not report custody; the truck's device may load into its own compartment.
    expect((await pub('cc/v1/ext-1/custody', JSON.stringify({ shipmentId: 'SH-EXT', event: 'delivered' }))).code).toBe(0);
    expect((await pub('cc/v1/ext-truck/custody', JSON.stringify({ shipmentId: 'SH-EXT', event: 'loaded' }))).code).toBe(0);
    expect((await pub('cc/v1/ghost/status', JSON.stringify({ online: true }))).code).toBe(0);

    await waitFor(
      async () => service!.shipments.get('SH-EXT').custody.length,
      (n) => n === 1,
      20_000,
      'custody from the truck',
    );
    expect(service!.shipments.get('SH-EXT').custody[0]).toMatchObject({ event: 'loaded', locationId: 'truck-hu-a12345-box', by: 'ext-truck', source: 'mqtt' });

    const influx = influxFor(ws);
    const messages = await waitFor(
      async () =>
        (
          await influx.query(`SELECT "firmware", "battery", "payload" FROM "device_messages" WHERE "deviceId" = 'ext-1' GROUP BY "channel"`).catch(() => [])
        ).flatMap((s) => s.values.map((v) => [s.tags?.channel, ...v.slice(1)])),
      (rows) => rows.length === 2,
      20_000,
      'status and event of ext-1',
    );
    expect(messages.sort()).toEqual([
      ['events', null, null, '{"door":"open"}'],
      ['status', '2.4.1', 81, '{"online":true,"firmware":"2.4.1","battery":81}'],
    ]);
    const refused = await rejectsStored(influx, 'ext-1', (r) => r.some((x) => x.reason === 'custody_not_allowed'), "ext-1's refused custody");
    expect(refused.find((x) => x.reason === 'custody_not_allowed')!.message).toBe(
      'custody events come only from devices in a vehicle compartment; ext-1 is in dc-sh-cold-room-1 (cold_room)',
    );
    await rejectsStored(
      influx,
      'ext-2',
      (r) => r.some((x) => x.reason === 'malformed_json' && x.message === 'a status message must be a JSON object'),
      "ext-2's refused status",
    );
    const ghost = await rejectsStored(influx, 'ghost', (r) => r.length === 2, "ghost's status");
    expect(ghost[1]).toMatchObject({
      reason: 'unknown_device',
      message: 'device "ghost" is not in the registry (register it with: coldchain device add ghost --location LOC)',
    });
    await waitFor(
      async () => downlink,
      (d) => d.some((m) => m.includes('custody_not_allowed')),
      10_000,
      'the refusal on the downlink',
    );
    expect(JSON.parse(downlink.find((m) => m.includes('custody_not_allowed'))!)).toMatchObject({ total: 1, rejected: [{ reason: 'custody_not_allowed' }] });
    await listener.endAsync();
  });
});
