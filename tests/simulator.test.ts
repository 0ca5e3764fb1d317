import { describe, expect, it } from 'vitest';
import { loadConfig } from '../core/config/load.js';
import { prepareScenario, profilesByLocation } from '../cli/simulate.js';
import { scenarioDevices } from '../simulator/render.js';
import { provisionDevices, readTokens } from '../simulator/provision.js';
import { runSimulation } from '../simulator/runner.js';
import { influxFor, makeWorkspace, readingCount, readingsStored, run, serviceOn, unlimitedRate, waitFor } from './helpers/workspace.js';
import path from 'node:path';

describe('simulator against the real service', () => {
  const suite = serviceOn(() => makeWorkspace({ devices: [], yamlPatch: unlimitedRate }));

  const simulate = async (name: string, overrides: { devices?: number; rate?: number; speed?: number; durationMs?: number } = {}) => {
    const { config } = loadConfig(suite.ws.configFile);
    const scenario = prepareScenario({ scenario: name, devices: overrides.devices, rate: overrides.rate }, config);
    const { tokens } = provisionDevices(suite.ws.configFile, suite.service.dataDir, scenarioDevices(scenario));
    suite.service.registry.reload();
    return runSimulation({
      scenario,
      brokerUrl: `mqtt://127.0.0.1:${suite.service.mqttPort}`,
      tokens,
      profileByLocation: profilesByLocation(config),
      seed: 42,
      speed: overrides.speed ?? Infinity,
      durationMs: overrides.durationMs,
    });
  };

  it.each(['door-left-open', 'freezer-defrost', 'power-outage', 'reefer-failure-in-tunnel', 'long-haul-with-coverage-gaps'])(
    '%s: every reading it sent is in InfluxDB, per device',
    async (name) => {
      const result = await simulate(name);
      expect(result.rejected).toBe(0);
      expect(result.acknowledged).toBe(result.readingsSent);
      const influx = influxFor(suite.ws);
      for (const [deviceId, sent] of Object.entries(result.readingsByDevice)) {
        await readingsStored(influx, deviceId, (n) => n === sent, `${sent} readings of ${deviceId}`);
      }
    },
  );

  it('door-left-open: the injected excursion shows in the stored readings at the ground-truth time', async () => {
    const result = await simulate('door-left-open');
    const [truth] = result.groundTruth.filter((g) => g.deviceId === 'sim-door-a');
    expect(truth).toMatchObject({ kind: 'temperature_high', locationId: 'dc-sh-cold-room-1' });
    const occurredAt = Date.parse(truth!.occurredAt);
    expect(occurredAt - result.start).toBeGreaterThan(60 * 60_000);
    expect(occurredAt - result.start).toBeLessThan(90 * 60_000);
    const [series] = await influxFor(suite.ws).query(
      `SELECT max("temperature") FROM "readings" WHERE "deviceId" = 'sim-door-a' AND time >= ${occurredAt}ms AND time < ${Date.parse(truth!.clearedAt!)}ms`,
    );
    expect(series!.values[0]![1] as number).toBeGreaterThan(8);
  });

  it.each(['door-left-open', 'power-outage', 'reefer-failure-in-tunnel'])(
    '%s: the service raises the alerts the ground truth lists, with matching times',
    async (name) => {
      const result = await simulate(name);
      const truths = result.groundTruth.filter((g) => g.kind === 'temperature_high');
      expect(truths.length).toBeGreaterThan(0);
      // Tolerance: the sensors see the physics at their interval through ±0.15 °C noise, and an
      // alarm clears only 0.3 °C inside the limit. Where the room drifts slowly across 8 °C (power
      // outage: ≈ 1.75 °C/h at the crossing) that is worth about 10 minutes either way.
      const tolerance = 15 * 60_000;
      for (const truth of truths) {
        const occurredAt = Date.parse(truth.occurredAt);
        const raised = () =>
          suite.service.alerts.book
            .list()
            .filter((a) => a.deviceId === truth.deviceId && a.kind === 'temperature_high' && ['active', 'acknowledged', 'cleared'].includes(a.state));
        const alert = await waitFor(
          async () => raised().sort((x, y) => Math.abs(x.occurredAt - occurredAt) - Math.abs(y.occurredAt - occurredAt))[0],
          // An out-of-order backlog is judged once it stops coming: wait for the settled state.
          (a) => a !== undefined && Math.abs(a.occurredAt - occurredAt) <= tolerance && a.state === (truth.clearedAt ? 'cleared' : 'active'),
          10_000,
          `the alert for ${truth.deviceId} at ${truth.occurredAt}`,
        );
        expect(alert!.state).toBe(truth.clearedAt ? 'cleared' : 'active');
        if (truth.clearedAt) expect(Math.abs(alert!.clearedAt! - Date.parse(truth.clearedAt))).toBeLessThanOrEqual(tolerance);
        // An accelerated run replays the past: every alert is found after the fact.
        expect(alert!.late).toBe(true);
      }
    },
  );

  it('demo: the sample site runs normally (no injected excursion) with 2 sensors per store', async () => {
    const result = await simulate('demo', { durationMs: 2 * 3_600_000 });
    expect(result.groundTruth).toEqual([]);
    expect(result.devicesConnected).toBe(8);
    expect(result.rejected).toBe(0);
  });

  it('load: sustains the requested rate and reports achieved against requested', async () => {
    const result = await simulate('load', { devices: 20, rate: 400, speed: 1, durationMs: 5000 });
    expect(result.requestedRate).toBe(400);
    expect(result.achievedRate!).toBeGreaterThan(400 * 0.85);
    expect(result.readingsSent).toBe(2000);
    await waitFor(
      async () => {
        let total = 0;
        for (let i = 0; i < 20; i++) total += await readingCount(influxFor(suite.ws), `load-${i}`);
        return total;
      },
      (n) => n === 2000,
      20_000,
      '2000 load readings',
    );
  });

  it('coldchain simulate: provisions, reports progress and a summary, writes the ground truth', async () => {
    const groundTruth = path.join(suite.ws.dir, 'gt.json');
    const cli = await run(
      process.execPath,
      [
        path.resolve('dist/cli/main.js'),
        'simulate',
        '--config',
        suite.ws.configFile,
        '--broker',
        `mqtt://127.0.0.1:${suite.service.mqttPort}`,
        '--scenario',
        'power-outage',
        '--speed',
        '20000',
        '--seed',
        '9',
        '--provision',
        '--ground-truth',
        groundTruth,
      ],
      undefined,
      60_000,
    );
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stderr).toMatch(/\[simulate\] sim \d{4}-\d\d-\d\d \d\d:\d\d \| 2\/2 devices \| \d+ readings/);
    expect(cli.stdout).toContain('devices 2, messages 720, readings sent 720, acknowledged 720, rejected 0');
    expect(cli.stdout).toContain(`injected excursions: 2 (written to ${groundTruth})`);
    expect(readTokens(suite.service.dataDir).has('sim-power-a')).toBe(true);
  });

  it('a bad broker URL and rejected credentials give clear errors', async () => {
    const main = path.resolve('dist/cli/main.js');
    const simulate = (configFile: string, broker: string) =>
      run(process.execPath, [main, 'simulate', '--config', configFile, '--broker', broker, '--scenario', 'power-outage', '--speed', 'max'], undefined, 30_000);
    const refused = await simulate(suite.ws.configFile, 'mqtt://127.0.0.1:1');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('error: cannot reach the broker at mqtt://127.0.0.1:1: connection refused');
    // Another site's config: its devices and tokens mean nothing to this service.
    const other = makeWorkspace({ devices: [] });
    const otherDataDir = path.join(other.dir, 'data');
    const unprovisioned = await simulate(other.configFile, `mqtt://127.0.0.1:${suite.service.mqttPort}`);
    expect(unprovisioned.code).toBe(1);
    expect(unprovisioned.stderr).toContain(
      `error: no token for device sim-power-a; run with --provision to register the scenario's devices (${otherDataDir}/simulator-tokens.json)`,
    );
    provisionDevices(other.configFile, otherDataDir, [
      { id: 'sim-power-a', location: 'dc-sh-cold-room-1', interval: 60_000 },
      { id: 'sim-power-b', location: 'dc-sh-cold-room-1', interval: 60_000 },
    ]);
    const refusedCredentials = await simulate(other.configFile, `mqtt://127.0.0.1:${suite.service.mqttPort}`);
    expect(refusedCredentials.code).toBe(1);
    // Refusals take as long as a password check, so which device is refused first is not fixed.
    expect(refusedCredentials.stderr).toMatch(
      new RegExp(`error: the broker at mqtt://127\\.0\\.0\\.1:${suite.service.mqttPort} refused device sim-power-[ab]: bad username or password`),
    );
  });
});
