import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { connectDevice, influxFor, makeWorkspace, readingCount, readingsStored, rejectsOf, rejectsStored, serviceOn, waitFor } from './helpers/workspace.js';

const now = () => Date.now() - 1000;

/** Each bad payload, the reason it must be quarantined with, and words its message must contain. */
const cases: Array<{ name: string; payload: () => string | Buffer; reason: string; mentions: string }> = [
  { name: 'malformed JSON', payload: () => '{"ts": 1, "temperature": ', reason: 'malformed_json', mentions: 'not JSON' },
  { name: 'NaN literal', payload: () => `{"ts": ${now()}, "temperature": NaN}`, reason: 'malformed_json', mentions: 'not JSON' },
  {
    name: 'NaN as a string (wrong type)',
    payload: () => JSON.stringify({ ts: now(), temperature: 'NaN' }),
    reason: 'invalid_reading',
    mentions: 'temperature',
  },
  { name: '−300 °C', payload: () => JSON.stringify({ ts: now(), temperature: -300 }), reason: 'impossible_value', mentions: 'physical limit of -100' },
  {
    name: '150 %RH',
    payload: () => JSON.stringify({ ts: now(), temperature: 4, humidity: 150 }),
    reason: 'impossible_value',
    mentions: 'humidity above the physical limit',
  },
  {
    name: 'timestamp a day in the future',
    payload: () => JSON.stringify({ ts: Date.now() + 86_400_000, temperature: 4 }),
    reason: 'timestamp_in_future',
    mentions: 'ahead of server time',
  },
  {
    name: 'epoch seconds instead of ms',
    payload: () => JSON.stringify({ ts: Math.floor(Date.now() / 1000), temperature: 4 }),
    reason: 'timestamp_too_old',
    mentions: 'epoch seconds',
  },
  {
    name: 'a timestamp no date can hold',
    payload: () => JSON.stringify({ ts: 1e16, temperature: 4 }),
    reason: 'invalid_reading',
    mentions: 'outside the time range InfluxDB can store',
  },
  {
    name: 'missing temperature',
    payload: () => JSON.stringify({ ts: now(), humidity: 50 }),
    reason: 'invalid_reading',
    mentions: 'temperature: required field missing',
  },
  { name: 'missing timestamp', payload: () => JSON.stringify({ temperature: 4 }), reason: 'invalid_reading', mentions: 'ts: required field missing' },
  {
    name: 'zoneless ISO time',
    payload: () => JSON.stringify({ ts: '2026-11-22T08:00:00', temperature: 4 }),
    reason: 'invalid_reading',
    mentions: 'with a zone',
  },
  { name: 'a 2 MB payload', payload: () => Buffer.alloc(2 * 1024 * 1024, 0x20), reason: 'payload_too_large', mentions: 'the limit is 262144' },
  { name: 'an empty batch', payload: () => '[]', reason: 'empty_batch', mentions: 'no readings' },
];

describe('bad input is quarantined with a precise reason and loses nothing else', () => {
  const suite = serviceOn(() => makeWorkspace({ devices: ['probe-1', 'probe-2'] }));
  let client: MqttClient;
  const downlink: Array<{ rejected: Array<{ reason: string; message: string }> }> = [];
  let closes = 0;

  beforeAll(async () => {
    client = await connectDevice(suite.service.mqttPort!, 'probe-1', suite.ws.deviceTokens['probe-1']!);
    client.on('close', () => closes++);
    client.on('message', (_topic, payload) => downlink.push(JSON.parse(payload.toString())));
    await client.subscribeAsync('cc/v1/probe-1/downlink/#', { qos: 0 });
  });
  afterAll(async () => {
    await client?.endAsync();
  });

  it.each(cases)('$name → $reason; the device stays connected and its next reading is stored', async ({ payload, reason, mentions }) => {
    const influx = influxFor(suite.ws);
    const rejectsBefore = (await rejectsOf(influx, 'probe-1')).length;
    const storedBefore = await readingCount(influx, 'probe-1');
    const downlinkBefore = downlink.length;

    await client.publishAsync('cc/v1/probe-1/telemetry', payload(), { qos: 1 });
    await client.publishAsync('cc/v1/probe-1/telemetry', JSON.stringify({ ts: Date.now() - 500, temperature: 5.5 }), { qos: 1 });

    const rejects = await rejectsStored(influx, 'probe-1', (r) => r.length > rejectsBefore, 'the reject');
    const reject = rejects.at(-1)!;
    expect(reject.reason).toBe(reason);
    expect(reject.message).toContain(mentions);
    await readingsStored(influx, 'probe-1', (n) => n === storedBefore + 1, 'the next valid reading');
    await waitFor(
      async () => downlink.length,
      (n) => n > downlinkBefore,
      5000,
      'the downlink notice',
    );
    expect(downlink.at(-1)!.rejected[0]).toMatchObject({ reason, message: expect.stringContaining(mentions) });
    expect(client.connected).toBe(true);
    expect(closes).toBe(0);
  });

  it('keeps the good readings of a batch and rejects only the bad one, naming its index', async () => {
    const influx = influxFor(suite.ws);
    const probe2 = await connectDevice(suite.service.mqttPort!, 'probe-2', suite.ws.deviceTokens['probe-2']!);
    const base = Date.now() - 60_000;
    const batch = [
      { ts: base, temperature: 4 },
      { ts: base + 1000, temperature: 'warm' },
      { ts: base + 2000, temperature: 4.2 },
    ];
    await probe2.publishAsync('cc/v1/probe-2/telemetry', JSON.stringify(batch), { qos: 1 });
    await probe2.endAsync();
    await readingsStored(influx, 'probe-2', (n) => n === 2, 'two good readings');
    const [reject] = await rejectsStored(influx, 'probe-2', (r) => r.length === 1, 'one reject');
    expect(reject).toMatchObject({ reason: 'invalid_reading', index: 1 });
    expect(reject!.message).toContain('[1].temperature');
  });

  it('serves the quarantine over HTTP, filtered by device and reason', async () => {
    const url = `http://127.0.0.1:${suite.service.httpPort}/api/v1/rejects?device=probe-1&reason=impossible_value`;
    const body = await (await fetch(url, { headers: { Authorization: `Bearer ${suite.ws.apiTokens.viewer}` } })).json();
    expect(body.count).toBe(2);
    expect(body.rejects.map((r: { message: string }) => r.message)).toEqual([
      expect.stringContaining('humidity above the physical limit'),
      expect.stringContaining('temperature below the physical limit'),
    ]);
    expect(body.rejects[0]).toMatchObject({
      deviceId: 'probe-1',
      reason: 'impossible_value',
      topic: 'cc/v1/probe-1/telemetry',
      payload: expect.stringContaining('"humidity":150'),
    });
    const bad = await fetch(`http://127.0.0.1:${suite.service.httpPort}/api/v1/rejects?reason=bogus`, {
      headers: { Authorization: `Bearer ${suite.ws.apiTokens.viewer}` },
    });
    expect(bad.status).toBe(400);
    expect((await bad.json()).message).toMatch(/^query\.reason: Invalid option/);
  });

  it('counts rejects by reason in /metrics', async () => {
    const text = await (
      await fetch(`http://127.0.0.1:${suite.service.httpPort}/metrics`, { headers: { Authorization: `Bearer ${suite.ws.apiTokens.viewer}` } })
    ).text();
    expect(text).toMatch(/coldchain_readings_rejected_total\{reason="impossible_value"\} 2/);
    expect(text).toMatch(/coldchain_readings_rejected_total\{reason="payload_too_large"\} 1/);
  });
});
