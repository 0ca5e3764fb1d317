import { createHash } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.js';
import type { BackupStatus } from '../backup/scheduler.js';
import type { ClockReading } from './clock-watch.js';
import type { SystemAlertKind } from '../core/config/alert-rules.js';
import { isSystemKind } from '../core/config/alert-rules.js';
import type { Config } from '../core/config/schema.js';
import type { Logger } from '../core/logger.js';
import type { AlertChange } from './engine.js';
import type { AlertService } from './service.js';
import { systemPlaceId } from './text.js';

/** What the system alarms look at, read each round (the service's own health figures). */
export interface SystemProbes {
  /** InfluxDB answered its last ping (pinged every 5 s). */
  influxReachable(): boolean;
  /** Receive time of the oldest record the writer has not yet got into InfluxDB (undefined: none). */
  oldestPendingAt(): number | undefined;
  /** Bytes waiting in the spool. */
  spoolBytes(): number;
  /** The daily backup's status; absent when backups are off. */
  backup?: () => BackupStatus;
  /** The server clock against NTP or the devices (alerts/clock-watch.ts); undefined: nothing to compare with. */
  clock?: () => ClockReading | undefined;
}

interface Condition {
  /** Since when the condition holds (null: it does not). */
  badSince: number | null;
  /** Since when it has been back to normal (null: it is not). */
  goodSince: number | null;
  /** The alarm raised, one change per site (same id), while it is on. */
  raised: { occurredAt: number; threshold: number; peak: number; sites: Map<string, AlertChange> } | null;
}

const systemAlertId = (siteId: string, kind: SystemAlertKind, occurredAt: number) =>
  `sys_${createHash('sha256').update(`${siteId}|${kind}|${occurredAt}`).digest('hex').slice(0, 20)}`;

/**
 * The monitoring system watching itself (issue 14, item 4). Each condition becomes an alert at
 * the `system` place of every site (`system:<siteId>`), so it joins that place's incident and
 * takes the same paths as any other alarm: stored and published as events, escalated by tiers
 * per `alarms.notify`, shown on the board, acknowledged and closed with a signature. A real
 * location is not used on purpose: an incident is one condition at one place, and a system alarm
 * would otherwise merge into (and be hidden by) a cold room's excursion.
 *
 * Hysteresis: InfluxDB must be unreachable `influxdbAfter` before the alarm; a spool backlog is
 * raised above `spoolAge` and may clear only below half of it, the spool size above `spoolBytes`
 * and below 80 % of it; every alarm clears only after its condition has been gone `clearAfter`.
 * The audit alarm is a finding at start: raised then, cleared `clearAfter` later (it stays
 * unacknowledged, so it pages until someone signs it).
 */
export class SystemAlarms {
  private readonly conditions = new Map<SystemAlertKind, Condition>();
  private timer: NodeJS.Timeout | undefined;
  private auditFinding: { at: number; problem: string } | null = null;

  constructor(
    private readonly deps: {
      alerts: AlertService;
      config: () => Config;
      probes: SystemProbes;
      audit: AuditLog;
      log: Logger;
      now?: () => number;
    },
  ) {}

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  /** The audit trail did not verify at start (AuditLog.open()). */
  auditBroken(problem: string): void {
    this.auditFinding = { at: this.now(), problem };
  }

