import { beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import type { Socket } from 'node:net';
import { isUnsubscribable } from '../broker/broker.js';
import { ALERTS_ROOT, maySubscribe } from '../core/topics.js';
import { connectDevice, influxFor, makeWorkspace, readingCount, readingsStored, rejectsOf, rejectsStored, serviceOn, waitFor } from './helpers/workspace.js';

describe('broker authentication and authorisation', () => {
  const suite = serviceOn(() =>
    makeWorkspace({
      devices: ['dev-a', 'dev-b', 'dev-c'],
      yamlPatch: (y) =>
        y
          .replace('maxPacketBytes: 4194304', 'maxPacketBytes: 3145728')
          .replace(/ratePerDevice: \d+/, 'ratePerDevice: 20')
          .replace(/rateBurst: \d+/, 'rateBurst: 20'),
    }),
  );
  let port: number;

  beforeAll(() => {
    port = suite.service.mqttPort!;
  });

  it('refuses a wrong token and an unknown device with CONNACK 4 (bad username or password)', async () => {
    await expect(connectDevice(port, 'dev-a', 'cc_dev_wrong')).rejects.toThrow(/Bad username or password/i);
    await expect(connectDevice(port, 'nobody', suite.ws.deviceTokens['dev-a']!)).rejects.toThrow(/Bad username or password/i);
    await expect(mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 })).rejects.toThrow(/Bad username or password/i);
  });

  it("stores nothing when a device publishes under another device's topic, and records why", async () => {
    const client = await connectDevice(port, 'dev-a', suite.ws.deviceTokens['dev-a']!);
    await client.publishAsync('cc/v1/dev-b/telemetry', JSON.stringify({ ts: Date.now() - 1000, temperature: 4 }), { qos: 1 });
    await client.publishAsync('cc/v1/dev-a/telemetry', JSON.stringify({ ts: Date.now() - 500, temperature: 4.1 }), { qos: 1 });
    expect(client.connected).toBe(true);
    await client.endAsync();
    const influx = influxFor(suite.ws);
    await waitFor(
      () => readingCount(influx, 'dev-a'),
      (n) => n === 1,
      20_000,
      "dev-a's own reading",
    );
    expect(await readingCount(influx, 'dev-b')).toBe(0);
    const rejects = await rejectsOf(influx, 'dev-a');
    expect(rejects).toEqual([
      expect.objectContaining({ reason: 'topic_not_allowed', message: expect.stringContaining("another device's topic cc/v1/dev-b/telemetry") }),
    ]);
  });

  it('quarantines a publish to a $ topic and keeps the device connected', async () => {
    const client = await connectDevice(port, 'dev-c', suite.ws.deviceTokens['dev-c']!);
    await client.publishAsync('$SYS/broker/uptime', 'forged', { qos: 1 });
    await client.publishAsync('cc/v1/dev-c/telemetry', JSON.stringify({ ts: Date.now() - 500, temperature: 4.4 }), { qos: 1 });
    expect(client.connected).toBe(true);
    await client.endAsync();
    const rejects = await rejectsStored(influxFor(suite.ws), 'dev-c', (r) => r.length === 1, 'the quarantined $SYS publish', 10_000);
    expect(rejects[0]).toMatchObject({ reason: 'topic_not_allowed', message: expect.stringContaining('topic $SYS/broker/uptime is not one of cc/v1/dev-c/') });
    await waitFor(
      () => readingCount(influxFor(suite.ws), 'dev-c'),
      (n) => n === 1,
      20_000,
      "dev-c's reading",
    );
  });

  it('refuses subscriptions to #, $SYS and other devices; allows its own downlink', async () => {
    const client = await connectDevice(port, 'dev-a', suite.ws.deviceTokens['dev-a']!);
    for (const filter of ['#', '$SYS/#', 'cc/v1/+/telemetry', 'cc/v1/dev-b/downlink/#']) {
      // mqtt.js turns a SUBACK return code of 0x80 (failure) into this error.
      await expect(client.subscribeAsync(filter, { qos: 1 }), filter).rejects.toThrow(/Subscribe error/);
    }
    const granted = await client.subscribeAsync('cc/v1/dev-a/downlink/#', { qos: 1 });
    expect(granted.map((g) => g.qos)).toEqual([1]);
    expect(client.connected).toBe(true);
    await client.endAsync();
  });

  it("ends a device's uplink publishes without a subscriber search: no filter a device or a person may hold matches them", () => {
    // broker.ts skips aedes' search for subscribers of these topics: true only while nobody may subscribe to them.
    const uplinks = ['cc/v1/dev-a/telemetry', 'cc/v1/dev-a/status', 'cc/v1/dev-a/events', 'cc/v1/dev-a/custody', '$coldchain/sink'];
    for (const topic of uplinks) {
      expect(isUnsubscribable(topic), topic).toBe(true);
      for (const device of ['dev-a', 'dev-b']) expect(maySubscribe(device, topic), `${device} on ${topic}`).toBe(false);
      expect(topic.startsWith(`${ALERTS_ROOT}/`), topic).toBe(false);
    }
    for (const topic of ['cc/v1/dev-a/downlink', 'cc/v1/dev-a/downlink/rejects', 'cc/v1/alerts/dc-shanghai/room-1', 'cc/v1/dev-a/telemetry/x'])
      expect(isUnsubscribable(topic), topic).toBe(false);
  });

  it('keeps one live connection per device: the newest wins', async () => {
    const first = await connectDevice(port, 'dev-c', suite.ws.deviceTokens['dev-c']!);
    const closed = new Promise<void>((resolve) => first.once('close', () => resolve()));
    const second = await connectDevice(port, 'dev-c', suite.ws.deviceTokens['dev-c']!);
    await closed;
    expect(first.connected).toBe(false);
    expect(second.connected).toBe(true);
    await second.publishAsync('cc/v1/dev-c/telemetry', JSON.stringify({ ts: Date.now() - 100, temperature: 3 }), { qos: 1 });
    await second.endAsync();
    first.end(true);
  });

  it('paces a device above mqtt.ratePerDevice instead of dropping its messages', async () => {
    const client = await connectDevice(port, 'dev-b', suite.ws.deviceTokens['dev-b']!);
    const base = Date.now() - 600_000;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 60 }, (_, i) => client.publishAsync('cc/v1/dev-b/telemetry', JSON.stringify({ ts: base + i * 1000, temperature: 4 }), { qos: 1 })),
    );
    const seconds = (performance.now() - started) / 1000;
    await client.endAsync();
    // burst 20, then 20/s: the last of 60 messages may pass after about 2 s.
    expect(seconds).toBeGreaterThan(1.5);
    await readingsStored(influxFor(suite.ws), 'dev-b', (n) => n === 60, 'all 60 paced readings');
  });

  it('closes a connection whose packet header declares more than mqtt.maxPacketBytes, before buffering it', async () => {
    const client = await connectDevice(port, 'dev-b', suite.ws.deviceTokens['dev-b']!);
    const stream = (client as unknown as { stream: Socket }).stream;
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    // A PUBLISH fixed header declaring 100 MB; only the first bytes are ever sent.
    const remainingLength = 100 * 1024 * 1024;
    const varint: number[] = [];
    for (let x = remainingLength; ; ) {
      let byte = x % 128;
      x = Math.floor(x / 128);
      if (x > 0) byte |= 0x80;
      varint.push(byte);
      if (x === 0) break;
    }
    stream.write(Buffer.concat([Buffer.from([0x30, ...varint]), Buffer.alloc(64 * 1024)]));
    await closed;
    expect(client.connected).toBe(false);
    client.end(true);
  });
});
