import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../app/service.js';
import { loadAlertEvents } from '../alerts/event-store.js';
import { connectDevice, influxFor, startTestService, streamingWorkspace, waitFor, type Workspace } from './helpers/workspace.js';
import { excursionReadings } from './helpers/alarms.js';

const MIN = 60_000;

/**
 * One node, no cluster: a restart rebuilds the book from the event store, then warms the rules
 * engine up on the last 48 h of readings. That replay finds the open episode again (same id) and
 * must not announce it again: no second `pending` or `activated`, on MQTT or in the event store.
 */
describe('alerts: a single node restarted during an excursion', () => {
  let ws: Workspace;
  let service: RunningService | undefined;

  beforeAll(async () => {
    ws = await streamingWorkspace({ devices: ['warm-1', 'warm-2'], users: ['olga'] });
  });

  afterAll(async () => {
    await service?.stop();
  });

  it('publishes and stores no second activation of an alert that was active before the restart', async () => {
    const follow = async (port: number) => {
      const messages: Array<{ type: string; event: string; id: string; deviceId: string }> = [];
      const follower = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { username: 'olga', password: 'olga-password-1', reconnectPeriod: 0 });
      follower.on('message', (_t, payload) => messages.push(JSON.parse(payload.toString())));
      await follower.subscribeAsync('cc/v1/alerts/#', { qos: 1 });
      return { messages, end: () => follower.endAsync() };
    };
    service = await startTestService(ws);
    const before = await follow(service.mqttPort!);
    // warm-1: active and unacknowledged; warm-2: active and acknowledged.
    const t0 = Date.now() - 40 * MIN;
    const excursion = JSON.stringify(excursionReadings(t0));
    const ids: Record<string, string> = {};
    for (const deviceId of ['warm-1', 'warm-2']) {
      const device = await connectDevice(service.mqttPort!, deviceId, ws.deviceTokens[deviceId]!);
      await device.publishAsync(`cc/v1/${deviceId}/telemetry`, excursion, { qos: 1 });
      await device.endAsync();
      const activated = await waitFor(
        async () => before.messages.find((m) => m.type === 'alert' && m.deviceId === deviceId && m.event === 'activated'),
        Boolean,
        10_000,
        `${deviceId}'s alert activated`,
      );
      ids[deviceId] = activated!.id;
    }
    const ack = await fetch(`http://127.0.0.1:${service.httpPort}/api/v1/alerts/${ids['warm-2']}/ack`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ws.apiTokens.admin}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ user: 'olga', password: 'olga-password-1', meaning: 'acknowledged', comment: 'door shut' }),
    });
    expect(ack.status).toBe(200);
    await before.end();
    await service.writer.flush(10_000);
    await service.stop();

    // Restarted on the same data directory and database. What the warm-up records is published
    // before any follower can subscribe, so the event store (every recorded event is also published) tells.
    service = await startTestService(ws);
    const after = await follow(service.mqttPort!);
    // The excursions go on after the restart: judged by the warmed-up engine.
    for (const deviceId of ['warm-1', 'warm-2']) {
      const device = await connectDevice(service.mqttPort!, deviceId, ws.deviceTokens[deviceId]!);
      await device.publishAsync(`cc/v1/${deviceId}/telemetry`, JSON.stringify({ ts: t0 + 25 * MIN, temperature: 9.7 }), { qos: 1 });
      await device.endAsync();
    }
    await waitFor(
      async () => ['warm-1', 'warm-2'].every((d) => service!.alerts.engine.recent(d, t0 + 25 * MIN).length > 0),
      Boolean,
      10_000,
      'the readings after the restart judged',
    );
    await service.writer.flush(10_000);
    await after.end();
    const states = Object.fromEntries(['warm-1', 'warm-2'].map((d) => [d, service!.alerts.book.get(ids[d]!)?.state]));
    expect(states).toEqual({ 'warm-1': 'active', 'warm-2': 'acknowledged' });
    expect(after.messages.filter((m) => m.type === 'alert').map((m) => `${m.deviceId} ${m.event}`)).toEqual([]);
    for (const deviceId of ['warm-1', 'warm-2']) {
      const events = (await loadAlertEvents(influxFor(ws), { alertId: ids[deviceId]! })).map((e) => e.event);
      expect(
        events.filter((e) => e === 'activated'),
        `${deviceId}: ${events.join(', ')}`,
      ).toEqual(['activated']);
      expect(events.filter((e) => e === 'pending').length, `${deviceId}: ${events.join(', ')}`).toBeLessThanOrEqual(1);
    }
  }, 60_000);
});
