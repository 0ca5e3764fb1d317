import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import type { RunningService } from '../app/service.js';
import { connectDevice, makeWorkspace, startTestService, waitFor, withUsers, type Workspace } from './helpers/workspace.js';
import { excursionReadings } from './helpers/alarms.js';

const MIN = 60_000;

describe('client ids are bound to the authenticated identity', () => {
  let ws: Workspace;
  let service: RunningService;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    const users = await withUsers('olga');
    ws = makeWorkspace({
      devices: ['cid-a', 'cid-b', 'cid-hot'],
      yamlPatch: (y) => users(y),
    });
    service = await startTestService(ws);
  });
  afterAll(async () => {
    for (const c of clients) c.end(true);
    await service?.stop();
  });

  it("a device connecting with another device's client id does not cut that device off", async () => {
    const victim = await connectDevice(service.mqttPort!, 'cid-a', ws.deviceTokens['cid-a']!, { clientId: 'cid-a' });
    clients.push(victim);
    let victimClosed = false;
    victim.on('close', () => (victimClosed = true));
    const intruder = await connectDevice(service.mqttPort!, 'cid-b', ws.deviceTokens['cid-b']!, { clientId: 'cid-a' });
    clients.push(intruder);
    // Both have a round trip after the intruder's CONNACK: a takeover would have closed the victim by then.
    await intruder.publishAsync('cc/v1/cid-b/telemetry', JSON.stringify({ ts: Date.now() - 2000, temperature: 4 }), { qos: 1 });
    expect(victimClosed).toBe(false);
    // Bounded: a victim that was cut off would never see its PUBACK.
    await Promise.race([
      victim.publishAsync('cc/v1/cid-a/telemetry', JSON.stringify({ ts: Date.now() - 1000, temperature: 4 }), { qos: 1 }),
      new Promise((_, reject) => victim.once('close', () => reject(new Error('cid-a was disconnected by a connection presenting its client id')))),
    ]);
    expect(victim.connected).toBe(true);
    expect(intruder.connected).toBe(true);
    await intruder.endAsync();
    await victim.endAsync();
  });

  it("a device cannot resume a user's persistent session and read the alerts queued for that user", async () => {
    const user = await mqtt.connectAsync(`mqtt://127.0.0.1:${service.mqttPort}`, {
      username: 'olga',
      password: 'olga-password-1',
      clientId: 'olga-board',
      clean: false,
      reconnectPeriod: 0,
    });
    await user.subscribeAsync('cc/v1/alerts/#', { qos: 1 });
    await user.endAsync();

    // An excursion while olga is away: its alert messages queue in her session.
    const hot = await connectDevice(service.mqttPort!, 'cid-hot', ws.deviceTokens['cid-hot']!);
    const start = Date.now() - 26 * MIN;
    await hot.publishAsync('cc/v1/cid-hot/telemetry', JSON.stringify(excursionReadings(start)), { qos: 1 });
    await hot.endAsync();

    // The intruder presents olga's client id and asks for her session.
    const stolen: string[] = [];
    const intruder = await connectDevice(service.mqttPort!, 'cid-b', ws.deviceTokens['cid-b']!, { clientId: 'olga-board', clean: false });
    clients.push(intruder);
    intruder.on('message', (topic) => stolen.push(topic));
    // Before the fix her session (subscription and queued alerts) went to whoever named its client id.

    // Olga comes back: her session is still hers, with the alert messages queued for her.
    const received: Array<{ deviceId: string; event: string }> = [];
    const back = await mqtt.connectAsync(`mqtt://127.0.0.1:${service.mqttPort}`, {
      username: 'olga',
      password: 'olga-password-1',
      clientId: 'olga-board',
      clean: false,
      reconnectPeriod: 0,
    });
    clients.push(back);
    back.on('message', (_t, payload) => received.push(JSON.parse(payload.toString()) as { deviceId: string; event: string }));
    await waitFor(
      async () => received.filter((m) => m.deviceId === 'cid-hot'),
      (m) => m.some((x) => x.event === 'activated'),
      20_000,
      "the alert queued in olga's session",
    );
    // Round trip on the intruder's connection: anything delivered to it would have arrived before this.
    await intruder.publishAsync('cc/v1/cid-b/telemetry', JSON.stringify({ ts: Date.now() - 500, temperature: 4 }), { qos: 1 });
    expect(stolen).toEqual([]);
    expect(intruder.connected).toBe(true);
    await intruder.endAsync();
    await back.endAsync();
  });
});
