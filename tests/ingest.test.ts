import { beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { connectDevice, influxFor, makeWorkspace, readingCount, readingsStored, rejectsStored, run, serviceOn, waitFor } from './helpers/workspace.js';

describe('MQTT publish to InfluxDB through the embedded broker', () => {
  const suite = serviceOn(() => makeWorkspace({ devices: ['sensor-a', 'sensor-b', 'sensor-c', 'sensor-d', 'truck-1'] }));
  let port: number;

  beforeAll(() => {
    port = suite.service.mqttPort!;
  });

  it('stores exactly N readings published by mqtt.js with QoS 1, values equal', async () => {
    const client = await connectDevice(port, 'sensor-a', suite.ws.deviceTokens['sensor-a']!);
    const start = Date.now() - 60 * 60_000;
    const sent = Array.from({ length: 300 }, (_, i) => ({
      ts: start + i * 1000,
      temperature: Math.round((2 + (i % 60) / 10) * 100) / 100,
      humidity: 40 + (i % 20),
      seq: i,
    }));
    await Promise.all(sent.map((reading) => client.publishAsync('cc/v1/sensor-a/telemetry', JSON.stringify(reading), { qos: 1 })));
    await client.endAsync();

    const influx = influxFor(suite.ws);
    await readingsStored(influx, 'sensor-a', (n) => n >= 300, '300 readings');
    const [series] = await influx.query(`SELECT "temperature", "humidity", "seq" FROM "readings" WHERE "deviceId" = 'sensor-a' ORDER BY time`);
    expect(series!.values).toHaveLength(300);
    expect(series!.values.map(([time, temperature, humidity, seq]) => ({ ts: time, temperature, humidity, seq }))).toEqual(sent);
  });

  it('stores readings from a foreign client (mosquitto_pub), one per line', async () => {
    const start = Date.now() - 30 * 60_000;
    const lines = Array.from({ length: 25 }, (_, i) => JSON.stringify({ ts: new Date(start + i * 60_000).toISOString(), temperature: 5 + i / 100 }));
    const result = await run(
      'mosquitto_pub',
      [
        '-h',
        '127.0.0.1',
        '-p',
        String(port),
        '-u',
        'sensor-b',
        '-P',
        suite.ws.deviceTokens['sensor-b']!,
        '-i',
        'mosq-sensor-b',
        '-q',
        '1',
        '-t',
        'cc/v1/sensor-b/telemetry',
        '-l',
      ],
      `${lines.join('\n')}\n`,
    );
    expect(result.code, result.stderr).toBe(0);
    const influx = influxFor(suite.ws);
    await readingsStored(influx, 'sensor-b', (n) => n >= 25, '25 readings');
    const [series] = await influx.query(`SELECT "temperature" FROM "readings" WHERE "deviceId" = 'sensor-b' ORDER BY time`);
    expect(series!.values).toEqual(Array.from({ length: 25 }, (_, i) => [start + i * 60_000, 5 + i / 100]));
  });

  it('accepts a store-and-forward batch with out-of-order timestamps and keeps device time', async () => {
    const client = await connectDevice(port, 'truck-1', suite.ws.deviceTokens['truck-1']!);
    const start = Date.now() - 3 * 60 * 60_000;
    const batch = Array.from({ length: 100 }, (_, i) => ({
      ts: start + i * 30_000,
      temperature: 3 + (i % 7) / 10,
      lat: 31.2 + i / 1000,
      lon: 121.4,
      door: i === 50,
      seq: i,
    }));
    const shuffled = [...batch].sort((a, b) => ((a.seq * 37) % 101) - ((b.seq * 37) % 101));
    await client.publishAsync('cc/v1/truck-1/telemetry', JSON.stringify(shuffled.slice(0, 60)), { qos: 1 });
    await client.publishAsync('cc/v1/truck-1/telemetry', JSON.stringify({ readings: shuffled.slice(60) }), { qos: 1 });
    await client.endAsync();
    const influx = influxFor(suite.ws);
    await readingsStored(influx, 'truck-1', (n) => n >= 100, '100 batched readings');
    const [series] = await influx.query(`SELECT "temperature", "lat", "door", "seq" FROM "readings" WHERE "deviceId" = 'truck-1' ORDER BY time`);
    expect(series!.values.map(([time, temperature, lat, door, seq]) => ({ ts: time, temperature, lat, door, seq }))).toEqual(
      batch.map(({ ts, temperature, lat, door, seq }) => ({ ts, temperature, lat, door, seq })),
    );
  });

  it('is idempotent: a redelivered reading (same device and timestamp) is one point', async () => {
    const client: MqttClient = await connectDevice(port, 'sensor-c', suite.ws.deviceTokens['sensor-c']!);
    const reading = JSON.stringify({ ts: Date.now() - 5000, temperature: 4.2 });
    for (let i = 0; i < 3; i++) await client.publishAsync('cc/v1/sensor-c/telemetry', reading, { qos: 1 });
    await client.publishAsync('cc/v1/sensor-c/telemetry', JSON.stringify({ ts: Date.now() - 4000, temperature: 4.3 }), { qos: 1 });
    await client.endAsync();
    const influx = influxFor(suite.ws);
    await readingsStored(influx, 'sensor-c', (n) => n >= 2, '2 distinct readings');
    await suite.service.writer.flush(5000);
    expect(await readingCount(influx, 'sensor-c')).toBe(2);
  });

  it('accepts the ThingsBoard form {ts, values} and ISO 8601 with an offset', async () => {
    const client = await connectDevice(port, 'sensor-d', suite.ws.deviceTokens['sensor-d']!);
    const ts = Date.now() - 10_000;
    await client.publishAsync('cc/v1/sensor-d/telemetry', JSON.stringify({ ts, values: { temperature: 6.5, humidity: 61 } }), { qos: 1 });
    const iso = new Date(ts + 1000 + 8 * 3_600_000).toISOString().replace('Z', '+08:00');
    await client.publishAsync('cc/v1/sensor-d/telemetry', JSON.stringify({ ts: iso, temperature: 6.6 }), { qos: 1 });
    await client.endAsync();
    const influx = influxFor(suite.ws);
    await readingsStored(influx, 'sensor-d', (n) => n >= 2, '2 readings');
    const [series] = await influx.query(`SELECT "temperature", "humidity" FROM "readings" WHERE "deviceId" = 'sensor-d' ORDER BY time`);
    expect(series!.values).toEqual([
      [ts, 6.5, 61],
      [ts + 1000, 6.6, null],
    ]);
  });

  it('stores status and event messages as they came, and quarantines ones that are not JSON objects', async () => {
    const client = await connectDevice(port, 'sensor-d', suite.ws.deviceTokens['sensor-d']!);
    await client.publishAsync('cc/v1/sensor-d/status', JSON.stringify({ firmware: '1.4.2', battery: 81, rssi: -70 }), { qos: 1 });
    await client.publishAsync('cc/v1/sensor-d/events', JSON.stringify({ event: 'reboot', reason: 'watchdog' }), { qos: 1 });
    await client.publishAsync('cc/v1/sensor-d/status', '[1,2]', { qos: 1 });
    await client.publishAsync('cc/v1/sensor-d/events', 'rebooted', { qos: 1 });
    await client.endAsync();
    const influx = influxFor(suite.ws);
    const rows = await waitFor(
      async () =>
        (await influx.query(`SELECT "firmware", "battery", "payload" FROM "device_messages" WHERE "deviceId" = 'sensor-d' GROUP BY "channel"`)).flatMap((s) =>
          s.values.map((v) => [s.tags?.channel, ...v.slice(1)]),
        ),
      (r) => r.length === 2,
      20_000,
      'the status and event messages',
    );
    expect(rows).toContainEqual(['status', '1.4.2', 81, '{"firmware":"1.4.2","battery":81,"rssi":-70}']);
    expect(rows).toContainEqual(['events', null, null, '{"event":"reboot","reason":"watchdog"}']);
    const rejects = await rejectsStored(influx, 'sensor-d', (r) => r.length === 2, 'two quarantined messages', 10_000);
    expect(rejects.map((r) => r.message).sort()).toEqual(['a status message must be a JSON object', expect.stringContaining('payload is not JSON')]);
  });
});
