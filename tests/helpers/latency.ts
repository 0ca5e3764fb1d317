import type { MqttClient } from 'mqtt';

/** The 99th percentile of `xs` (nearest rank). */
export const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.99))]!;

/**
 * Sequential QoS 1 publishes of one reading each, a second apart in device time: each call of the
 * meter publishes `count` readings, going on from where the last call stopped (the first from `t0`),
 * and gives each PUBACK's latency in ms.
 */
export function pubackMeter(device: MqttClient, deviceId: string, t0: number): (count: number) => Promise<number[]> {
  let t = t0;
  return async (count) => {
    const out: number[] = [];
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      await device.publishAsync(`cc/v1/${deviceId}/telemetry`, JSON.stringify({ ts: t + i * 1000, temperature: 4 + (i % 10) / 10 }), { qos: 1 });
      out.push(performance.now() - started);
    }
    t += count * 1000;
    return out;
  };
}
