import type { AuditLog } from '../audit/audit-log.js';
import { stabilityAlertKinds, type StabilityAlertKind } from '../core/config/alert-rules.js';
import type { Registry } from '../core/registry.js';
import type { Logger } from '../core/logger.js';
import { QaAlarms, qaAlarmId, raisedAlarm } from '../alerts/qa-alarms.js';
import type { AlertService } from '../alerts/service.js';
import { effectiveCustody, stateOf } from '../shipments/book.js';
import { batchProfile, currentPlace } from './ledger.js';
import type { Ledger } from './schema.js';
import type { StabilityService } from './service.js';

/** The least that is left of the batch's budget, % (an exhausted freeze budget or an excursion beyond the data: 0). */
export function leastLeftPercent(ledger: Ledger): number {
  const percents = [
    ...ledger.allowances.filter((a) => a.consumedMs > 0).map((a) => a.remainingPercent),
    ...(ledger.total ? [ledger.total.remainingPercent] : []),
  ];
  if (ledger.findings.some((f) => f.code === 'freeze_exhausted' || f.code === 'beyond_stability_data')) percents.push(0);
  return percents.length ? Math.max(0, Math.min(...percents)) : 100;
}

/**
 * `stability_budget_low` (what is left of an allowance or the total fell below the profile's
 * `stability.alertBelow` %) and `stability_budget_exhausted` (nothing left, the freeze events all
 * used, or an excursion beyond the stability data), one per batch at the `system` place of the
 * site where the batch is, through AlertService like the calibration and system alarms: incident,
 * stored and published events, tiers per `alarms.notify`, board, signatures. Each round builds the
 * watched batches' ledgers in the report workers, one batch at a time (so the rounds never take
 * more than one worker); an add-back makes its batch looked at at once. An alarm clears when the
 * ledger no longer shows it (an add-back); exhausted replaces low. In a cluster only the holder of
 * the notification lease builds the ledgers and raises (`QaAlarms`): an alarm's id holds the time it
 * was raised, so two nodes would raise two alarms for one batch.
 */
export class StabilityAlarms {
  /** Raised alarms by `batch|kind`. */
  private readonly alarms: QaAlarms<StabilityAlertKind>;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly deps: {
      alerts: AlertService;
      stability: StabilityService;
      registry: () => Registry;
      audit: AuditLog;
      log: Logger;
      now?: () => number;
    },
  ) {
    this.alarms = new QaAlarms(deps, {
      kinds: stabilityAlertKinds,
      name: 'stability alarm',
      action: 'stability_alarm',
      key: (alarm) => `${alarm.deviceId}|${alarm.kind}`,
      auditTarget: (alarm) => `batch:${alarm.deviceId}`,
      subjectField: 'batch',
    });
  }

  /** Continues the alarms open before a restart, then looks at the watched batches every `alarms.stability.every`. */
  start(): void {
    this.deps.stability.onChange((batch) => void this.round([batch]));
    const every = this.deps.registry().config.alarms.stability.every;
    void this.round();
    this.timer = setInterval(() => void this.round(), every);
    this.timer.unref();
  }

  /** No round starts after this; one under way drops its answer (its report job ends with the pool). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }

  /** Batches worth a look: their profile has stability data, and a shipment is on its way or was delivered within `watchFor`. */
  private watched(now: number): string[] {
    const registry = this.deps.registry();
    const settings = registry.config.alarms.stability;
    if (!settings.enabled) return [];
    const batches = new Set<string>();
    for (const batch of this.deps.stability.batches()) {
      let subject: ReturnType<StabilityService['subject']>;
      try {
        subject = this.deps.stability.subject(batch);
      } catch {
        continue;
      }
      if (!batchProfile(registry, subject.records)?.stability) continue;
      const live = subject.records.some((r) => {
        if (stateOf(r) !== 'delivered') return true;
        const last = effectiveCustody(r).at(-1);
        return last !== undefined && now - last.at <= settings.watchFor;
      });
      if (live) batches.add(batch);
    }
    for (const key of this.alarms.raised.keys()) batches.add(key.slice(0, key.lastIndexOf('|')));
    return [...batches].sort();
  }

  /** One round (rounds never overlap): the given batches, or every watched one. */
  round(only?: string[]): Promise<void> {
    const next = this.running.then(async () => {
      if (this.stopped || !this.alarms.leading()) return;
      const now = this.deps.now?.() ?? Date.now();
      for (const batch of only ?? this.watched(now)) {
        if (this.stopped) return;
        try {
          await this.checkBatch(batch);
        } catch (err) {
          // Workers busy or InfluxDB away: the alarm stays as it was until a round can look.
          this.deps.log.warn({ batch, err: (err as Error).message }, 'stability ledger not computed this round');
        }
      }
    });
    this.running = next.catch(() => undefined);
    return next;
  }

  private async checkBatch(batch: string): Promise<void> {
    const registry = this.deps.registry();
    const settings = registry.config.alarms.stability;
    const ledger = await this.deps.stability.ledger(batch);
    if (this.stopped) return;
    const now = this.deps.now?.() ?? Date.now();
    const wantedKind: StabilityAlertKind | undefined =
      !settings.enabled || ledger.state === 'ok' || ledger.state === 'no_stability_data'
        ? undefined
        : ledger.state === 'exhausted'
          ? 'stability_budget_exhausted'
          : 'stability_budget_low';
    const left = leastLeftPercent(ledger);
    for (const kind of ['stability_budget_low', 'stability_budget_exhausted'] as const) {
      const key = `${batch}|${kind}`;
      if (this.alarms.raised.has(key) && kind !== wantedKind) {
        this.alarms.clear(key, now, now, { left });
        this.deps.log.info({ kind, batch }, 'stability alarm cleared');
      }
    }
    if (!wantedKind || this.alarms.raised.has(`${batch}|${wantedKind}`)) return;
    const place = currentPlace(this.deps.stability.subject(batch).records);
    const siteId = (place && registry.location(place)?.site.id) ?? registry.config.sites[0]?.id;
    if (!siteId) return;
    const alarm = raisedAlarm({
      id: qaAlarmId('stab', siteId, batch, wantedKind, now),
      kind: wantedKind,
      severity: wantedKind === 'stability_budget_low' ? settings.lowSeverity : settings.exhaustedSeverity,
      deviceId: batch,
      siteId,
      occurredAt: now,
      threshold: ledger.alertBelowPercent ?? 0,
      peak: left,
    });
    this.alarms.raise(alarm, now, { left, findings: ledger.findings });
    this.deps.log.warn({ kind: wantedKind, batch, left, findings: ledger.findings }, 'stability alarm raised');
  }
}
