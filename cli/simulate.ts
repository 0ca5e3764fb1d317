import { writeFileSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { loadConfig } from '../core/config/load.js';
import type { Config, ProductProfile } from '../core/config/schema.js';
import { parseDuration } from '../core/duration.js';
import { builtInScenarios, loadScenario, type Scenario } from '../simulator/scenario.js';
import { scenarioDevices } from '../simulator/render.js';
import { provisionDevices, readTokens, tokensFile } from '../simulator/provision.js';
import { runSimulation, type SimulationProgress } from '../simulator/runner.js';

export interface SimulateFlags {
  scenario: string;
  config?: string;
  broker?: string;
  speed: number;
  seed: string;
  duration?: string;
  devices?: number;
  rate?: number;
  groundTruth?: string;
  provision?: boolean;
}

export function parseSpeed(value: string): number {
  if (value === 'max') return Infinity;
  const speed = Number(value);
  if (!(speed > 0)) throw new InvalidArgumentError('expected a positive number of simulated seconds per real second, or "max"');
  return speed;
}

export function profilesByLocation(config: Config): Map<string, ProductProfile> {
  const profiles = new Map(config.profiles.map((p) => [p.id, p]));
  return new Map(config.sites.flatMap((site) => site.locations.map((location) => [location.id, profiles.get(location.profile)!] as const)));
}

/** Scenario with command-line load overrides applied, and its locations checked against the registry. */
export function prepareScenario(flags: Pick<SimulateFlags, 'scenario' | 'devices' | 'rate'>, config: Config): Scenario {
  const scenario = loadScenario(flags.scenario);
  if (flags.devices !== undefined || flags.rate !== undefined) {
    if (!scenario.load) throw new Error(`--devices/--rate apply to the load scenario; "${scenario.name}" has no load section`);
    scenario.load = { ...scenario.load, devices: flags.devices ?? scenario.load.devices, rate: flags.rate ?? scenario.load.rate };
  }
  const known = profilesByLocation(config);
  for (const device of scenarioDevices(scenario)) {
    if (!known.has(device.location))
      throw new Error(`scenario "${scenario.name}" uses location "${device.location}", which is not in the config; known: ${[...known.keys()].join(', ')}`);
  }
  return scenario;
}

const formatProgress = (p: SimulationProgress) =>
  `[simulate] sim ${new Date(p.simulatedTime).toISOString().slice(0, 16).replace('T', ' ')} | ${p.devicesConnected}/${p.devices} devices | ${p.readingsSent} readings in ${p.messagesSent} messages | acked ${p.acknowledged} | buffered ${p.buffered} | rejected ${p.rejected} | ${(p.elapsedMs / 1000).toFixed(0)} s\n`;

export async function simulateCommand(flags: SimulateFlags): Promise<void> {
  const loaded = loadConfig(flags.config);
  const scenario = prepareScenario(flags, loaded.config);
  const durationMs = flags.duration === undefined ? undefined : parseDuration(flags.duration);
  if (flags.duration !== undefined && durationMs === undefined) throw new Error(`--duration "${flags.duration}" is not a duration; write e.g. 30m, 6h, 2d`);
  const devices = scenarioDevices(scenario);
  const provisioned = flags.provision ? provisionDevices(loaded.file, loaded.dataDir, devices) : undefined;
  const tokens = provisioned?.tokens ?? readTokens(loaded.dataDir);
  const changed = (provisioned?.registered.length ?? 0) + (provisioned?.reissued.length ?? 0) > 0;
  if (flags.provision) process.stderr.write(`[simulate] provisioned ${devices.length} devices; tokens in ${tokensFile(loaded.dataDir)}\n`);
  const brokerUrl = flags.broker ?? `mqtt://127.0.0.1:${loaded.config.mqtt.port || 1883}`;
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  process.once('SIGTERM', () => abort.abort());
  process.stderr.write(`[simulate] scenario ${scenario.name}: ${scenario.description.trim()}\n`);
  const result = await runSimulation(
    {
      scenario,
      brokerUrl,
      tokens,
      profileByLocation: profilesByLocation(loaded.config),
      seed: flags.seed,
      speed: flags.speed,
      durationMs,
      signal: abort.signal,
      authRetryMs: changed ? 10_000 : 0,
      onProgress: (p) => process.stderr.write(formatProgress(p)),
    },
    tokensFile(loaded.dataDir),
  );
  if (flags.groundTruth) writeFileSync(flags.groundTruth, `${JSON.stringify(result.groundTruth, null, 2)}\n`);
  const lines = [
    `scenario ${scenario.name} (seed ${flags.seed}, speed ${flags.speed === Infinity ? 'max' : `${flags.speed}x`})`,
    `simulated ${new Date(result.start).toISOString()} → ${new Date(result.end).toISOString()}`,
    `devices ${result.devicesConnected}, messages ${result.messagesSent}, readings sent ${result.readingsSent}, acknowledged ${result.acknowledged}, rejected ${result.rejected}${Object.keys(result.rejectedByReason).length ? ` (${JSON.stringify(result.rejectedByReason)})` : ''}`,
    `injected excursions: ${result.groundTruth.length}${flags.groundTruth ? ` (written to ${flags.groundTruth})` : ''}`,
  ];
  if (result.requestedRate !== undefined)
    lines.push(
      `load: requested ${Number.isFinite(result.requestedRate) ? Math.round(result.requestedRate) : 'max'} readings/s, achieved ${Math.round(result.achievedRate ?? 0)} readings/s`,
    );
  if (scenario.expect) lines.push(`a correct system detects: ${scenario.expect.trim()}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  if (result.acknowledged < result.readingsSent && !abort.signal.aborted) {
    throw new Error(`${result.readingsSent - result.acknowledged} readings were not acknowledged by the broker`);
  }
}

export const SCENARIO_HELP = `shipped scenario (${builtInScenarios().join(', ')}) or a scenario file`;
