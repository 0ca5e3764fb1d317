/**
 * The benchmark's load generator, run as its own process so it does not share an event loop with
 * the server under test. Parent → child messages over IPC: a plan, then "go"; child → parent:
 * "ready" once every connection is up, then the result.
 */
import mqtt, { type MqttClient } from 'mqtt';

export interface LoadPlan {
  url: string;
  devices: Array<{ id: string; token?: string }>;
  messagesPerDevice: number;
  qos: 0 | 1;
  /** 1 = one reading per message; otherwise each message is an array of 10..maxBatch readings. */
  maxBatch: number;
  /** Publishes in flight per connection. */
  window: number;
  firstTs: number;
  /** Only connect and stay idle (memory per connection). */
  idle?: boolean;
}

export interface LoadResult {
  messages: number;
  readings: number;
  seconds: number;
}

function batchSize(deviceIndex: number, message: number, maxBatch: number): number {
  if (maxBatch <= 1) return 1;
  return 10 + ((deviceIndex * 31 + message * 17) % (maxBatch - 9));
}

async function connectAll(plan: LoadPlan): Promise<MqttClient[]> {
  const clients: MqttClient[] = [];
  for (let i = 0; i < plan.devices.length; i += 100) {
    const slice = plan.devices.slice(i, i + 100);
    clients.push(
      ...(await Promise.all(
        slice.map((d) =>
          mqtt.connectAsync(plan.url, {
            clientId: d.id,
            username: d.token ? d.id : undefined,
            password: d.token,
            reconnectPeriod: 0,
            keepalive: 300,
            connectTimeout: 30_000,
          }),
        ),
      )),
    );
  }
  return clients;
}

async function runDevice(client: MqttClient, deviceIndex: number, deviceId: string, plan: LoadPlan): Promise<number> {
  const topic = `cc/v1/${deviceId}/telemetry`;
  let next = 0;
  let done = 0;
  let readings = 0;
  let tsCursor = plan.firstTs;
  const payload = (message: number) => {
    const size = batchSize(deviceIndex, message, plan.maxBatch);
    readings += size;
    if (plan.maxBatch <= 1) return `{"ts":${tsCursor++},"temperature":${(4 + (message % 30) / 10).toFixed(1)},"humidity":55.2,"seq":${message}}`;
    const items: string[] = [];
    for (let k = 0; k < size; k++) items.push(`{"ts":${tsCursor++},"temperature":${(4 + (k % 30) / 10).toFixed(1)},"seq":${message * 1000 + k}}`);
    return `[${items.join(',')}]`;
  };
  await new Promise<void>((resolve, reject) => {
    if (plan.messagesPerDevice === 0) return resolve();
    let inflight = 0;
    const pump = () => {
      while (inflight < plan.window && next < plan.messagesPerDevice) {
        inflight++;
        const message = next++;
        client.publish(topic, payload(message), { qos: plan.qos }, (err) => {
          if (err) return reject(err);
          inflight--;
          done++;
          if (done === plan.messagesPerDevice) resolve();
          else pump();
        });
      }
    };
    pump();
  });
  return readings;
}

process.on('message', async (message: { plan?: LoadPlan; go?: boolean; stop?: boolean }) => {
  if (message.plan) {
    const plan = message.plan;
    const clients = await connectAll(plan);
    process.send!({ ready: true });
    if (plan.idle) {
      process.once('message', async () => {
        await Promise.all(clients.map((c) => c.endAsync()));
        process.exit(0);
      });
      return;
    }
    await new Promise<void>((resolve) => process.once('message', () => resolve()));
    const started = performance.now();
    // Devices get disjoint time ranges so every reading is a distinct point.
    const span = plan.messagesPerDevice * Math.max(1, plan.maxBatch) + 1;
    const perDevice = await Promise.all(clients.map((client, i) => runDevice(client, i, plan.devices[i]!.id, { ...plan, firstTs: plan.firstTs + i * span })));
    const seconds = (performance.now() - started) / 1000;
    const result: LoadResult = { messages: plan.messagesPerDevice * clients.length, readings: perDevice.reduce((a, b) => a + b, 0), seconds };
    process.send!({ result });
    await Promise.all(clients.map((c) => c.endAsync()));
    process.exit(0);
  }
});
