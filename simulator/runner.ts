import mqtt, { type MqttClient } from 'mqtt';
import type { ProductProfile } from '../core/config/schema.js';
import { renderScenario, scenarioDevices, type GroundTruthExcursion } from './render.js';
import type { Scenario } from './scenario.js';
import type { DeviceTrace } from './expected-alarms.js';
import { sleep } from '../core/sleep.js';

export interface SimulationOptions {
  scenario: Scenario;
  brokerUrl: string;
  tokens: Map<string, string>;
  profileByLocation: Map<string, ProductProfile>;
  /** Keep each device's true state and what it sent (result.traces). */
  trace?: boolean;
  seed: string | number;
  /** Simulated seconds per real second; Infinity publishes as fast as the broker acknowledges. */
  speed: number;
  /** Overrides the scenario's duration; without either the simulation runs until aborted. */
  durationMs?: number;
  /** Simulated start; by default chosen so that the simulated clock never runs ahead of the real one. */
  start?: number;
  signal?: AbortSignal;
  onProgress?: (progress: SimulationProgress) => void;
  progressEveryMs?: number;
  /** Keep retrying refused credentials this long (devices provisioned a moment ago). */
  authRetryMs?: number;
}

export interface SimulationProgress {
  simulatedTime: number;
  devicesConnected: number;
  devices: number;
  readingsSent: number;
  messagesSent: number;
  acknowledged: number;
  buffered: number;
  rejected: number;
  elapsedMs: number;
}

export interface SimulationResult extends SimulationProgress {
  start: number;
  end: number;
  groundTruth: GroundTruthExcursion[];
  /** What each device went through and sent (with `trace`), for judging the alarms raised. */
  traces: DeviceTrace[];
  rejectedByReason: Record<string, number>;
  /** Per device, the readings sent (for checks against what was stored). */
  readingsByDevice: Record<string, number>;
  /** Load scenario: requested and achieved readings per second. */
  requestedRate?: number;
  achievedRate?: number;
}

const MAX_IN_FLIGHT = 200;

async function connectDevice(brokerUrl: string, deviceId: string, token: string | undefined, tokensHint: string, authRetryMs: number): Promise<MqttClient> {
  if (!token) throw new Error(`no token for device ${deviceId}; run with --provision to register the scenario's devices (${tokensHint})`);
  const deadline = Date.now() + authRetryMs;
  try {
    for (;;) {
      try {
        return await mqtt.connectAsync(
          brokerUrl,
          { clientId: `sim-${deviceId}`, username: deviceId, password: token, reconnectPeriod: 1000, connectTimeout: 10_000, clean: true },
          false,
        );
      } catch (err) {
        // A just-provisioned device is known to the service once it has reloaded its config.
        if (!/Bad username or password/i.test((err as Error).message) || Date.now() > deadline) throw err;
        await sleep(250);
      }
    }
  } catch (err) {
    const message = (err as Error).message;
    if (/Bad username or password|Not authorized/i.test(message))
      throw new Error(
        `the broker at ${brokerUrl} refused device ${deviceId}: bad username or password (is it registered in this config? --provision re-issues its token)`,
      );
    const code = (err as { code?: string }).code;
    throw new Error(`cannot reach the broker at ${brokerUrl}: ${code === 'ECONNREFUSED' ? 'connection refused' : message}`);
  }
}

