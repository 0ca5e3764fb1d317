import type { AuditLog } from '../audit/audit-log.js';
import { calibrationAlertKinds, type CalibrationAlertKind } from '../core/config/alert-rules.js';
import type { Registry } from '../core/registry.js';
import type { Logger } from '../core/logger.js';
import { QaAlarms, qaAlarmId, raisedAlarm, type RaisedAlarm } from '../alerts/qa-alarms.js';
import type { AlertService } from '../alerts/service.js';
import { calibrationAt, certificatePeriods } from './status.js';

type Raised = RaisedAlarm<CalibrationAlertKind>;

/**
 * `calibration_due` (within `alarms.calibration.dueLead` of the certificate's due date) and
 * `calibration_overdue` (past it, no newer certificate), for every sensor with calibration on
 * file. Each is an alert of that sensor at its site's `system` place, taken by AlertService like
 * the system alarms (alerts/system-alarms.ts): incident, stored and published events, tiers per
 * `alarms.notify`, board, signatures. It clears when a new certificate is recorded (or when due
 * turns overdue). Ids are a hash of site, sensor, kind and when the condition began, so an alarm
 * open before a restart is continued, not raised again. Sensors with no calibration on file raise
 * nothing here: `coldchain check` names them. In a cluster only the holder of the notification
 * lease raises and clears them (`QaAlarms`).
 */
export class CalibrationAlarms {
  private readonly alarms: QaAlarms<CalibrationAlertKind>;
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
    },
  ) {
    this.alarms = new QaAlarms(deps, {
      kinds: calibrationAlertKinds,
      name: 'calibration alarm',
      action: 'calibration_alarm',
      // The condition, not the id: an alarm raised anew after its first was closed (QaAlarms.raise) has an id of its own.
      key: conditionOf,
    });
  }

  /** Continues the alarms open before a restart, then looks at the certificates every few seconds. */
  start(): void {
    this.check();
    this.timer = setInterval(() => this.check(), this.deps.everyMs ?? 5000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** What should be raised now, by condition (`conditionOf`). */
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
      const id = qaAlarmId('cal', siteId, device.id, kind, occurredAt);
      const alarm = raisedAlarm<CalibrationAlertKind>({
        id,
        kind,
        severity: kind === 'calibration_due' ? settings.dueSeverity : settings.overdueSeverity,
        deviceId: device.id,
        siteId,
        occurredAt,
        // due: the lead time; overdue: the due time. peak: when the certificate runs (ran) out.
        threshold: kind === 'calibration_due' ? settings.dueLead : dueTo,
        peak: dueTo,
      });
      wanted.set(conditionOf(alarm), alarm);
    }
    return wanted;
  }

  /** One round: raise what is new, clear what no longer holds. */
  check(): void {
    const now = this.deps.now?.() ?? Date.now();
    try {
      if (!this.alarms.leading()) return;
      const wanted = this.wanted(now);
      for (const [key, alarm] of this.alarms.raised) {
        if (wanted.has(key)) continue;
        // A due alarm ends when the certificate runs out (then overdue) or when a new one is recorded (now).
        const clearedAt = alarm.kind === 'calibration_due' ? Math.min(now, alarm.peak) : now;
        this.alarms.clear(key, clearedAt, now, { runsOutAt: runsOut(alarm), clearedAt });
        this.deps.log.info({ kind: alarm.kind, deviceId: alarm.deviceId }, 'calibration alarm cleared');
      }
      for (const [key, alarm] of wanted) {
        if (this.alarms.raised.has(key)) continue;
        this.alarms.raise(alarm, now, { runsOutAt: runsOut(alarm) });
        this.deps.log.warn({ kind: alarm.kind, deviceId: alarm.deviceId, dueAt: runsOut(alarm) }, 'calibration alarm raised');
      }
    } catch (err) {
      this.deps.log.error({ err }, 'calibration alarm round failed');
    }
  }
}

/** A sensor's due or overdue condition at its site: its kind and when its certificate runs (ran) out (a sensor moved to another site is another). */
const conditionOf = (alarm: Raised) => `${alarm.siteId}|${alarm.deviceId}|${alarm.kind}|${alarm.peak}`;

/** When the certificate runs (ran) out. */
const runsOut = (alarm: Raised) => new Date(alarm.peak).toISOString();
