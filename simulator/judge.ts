import type { Config } from '../core/config/schema.js';
import { Registry } from '../core/registry.js';
import { AlertEngine, offlineAfter, type AlertChange } from '../alerts/engine.js';
import { expectedAlarms, judgeAlarms, type AlarmJudgement, type ExpectedAlarm, type RaisedAlarm } from './expected-alarms.js';
import { renderScenario, scenarioDevices } from './render.js';
import type { Scenario } from './scenario.js';

/** The alarms raised, as the judge counts them: every alert that became active at least once. */
export function raisedFrom(changes: Iterable<AlertChange>): RaisedAlarm[] {
  const byId = new Map<string, RaisedAlarm>();
  for (const c of changes) {
    if (c.state !== 'active' && !(c.state === 'cleared' || c.state === 'retracted')) continue;
    if (c.activatedAt === undefined) continue;
    byId.set(c.id, { id: c.id, deviceId: c.deviceId, kind: c.kind, occurredAt: c.occurredAt, clearedAt: c.clearedAt ?? null });
  }
  return [...byId.values()];
}

/** What a good system raises for this run of the scenario (its devices must be in the config). */
export function expectedFor(config: Config, traces: ReturnType<ReturnType<typeof renderScenario>['traces']>): ExpectedAlarm[] {
  const registry = new Registry(config);
  return traces.flatMap((trace) => {
    const placement = registry.device(trace.deviceId);
    if (!placement) return [];
    return expectedAlarms(
      trace,
      { range: placement.profile, rules: placement.rules, suppress: placement.location.suppress, offlineAfterMs: offlineAfter(placement) },
      config.alarms,
    );
  });
}

/** The scenario's devices added to a config (as `--provision` does), for judging in process. */
export function withScenarioDevices(config: Config, scenario: Scenario): Config {
  const known = new Set(config.devices.map((d) => d.id));
  const added = scenarioDevices(scenario)
    .filter((d) => !known.has(d.id))
    .map((d) => ({ id: d.id, location: d.location, interval: d.interval, tokenHash: `sha256:${'0'.repeat(64)}`, name: 'simulated' }));
  return { ...config, devices: [...config.devices, ...added] };
}

/**
 * Runs a scenario through the rules engine in process on the simulated clock (the live silence
 * check every simulated minute, as the service does every second) and judges the alarms against
 * what the simulator knows happened. The end-to-end test does the same through the real service.
 */
export function judgeScenarioInProcess(
  scenario: Scenario,
  baseConfig: Config,
  options: { seed: string | number; start: number; durationMs: number },
): AlarmJudgement & { expected: ExpectedAlarm[]; raisedAlarms: RaisedAlarm[]; changes: AlertChange[] } {
  const config = withScenarioDevices(baseConfig, scenario);
  const registry = new Registry(config);
  const profileByLocation = new Map(config.sites.flatMap((s) => s.locations).map((l) => [l.id, config.profiles.find((p) => p.id === l.profile)!]));
  const end = options.start + options.durationMs;
  const rendered = renderScenario(scenario, { seed: options.seed, start: options.start, end, profileByLocation, trace: true });
  let now = options.start;
  const engine = new AlertEngine(() => registry, { now: () => now });
  const changes: AlertChange[] = [];
  engine.on('change', (c) => changes.push(c));
  let checked = options.start;
  for (const m of rendered.messages) {
    for (; checked + 60_000 <= m.publishAt; checked += 60_000) {
      now = checked + 60_000;
      engine.checkSilence();
    }
    now = m.publishAt;
    engine.ingest({ deviceId: m.deviceId, siteId: '', locationId: m.locationId, receivedAt: now, readings: m.readings });
  }
  const expected = expectedFor(config, rendered.traces());
  const raisedAlarms = raisedFrom(changes);
  return { ...judgeAlarms(expected, raisedAlarms), expected, raisedAlarms, changes };
}
