import { createHash } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.js';
import { isStabilityKind, type StabilityAlertKind } from '../core/config/alert-rules.js';
import type { Registry } from '../core/registry.js';
import type { Logger } from '../core/logger.js';
import type { AlertChange } from '../alerts/engine.js';
import type { AlertService } from '../alerts/service.js';
import { systemPlaceId } from '../alerts/text.js';
import { effectiveCustody, stateOf } from '../shipments/book.js';
import { batchProfile, currentPlace } from './ledger.js';
import type { Ledger } from './schema.js';
import type { StabilityService } from './service.js';

type Raised = Omit<AlertChange, 'state' | 'clearedAt' | 'durationMs' | 'detectedAt'> & { kind: StabilityAlertKind };

const alarmId = (siteId: string, batch: string, kind: string, occurredAt: number) =>
  `stab_${createHash('sha256').update(`${siteId}|${batch}|${kind}|${occurredAt}`).digest('hex').slice(0, 20)}`;

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
 * ledger no longer shows it (an add-back); exhausted replaces low.
 */
export class StabilityAlarms {
  /** Raised alarms by `batch|kind`. */
  private readonly raised = new Map<string, Raised>();
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
  ) {}

  start(): void {
    for (const alert of this.deps.alerts.book.list()) {
      if (!isStabilityKind(alert.kind) || alert.clearedAt !== null) continue;
      if (alert.state !== 'active' && alert.state !== 'acknowledged') continue;
      const { id, kind, severity, deviceId, siteId, locationId, occurredAt, threshold, peak } = alert;
      this.raised.set(`${deviceId}|${kind}`, {
        id,
        kind,
        severity,
        deviceId,
        siteId,
        locationId,
        occurredAt,
        threshold,
        peak,
        activatedAt: occurredAt,
        late: false,
        relapses: 0,
        chattering: false,
      });
    }
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
    for (const key of this.raised.keys()) batches.add(key.slice(0, key.lastIndexOf('|')));
    return [...batches].sort();
  }

  /** One round (rounds never overlap): the given batches, or every watched one. */
  round(only?: string[]): Promise<void> {
    const next = this.running.then(async () => {
      if (this.stopped) return;
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
      const alarm = this.raised.get(key);
      if (alarm && kind !== wantedKind) {
        this.raised.delete(key);
        this.deps.alerts.systemChange({ ...alarm, state: 'cleared', clearedAt: now, detectedAt: now, durationMs: now - alarm.occurredAt });
        this.deps.log.info({ kind, batch }, 'stability alarm cleared');
        this.audit('stability_alarm.cleared', alarm, { left });
      }
    }
    if (!wantedKind || this.raised.has(`${batch}|${wantedKind}`)) return;
    const place = currentPlace(this.deps.stability.subject(batch).records);
    const siteId = (place && registry.location(place)?.site.id) ?? registry.config.sites[0]?.id;
    if (!siteId) return;
    const alarm: Raised = {
      id: alarmId(siteId, batch, wantedKind, now),
      kind: wantedKind,
      severity: wantedKind === 'stability_budget_low' ? settings.lowSeverity : settings.exhaustedSeverity,
      deviceId: batch,
      siteId,
      locationId: systemPlaceId(siteId),
      occurredAt: now,
      threshold: ledger.alertBelowPercent ?? 0,
      peak: left,
      activatedAt: now,
      late: false,
      relapses: 0,
      chattering: false,
    };
    this.raised.set(`${batch}|${wantedKind}`, alarm);
    this.deps.alerts.systemChange({ ...alarm, state: 'active', detectedAt: now, durationMs: null });
    this.deps.log.warn({ kind: wantedKind, batch, left, findings: ledger.findings }, 'stability alarm raised');
    this.audit('stability_alarm.raised', alarm, { left, findings: ledger.findings });
  }

  private audit(action: string, alarm: Raised, extra: Record<string, unknown>): void {
    void this.deps.audit
      .append({ actor: 'system', action, target: `batch:${alarm.deviceId}`, details: { kind: alarm.kind, siteId: alarm.siteId, ...extra } })
      .catch((err: Error) => this.deps.log.error({ err: err.message, batch: alarm.deviceId }, 'stability alarm could not be audited'));
  }
}
