import { createHash } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.js';
import { isCalibrationKind, type CalibrationAlertKind } from '../core/config/alert-rules.js';
import type { Registry } from '../core/registry.js';
import type { Logger } from '../core/logger.js';
import type { AlertChange } from '../alerts/engine.js';
import type { AlertService } from '../alerts/service.js';
import { systemPlaceId } from '../alerts/text.js';
import { calibrationAt, certificatePeriods } from './status.js';

/** One calibration alarm as it is while raised: enough to clear it with the same id. */
type Raised = Omit<AlertChange, 'state' | 'clearedAt' | 'durationMs' | 'detectedAt'> & { kind: CalibrationAlertKind };

const alarmId = (siteId: string, deviceId: string, kind: string, occurredAt: number) =>
  `cal_${createHash('sha256').update(`${siteId}|${deviceId}|${kind}|${occurredAt}`).digest('hex').slice(0, 20)}`;

/**
 * `calibration_due` (within `alarms.calibration.dueLead` of the certificate's due date) and
 * `calibration_overdue` (past it, no newer certificate), for every sensor with calibration on
 * file. Each is an alert of that sensor at its site's `system` place, taken by AlertService like
 * the system alarms (alerts/system-alarms.ts): incident, stored and published events, tiers per
 * `alarms.notify`, board, signatures. It clears when a new certificate is recorded (or when due
 * turns overdue). Ids are a hash of site, sensor, kind and when the condition began, so an alarm
 * open before a restart is continued, not raised again. Sensors with no calibration on file raise
 * nothing here: `coldchain check` names them.
 */
export class CalibrationAlarms {
  private readonly raised = new Map<string, Raised>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: {
      alerts: AlertService;
      registry: () => Registry;
      audit: AuditLog;
      log: Logger;
      now?: () => number;
      /** How often the certificates are looked at (default 5 s: a recorded certificate clears its alarm at once). */
      everyMs?: number;
      /**
       * Whether this node raises and clears them now (a cluster: the holder of the notification
       * lease, `AlertService.leads`; every node reads the same certificates and would otherwise
       * each record the same alarm's `activated`). Absent: always.
       */
      leads?: () => boolean;
    },
  ) {}

  start(): void {
    for (const alert of this.deps.alerts.book.list()) {
      if (!isCalibrationKind(alert.kind) || alert.clearedAt !== null) continue;
      if (alert.state !== 'active' && alert.state !== 'acknowledged') continue;
      const { id, kind, severity, deviceId, siteId, locationId, occurredAt, threshold, peak } = alert;
      this.raised.set(id, {
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
    this.check();
    this.timer = setInterval(() => this.check(), this.deps.everyMs ?? 5000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** What should be raised now, by id. */
  private wanted(now: number): Map<string, Raised> {
    const registry = this.deps.registry();
    const settings = registry.config.alarms.calibration;
    const wanted = new Map<string, Raised>();
    if (!settings.enabled) return wanted;
    for (const device of registry.config.devices) {
      if (!device.calibration) continue;
      const placed = registry.device(device.id);
      if (!placed) continue;
      const verdict = calibrationAt(certificatePeriods(device.calibration), now, settings.dueLead);
      if (!verdict.certificate || (verdict.state !== 'due' && verdict.state !== 'overdue')) continue;
      const dueTo = verdict.certificate.to;
      const kind: CalibrationAlertKind = verdict.state === 'due' ? 'calibration_due' : 'calibration_overdue';
      const occurredAt = kind === 'calibration_due' ? dueTo - settings.dueLead : dueTo;
      const siteId = placed.site.id;
      const id = alarmId(siteId, device.id, kind, occurredAt);
      wanted.set(id, {
        id,
        kind,
        severity: kind === 'calibration_due' ? settings.dueSeverity : settings.overdueSeverity,
        deviceId: device.id,
        siteId,
        locationId: systemPlaceId(siteId),
        occurredAt,
        // due: the lead time; overdue: the due time. peak: when the certificate runs (ran) out.
        threshold: kind === 'calibration_due' ? settings.dueLead : dueTo,
        peak: dueTo,
        activatedAt: occurredAt,
        late: false,
        relapses: 0,
        chattering: false,
      });
    }
    return wanted;
  }

  /** One round: raise what is new, clear what no longer holds. */
  check(): void {
    const now = this.deps.now?.() ?? Date.now();
    if (this.deps.leads && !this.deps.leads()) return;
    try {
      // Cleared meanwhile by another node (a cluster's former lead): not cleared again.
      for (const [id] of this.raised) if ((this.deps.alerts.book.get(id)?.clearedAt ?? null) !== null) this.raised.delete(id);
      const wanted = this.wanted(now);
      for (const [id, alarm] of this.raised) {
        if (wanted.has(id)) continue;
        this.raised.delete(id);
        // A due alarm ends when the certificate runs out (then overdue) or when a new one is recorded (now).
        const clearedAt = alarm.kind === 'calibration_due' ? Math.min(now, alarm.peak) : now;
        this.deps.alerts.systemChange({ ...alarm, state: 'cleared', clearedAt, detectedAt: now, durationMs: clearedAt - alarm.occurredAt });
        this.deps.log.info({ kind: alarm.kind, deviceId: alarm.deviceId }, 'calibration alarm cleared');
        this.audit('calibration_alarm.cleared', alarm, { clearedAt });
      }
      for (const [id, alarm] of wanted) {
        if (this.raised.has(id)) continue;
        this.raised.set(id, alarm);
        this.deps.alerts.systemChange({ ...alarm, state: 'active', detectedAt: now, durationMs: null });
        this.deps.log.warn({ kind: alarm.kind, deviceId: alarm.deviceId, dueAt: new Date(alarm.peak).toISOString() }, 'calibration alarm raised');
        this.audit('calibration_alarm.raised', alarm, {});
      }
    } catch (err) {
      this.deps.log.error({ err }, 'calibration alarm round failed');
    }
  }

  private audit(action: string, alarm: Raised, extra: Record<string, unknown>): void {
    void this.deps.audit
      .append({
        actor: 'system',
        action,
        target: alarm.deviceId,
        details: { kind: alarm.kind, siteId: alarm.siteId, runsOutAt: new Date(alarm.peak).toISOString(), ...extra },
      })
      .catch((err: Error) => this.deps.log.error({ err: err.message, deviceId: alarm.deviceId }, 'calibration alarm could not be audited'));
  }
}