  /** Continues system alarms open before a restart, then checks once a second. */
  start(): void {
    for (const alert of this.deps.alerts.book.list()) {
      if (!isSystemKind(alert.kind) || alert.clearedAt !== null) continue;
      if (alert.state !== 'active' && alert.state !== 'acknowledged') continue;
      const c = this.condition(alert.kind);
      c.raised ??= { occurredAt: alert.occurredAt, threshold: alert.threshold, peak: alert.peak, sites: new Map() };
      c.raised.sites.set(alert.siteId, this.change(alert.kind, alert.siteId, c.raised, 'active', alert.detectedAt));
      c.badSince ??= alert.occurredAt;
    }
    this.check();
    this.timer = setInterval(() => this.check(), 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private condition(kind: SystemAlertKind): Condition {
    let c = this.conditions.get(kind);
    if (!c) this.conditions.set(kind, (c = { badSince: null, goodSince: null, raised: null }));
    return c;
  }

  /** One round: each condition judged, raised or cleared with its hysteresis. */
  check(): void {
    const settings = this.deps.config().alarms.system;
    if (!settings.enabled) return;
    const now = this.now();
    try {
      const { probes } = this.deps;
      // InfluxDB: unreachable at the last ping.
      const down = !probes.influxReachable();
      this.judge('influxdb_unreachable', down ? 'bad' : 'good', now, { delay: settings.influxdbAfter, threshold: settings.influxdbAfter, peak: 0 });
      // Spool backlog: age of the oldest record still waiting for InfluxDB.
      const oldest = probes.oldestPendingAt();
      const age = oldest === undefined ? 0 : Math.max(0, now - oldest);
      this.judge('spool_backlog', age > settings.spoolAge ? 'bad' : age < settings.spoolAge / 2 ? 'good' : 'between', now, {
        delay: 0,
        threshold: settings.spoolAge,
        peak: age,
      });
      const bytes = probes.spoolBytes();
      this.judge('spool_full', bytes > settings.spoolBytes ? 'bad' : bytes < settings.spoolBytes * 0.8 ? 'good' : 'between', now, {
        delay: 0,
        threshold: settings.spoolBytes,
        peak: bytes,
      });
      // The daily backup: the last attempt failed, or none succeeded within 26 h.
      if (probes.backup) {
        const status = probes.backup();
        const failed = status.lastFailure !== null && (status.lastSuccessAt === null || status.lastFailure.at > status.lastSuccessAt);
        this.judge('backup_failed', failed || status.overdue ? 'bad' : 'good', now, { delay: 0, threshold: 0, peak: status.lastSuccessAt ?? 0 });
      }
      // The server clock: off by more than the tolerance from NTP (or the devices' clocks); clears below half of it.
      if (probes.clock) {
        const clock = probes.clock();
        const off = clock ? Math.abs(clock.offsetMs) : 0;
        const tolerance = settings.clockTolerance;
        this.judge('clock_off', off > tolerance ? 'bad' : off < tolerance / 2 ? 'good' : 'between', now, { delay: 0, threshold: tolerance, peak: off });
      }
      // The audit trail: a finding at start, raised once and cleared after clearAfter.
      const finding = this.auditFinding;
      this.judge('audit_broken', finding && now - finding.at < settings.clearAfter ? 'bad' : 'good', now, { delay: 0, threshold: 0, peak: 0 });
    } catch (err) {
      this.deps.log.error({ err }, 'system alarm round failed');
    }
  }

  private judge(kind: SystemAlertKind, verdict: 'bad' | 'good' | 'between', now: number, figures: { delay: number; threshold: number; peak: number }): void {
    const c = this.condition(kind);
    const { clearAfter } = this.deps.config().alarms.system;
    if (verdict === 'bad') {
      c.goodSince = null;
      c.badSince ??= now;
      if (!c.raised && now - c.badSince >= figures.delay) {
        c.raised = { occurredAt: c.badSince, threshold: figures.threshold, peak: figures.peak, sites: new Map() };
        this.raise(kind, now);
      }
      if (c.raised) c.raised.peak = Math.max(c.raised.peak, figures.peak);
      return;
    }
    if (verdict === 'between') {
      c.goodSince = null;
      return;
    }
    if (!c.raised) {
      c.badSince = null;
      return;
    }
    c.goodSince ??= now;
    if (now - c.goodSince >= clearAfter) this.clear(kind, c, now);
  }

  private change(
    kind: SystemAlertKind,
    siteId: string,
    raised: NonNullable<Condition['raised']>,
    state: 'active' | 'cleared',
    detectedAt: number,
    clearedAt?: number,
  ): AlertChange {
    const severity = this.deps.config().alarms.system.severity;
    return {
      id: systemAlertId(siteId, kind, raised.occurredAt),
      kind,
      severity,
      deviceId: 'system',
      siteId,
      locationId: systemPlaceId(siteId),
      occurredAt: raised.occurredAt,
      threshold: raised.threshold,
      peak: raised.peak,
      state,
      activatedAt: raised.occurredAt,
      ...(clearedAt !== undefined ? { clearedAt } : {}),
      detectedAt,
      late: false,
      durationMs: clearedAt !== undefined ? clearedAt - raised.occurredAt : null,
      relapses: 0,
      chattering: false,
    };
  }

  private raise(kind: SystemAlertKind, now: number): void {
    const c = this.condition(kind);
    const raised = c.raised!;
    for (const site of this.deps.config().sites) {
      const change = this.change(kind, site.id, raised, 'active', now);
      raised.sites.set(site.id, change);
      this.deps.alerts.systemChange(change);
    }
    const finding = kind === 'audit_broken' ? this.auditFinding?.problem : undefined;
    this.deps.log.error({ kind, since: new Date(raised.occurredAt).toISOString(), ...(finding ? { problem: finding } : {}) }, 'system alarm raised');
    void this.deps.audit
      .append({
        actor: 'system',
        action: 'system_alarm.raised',
        target: kind,
        details: {
          occurredAt: raised.occurredAt,
          threshold: raised.threshold,
          peak: raised.peak,
          sites: [...raised.sites.keys()],
          ...(finding ? { problem: finding } : {}),
        },
      })
      .catch((err: Error) => this.deps.log.error({ err: err.message, kind }, 'system alarm could not be audited'));
  }

  private clear(kind: SystemAlertKind, c: Condition, now: number): void {
    const raised = c.raised!;
    // Cleared when the condition ended, not when its hysteresis ran out.
    const clearedAt = c.goodSince ?? now;
    for (const siteId of raised.sites.keys()) this.deps.alerts.systemChange(this.change(kind, siteId, raised, 'cleared', now, clearedAt));
    c.raised = null;
    c.badSince = null;
    c.goodSince = null;
    this.deps.log.info({ kind, lastedMs: clearedAt - raised.occurredAt }, 'system alarm cleared');
    void this.deps.audit
      .append({
        actor: 'system',
        action: 'system_alarm.cleared',
        target: kind,
        details: { occurredAt: raised.occurredAt, clearedAt, sites: [...raised.sites.keys()] },
      })
      .catch((err: Error) => this.deps.log.error({ err: err.message, kind }, 'system alarm clearing could not be audited'));
  }
}
