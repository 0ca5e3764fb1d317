import type { Config } from '../core/config/schema.js';
import type { Logger } from '../core/logger.js';
import type { InfluxClient } from '../storage/influx.js';
import { FactLog, type DurableLog } from '../storage/fact-log.js';
import { PROFILE_RANGES_MEASUREMENT } from '../storage/measurements.js';
import { rangeChanged, rangeVersionSchema, type RangeVersion } from './range-versions.js';

/**
 * Keeps the versions of every product profile's ranges (range-versions.ts) as facts in InfluxDB
 * (`profile_ranges`, tag profileId, field `fact` = JSON), through the spool like every other fact:
 * they survive restarts and InfluxDB outages, are in every backup beside the readings they judge,
 * and each new version is an audit-trail entry (`profile.range.version`) next to the
 * `config.change` entry that says who edited what.
 *
 * Why facts and not a history list in coldchain.yaml: the configuration file is edited by hand and
 * by the CLI, so a history kept there could be edited as easily as the range itself; facts are
 * only ever added. Existing data directories get version 1 of each profile at their first start
 * with this code, in force since before records began.
 */
export class RangeRecorder {
  private readonly versions: RangeVersion[] = [];
  private readonly facts: FactLog;
  private queue: Promise<unknown> = Promise.resolve();
  /** The stored history has been read: only then may versions be added (else a second version 1 could be written). */
  private loaded = false;

  constructor(
    private readonly deps: {
      spool: DurableLog;
      influx: InfluxClient;
      audit: { append(entry: { actor: string; action: string; target: string; details: Record<string, unknown> }): Promise<unknown> };
      log: Logger;
    },
  ) {
    this.facts = new FactLog(deps.spool, deps.influx);
  }

  /** Every version known, in the order recorded (a copy: jobs take it to their worker). */
  list(): RangeVersion[] {
    return this.versions.slice();
  }

  /** Reads the recorded versions back, then records what the configuration changed while the service was stopped. */
  async start(config: Config): Promise<void> {
    await this.load();
    await this.record(config, 'start');
  }

  private async load(): Promise<void> {
    try {
      const stored = await this.facts.replay(rangeVersionSchema, {
        measurement: PROFILE_RANGES_MEASUREMENT,
        columns: ['fact'],
        whole: 'fact',
        onInvalid: (problem) => this.deps.log.error({ problem }, 'a stored range version does not validate; skipped'),
      });
      this.versions.splice(0, this.versions.length, ...stored);
      this.loaded = true;
      if (stored.length) this.deps.log.info({ versions: stored.length }, 'product range versions read from InfluxDB');
    } catch (err) {
      // Reports judge by the configured ranges until the history is read (tried again at the next edit).
      this.deps.log.error(
        { err: (err as Error).message },
        'could not read the product range versions from InfluxDB; reports use the configured ranges until they are read',
      );
    }
  }

  /**
   * Records a new version of every profile whose ranges differ from its latest one. The version is
   * in force (in memory, so the next report uses it) before this resolves; it is durable (spool
   * fsync'ed, audited) when it resolves.
   */
  record(config: Config, source: 'start' | 'reload' = 'reload'): Promise<void> {
    const run = (work: () => Promise<void>) => {
      const next = this.queue.then(work, work);
      this.queue = next.catch((err) => this.deps.log.error({ err: (err as Error).message }, 'a range version could not be recorded'));
      return next;
    };
    if (!this.loaded)
      return run(async () => {
        await this.load();
        if (this.loaded) await this.persist(this.add(config, source), source);
      });
    const added = this.add(config, source);
    return run(() => this.persist(added, source));
  }

  /** The new versions, in force from now (in memory). */
  private add(config: Config, source: 'start' | 'reload'): RangeVersion[] {
    const now = Date.now();
    const added: RangeVersion[] = [];
    for (const profile of config.profiles) {
      const latest = this.versions.filter((v) => v.profileId === profile.id).at(-1);
      if (!rangeChanged(profile, latest)) continue;
      const version: RangeVersion = {
        profileId: profile.id,
        version: (latest?.version ?? 0) + 1,
        effectiveFrom: latest ? now : null,
        recordedAt: now,
        temperature: { min: profile.temperature.min, max: profile.temperature.max },
        ...(profile.humidity ? { humidity: { min: profile.humidity.min, max: profile.humidity.max } } : {}),
        source,
      };
      this.versions.push(version);
      added.push(version);
    }
    return added;
  }

  /** Each new version as a fact (spool, fsync'ed) and an audit entry. */
  private async persist(added: RangeVersion[], source: 'start' | 'reload'): Promise<void> {
    for (const version of added) {
      const previous = this.versions.find((v) => v.profileId === version.profileId && v.version === version.version - 1);
      await Promise.all([
        this.facts.append({
          measurement: PROFILE_RANGES_MEASUREMENT,
          tags: { profileId: version.profileId },
          fields: { fact: JSON.stringify(version) },
          at: version.recordedAt,
        }),
        this.deps.audit.append({
          actor: 'system',
          action: 'profile.range.version',
          target: version.profileId,
          details: {
            version: version.version,
            effectiveFrom: version.effectiveFrom === null ? 'since before records began' : new Date(version.effectiveFrom).toISOString(),
            temperature: version.temperature,
            ...(version.humidity ? { humidity: version.humidity } : {}),
            ...(previous ? { previous: { version: previous.version, temperature: previous.temperature, humidity: previous.humidity ?? null } } : {}),
            source,
          },
        }),
      ]);
      this.deps.log.info({ profileId: version.profileId, version: version.version, temperature: version.temperature }, 'product range version recorded');
    }
  }
}
