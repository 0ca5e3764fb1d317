import { connect, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { connectDevice, makeWorkspace, serviceOn, unlimitedRate, waitFor } from './helpers/workspace.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Bytes held in ArrayBuffers (message payloads) after a full collection: what the broker keeps. */
async function heldBuffers(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().arrayBuffers;
}

/**
 * A device that speaks MQTT over a plain socket and never sends PUBREL: it connects, sends QoS 2
 * PUBLISHes, waits for each PUBREC, and goes away.
 */
async function halfOpenQos2(
  port: number,
  options: { deviceId: string; token: string; clientId: string; clean: boolean; messages: number; payload: Buffer },
): Promise<{ pubrecs: number; closedByBroker: boolean }> {
  const socket: Socket = connect(port, '127.0.0.1');
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  let connack = false;
  let pubrecs = 0;
  let closedByBroker = false;
  parser.on('packet', (packet) => {
    if (packet.cmd === 'connack') connack = packet.returnCode === 0;
    if (packet.cmd === 'pubrec') pubrecs++;
  });
  socket.on('data', (chunk) => parser.parse(chunk));
  socket.on('close', () => (closedByBroker = true));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.write(
    mqttPacket.generate({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: options.clean,
      clientId: options.clientId,
      keepalive: 30,
      username: options.deviceId,
      password: Buffer.from(options.token),
    }),
  );
  await waitFor(async () => connack || closedByBroker, Boolean, 10_000, 'CONNACK');
  expect(connack).toBe(true);
  for (let i = 1; i <= options.messages; i++) {
    socket.write(
      mqttPacket.generate({
        cmd: 'publish',
        topic: `cc/v1/${options.deviceId}/events`,
        payload: options.payload,
        qos: 2,
        messageId: i,
        retain: false,
        dup: false,
      }),
    );
  }
  await waitFor(async () => pubrecs >= options.messages || closedByBroker, Boolean, 20_000, 'the PUBRECs');
  const result = { pubrecs, closedByBroker };
  socket.destroy();
  await waitFor(async () => socket.destroyed, Boolean, 5000, 'the socket closed');
  return result;
}

describe('issue 12, item 13: QoS 2 publishes without PUBREL', () => {
  const suite = serviceOn(() =>
    makeWorkspace({
      devices: ['q2-a', 'q2-b'],
      // A small window, so the test's flood is many times what the broker may keep.
      yamlPatch: (yaml) => unlimitedRate(yaml).replace(/^mqtt:\n/m, 'mqtt:\n  qos2InFlight: { perClient: 8, totalMessages: 64, totalBytes: 1048576 }\n'),
    }),
  );

  it('fresh client ids that never send PUBREL leave bounded state behind, clean session or not', async () => {
    const payload = Buffer.from(JSON.stringify({ event: 'door', note: 'x'.repeat(32 * 1024) }));
    const idle = await heldBuffers();
    const sessions = 48;
    for (let s = 0; s < sessions; s++) {
      const result = await halfOpenQos2(suite.service.mqttPort!, {
        deviceId: 'q2-a',
        token: suite.ws.deviceTokens['q2-a']!,
        clientId: `flood-${s}`,
        clean: s % 4 === 0,
        messages: 8,
        payload,
      });
      expect(result).toEqual({ pubrecs: 8, closedByBroker: false });
    }
    const grown = (await heldBuffers()) - idle;
    const sent = sessions * 8 * payload.length;
    console.log(
      `item 13: ${sessions} sessions × 8 QoS 2 messages without PUBREL (${(sent / 2 ** 20).toFixed(1)} MiB) → ${(grown / 2 ** 20).toFixed(2)} MiB held after GC`,
    );
    // Before: every persistent session kept its 8 messages for good (36 sessions × 8 × 32 KiB ≈ 9 MiB).
    expect(grown).toBeLessThan(3 * 2 ** 20);
  });

  it('a client that keeps more than its window open is disconnected; others are served meanwhile', async () => {
    const payload = Buffer.from(JSON.stringify({ event: 'door' }));
    const greedy = await halfOpenQos2(suite.service.mqttPort!, {
      deviceId: 'q2-b',
      token: suite.ws.deviceTokens['q2-b']!,
      clientId: 'greedy',
      clean: true,
      messages: 20,
      payload,
    });
    expect(greedy.closedByBroker).toBe(true);
    expect(greedy.pubrecs).toBeLessThanOrEqual(8);

    // A well-behaved QoS 2 device (mqtt.js completes PUBREL/PUBCOMP) still gets through after the flood.
    const good = await connectDevice(suite.service.mqttPort!, 'q2-b', suite.ws.deviceTokens['q2-b']!);
    for (let i = 0; i < 20; i++) await good.publishAsync('cc/v1/q2-b/telemetry', JSON.stringify({ ts: Date.now() - 1000 + i, temperature: 4 }), { qos: 2 });
    expect(good.connected).toBe(true);
    await good.endAsync();
  });
});
