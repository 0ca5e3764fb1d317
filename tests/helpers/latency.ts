import type { MqttClient } from 'mqtt';

/** The 99th percentile of `xs` (nearest rank). */
export const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.99))]!;

/** Sequential QoS 1 publishes of one reading each, a second apart in device time from `t0`; each PUBACK's latency in ms. */
export async function pubackLatencies(device: MqttClient, deviceId: string, count: number, t0: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await device.publishAsync(`cc/v1/${deviceId}/telemetry`, JSON.stringify({ ts: t0 + i * 1000, temperature: 4 + (i % 10) / 10 }), { qos: 1 });
    out.push(performance.now() - started);
  }
  return out;
}