/** Connects the scenario's devices and publishes what they measure, on the simulated clock. */
export async function runSimulation(options: SimulationOptions, tokensHint = 'simulator-tokens.json'): Promise<SimulationResult> {
  const { scenario, speed } = options;
  const durationMs = options.durationMs ?? scenario.duration;
  const now = Date.now();
  // Accelerated runs end "now": device time must never be ahead of the broker's clock.
  const start = options.start ?? (durationMs !== undefined && speed > 1 ? now - durationMs : now);
  const end = durationMs !== undefined ? start + durationMs : undefined;
  const rendered = renderScenario(scenario, { seed: options.seed, start, end, profileByLocation: options.profileByLocation, trace: options.trace ?? false });
  const devices = scenarioDevices(scenario);

  const clients = new Map<string, MqttClient>();
  const inFlight = new Map<string, number>();
  const rejectedByReason: Record<string, number> = {};
  const readingsByDevice: Record<string, number> = {};
  const progress: SimulationProgress = {
    simulatedTime: start,
    devicesConnected: 0,
    devices: devices.length,
    readingsSent: 0,
    messagesSent: 0,
    acknowledged: 0,
    buffered: 0,
    rejected: 0,
    elapsedMs: 0,
  };
  try {
    for (let i = 0; i < devices.length; i += 50) {
      const slice = devices.slice(i, i + 50);
      const connected = await Promise.all(
        slice.map((d) => connectDevice(options.brokerUrl, d.id, options.tokens.get(d.id), tokensHint, options.authRetryMs ?? 0)),
      );
      connected.forEach((client, j) => {
        const id = slice[j]!.id;
        clients.set(id, client);
        inFlight.set(id, 0);
        client.on('error', () => undefined);
        client.on('message', (_topic, payload) => {
          try {
            const notice = JSON.parse(payload.toString()) as { rejected: Array<{ reason: string }>; total: number };
            progress.rejected += notice.total;
            for (const r of notice.rejected) rejectedByReason[r.reason] = (rejectedByReason[r.reason] ?? 0) + 1;
          } catch {
            // not a reject notice
          }
        });
        client.subscribe(`cc/v1/${id}/downlink/rejects`, { qos: 0 });
      });
      progress.devicesConnected = clients.size;
    }

    const realStart = performance.now();
    const report = () => {
      progress.elapsedMs = performance.now() - realStart;
      progress.buffered = rendered.buffered();
      options.onProgress?.({ ...progress });
    };
    const ticker = setInterval(report, options.progressEveryMs ?? 2000);
    try {
      for (const message of rendered.messages) {
        if (options.signal?.aborted) break;
        if (Number.isFinite(speed)) {
          const dueMs = (message.publishAt - start) / speed;
          const waitMs = dueMs - (performance.now() - realStart);
          if (waitMs > 2) await sleep(waitMs, options.signal);
          if (options.signal?.aborted) break;
        }
        const client = clients.get(message.deviceId)!;
        while ((inFlight.get(message.deviceId) ?? 0) >= MAX_IN_FLIGHT) await sleep(2);
        inFlight.set(message.deviceId, inFlight.get(message.deviceId)! + 1);
        const payload = JSON.stringify(message.batch ? message.readings : message.readings[0]);
        client.publish(`cc/v1/${message.deviceId}/telemetry`, payload, { qos: 1 }, (err) => {
          inFlight.set(message.deviceId, inFlight.get(message.deviceId)! - 1);
          if (!err) progress.acknowledged += message.readings.length;
        });
        progress.messagesSent++;
        progress.readingsSent += message.readings.length;
        readingsByDevice[message.deviceId] = (readingsByDevice[message.deviceId] ?? 0) + message.readings.length;
        progress.simulatedTime = message.publishAt;
      }
      // Wait for the last acknowledgements (bounded: a dead broker must not hang the run).
      const deadline = performance.now() + 30_000;
      while (progress.acknowledged < progress.readingsSent && performance.now() < deadline && !options.signal?.aborted) await sleep(20);
    } finally {
      clearInterval(ticker);
      report();
    }
    const elapsedS = progress.elapsedMs / 1000;
    const result: SimulationResult = {
      ...progress,
      start,
      end: end ?? progress.simulatedTime,
      groundTruth: rendered.groundTruth(),
      traces: rendered.traces(),
      rejectedByReason,
      readingsByDevice,
    };
    if (scenario.load) {
      result.requestedRate = Number.isFinite(speed) ? scenario.load.rate * speed : Infinity;
      result.achievedRate = elapsedS > 0 ? progress.readingsSent / elapsedS : 0;
    }
    return result;
  } finally {
    await Promise.all([...clients.values()].map((c) => c.endAsync().catch(() => undefined)));
  }
}
