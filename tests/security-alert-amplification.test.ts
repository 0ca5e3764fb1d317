import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../app/service.js';
import type { Alert } from '../alerts/book.js';
import { connectDevice, makeWorkspace, startTestService, unlimitedRate, waitFor, type Workspace } from './helpers/workspace.js';

const MIN = 60_000;

/**
 * Issue 12, item 7: a backlog uploaded out of order, one reading a message, used to replay the
 * device's history once per message; each partial replay found a gap of its own and retracted the
 * last (300 messages: 600 alerts, 19,320 events). Now the backlog is judged once it stops coming.
 */
describe('alert amplification by an out-of-order backlog', () => {
  let ws: Workspace;
  let service: RunningService;
  const alertsOf = async (deviceId: string) =>
    (
      (await (await fetch(`http://127.0.0.1:${service.httpPort}/api/v1/alerts`, { headers: { Authorization: `Bearer ${ws.apiTokens.viewer}` } })).json())
        .alerts as Alert[]
    ).filter((a) => a.deviceId === deviceId);

  beforeAll(async () => {
    ws = makeWorkspace({ devices: ['amp-1'], yamlPatch: unlimitedRate });
    service = await startTestService(ws);
  });
  afterAll(async () => {
    await service?.stop();
  });

  it('300 backfill messages, one reading each, raise no alarm but the one gap alarm, retracted once filled', async () => {
    const device = await connectDevice(service.mqttPort!, 'amp-1', ws.deviceTokens['amp-1']!);
    const start = Date.now() - 320 * MIN;
    const publish = (ts: number) => device.publishAsync('cc/v1/amp-1/telemetry', JSON.stringify({ ts, temperature: 5 }), { qos: 1 });
    for (let i = 0; i < 10; i++) await publish(start + i * MIN);
    // Live again after 300 minutes: a real gap at this moment, so one communication alarm.
    await publish(start + 310 * MIN);
    const gap = await waitFor(
      async () => (await alertsOf('amp-1')).filter((a) => a.kind === 'device_silent'),
      (list) => list.length === 1,
      10_000,
      'the gap alarm',
    );
    // The device uploads its buffer oldest first, one reading per message: each one, judged alone,
    // moved the gap's start and so made a new gap alarm and retracted the previous one.
    for (let i = 10; i < 310; i++) await publish(start + i * MIN);
    await waitFor(
      async () => (await alertsOf('amp-1')).find((a) => a.id === gap[0]!.id)?.state,
      (state) => state === 'retracted',
      15_000,
      'the gap alarm retracted',
    );
    const alerts = await alertsOf('amp-1');
    expect(alerts.map((a) => [a.kind, a.state])).toEqual([['device_silent', 'retracted']]);
    // The engine's state is what the whole series in order gives, judged in one replay.
    expect(service.alerts.engine.recent('amp-1', start).length).toBe(311);
    await device.endAsync();
  });
});
