import mqtt from 'mqtt';

/**
 * The two clients of an alert latency measurement: a follower of cc/v1/alerts/# signed in as `user`
 * (at `urls.follower`), and the probe device (at `urls.probe`, which may be another node). A
 * crossing waits in `waiting` under its reading's ts, which is the alert's occurredAt; the
 * follower resolves it with performance.now() when that alert's `activated` message arrives.
 */
export async function alertProbe(urls: { follower: string; probe: string }, user: { name: string; password: string }, device: { id: string; token: string }) {
  const follower = await mqtt.connectAsync(urls.follower, { username: user.name, password: user.password, reconnectPeriod: 0 });
  const waiting = new Map<number, (at: number) => void>();
  follower.on('message', (_topic, payload) => {
    const alert = JSON.parse(payload.toString()) as { event: string; deviceId: string; occurredAt: number };
    if (alert.event === 'activated' && alert.deviceId === device.id) waiting.get(alert.occurredAt)?.(performance.now());
  });
  await follower.subscribeAsync('cc/v1/alerts/#', { qos: 1 });
  const probe = await mqtt.connectAsync(urls.probe, { username: device.id, password: device.token, reconnectPeriod: 0 });
  return { follower, probe, waiting, topic: `cc/v1/${device.id}/telemetry` };
}
