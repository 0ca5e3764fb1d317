import { createHash } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.js';
import type { AlertKind } from '../core/config/alert-rules.js';
import type { Logger } from '../core/logger.js';
import type { Alert } from './book.js';
import type { AlertChange } from './engine.js';
import type { AlertService } from './service.js';
import { systemPlaceId } from './text.js';

/** A QA alarm while it is raised: its alert change without the state, enough to clear it under the same id. */
export type RaisedAlarm<K extends AlertKind = AlertKind> = Omit<AlertChange, 'state' | 'clearedAt' | 'durationMs' | 'detectedAt' | 'kind'> & { kind: K };

/**
 * A QA alarm's id: a hash of site, subject (sensor or batch), kind and when its condition began,
 * so that a restart or another node that finds the same condition finds the same alarm.
 */
export const qaAlarmId = (prefix: string, siteId: string, subject: string, kind: string, occurredAt: number) =>
  `${prefix}_${createHash('sha256').update(`${siteId}|${subject}|${kind}|${occurredAt}`).digest('hex').slice(0, 20)}`;

/** A QA alarm about `deviceId` (a sensor, or a batch), at its site's `system` place unless the book says where. */
export function raisedAlarm<K extends AlertKind>(
  alarm: Pick<RaisedAlarm<K>, 'id' | 'kind' | 'severity' | 'deviceId' | 'siteId' | 'occurredAt' | 'threshold' | 'peak'> & { locationId?: string },
): RaisedAlarm<K> {
  const { id, kind, severity, deviceId, siteId, occurredAt, threshold, peak } = alarm;
  return {
    id,
    kind,
    severity,
    deviceId,
    siteId,
    locationId: alarm.locationId ?? systemPlaceId(siteId),
    occurredAt,
    threshold,
    peak,
    activatedAt: occurredAt,
    late: false,
    relapses: 0,
    chattering: false,
  };
}

/**
 * The alarms a QA alarm raiser holds raised (calibration/alarms.ts, ingestor/conflict-alarms.ts,
 * stability/alarms.ts), and the part they share: each is an alert of its subject at its site's
 * `system` place, taken by `AlertService.systemChange` like the system alarms (incident, stored
 * and published events, tiers per `alarms.notify`, board, signatures) and audited as
 * `<action>.raised` / `<action>.cleared`. An alarm open in the book is continued, not raised again.
 *
 * Raised and cleared by one node (`leading`): in a cluster every node reads the same
 * certificates, conflict records and ledgers, and would otherwise each record its own `activated`
 * of the same alarm, or each raise one of its own under its own id.
 */
export class QaAlarms<K extends AlertKind, R extends RaisedAlarm<K> = RaisedAlarm<K>> {
  /** Raised alarms by the raiser's key (one per condition). */
  readonly raised = new Map<string, R>();
  /** This node led at its last look, and has taken up the book since. */
  private led = false;

  constructor(
    private readonly deps: { alerts: AlertService; audit: AuditLog; log: Logger },
    private readonly spec: {
      kinds: readonly K[];
      /** What they are called in a log line ("calibration alarm"). */
      name: string;
      /** The audit actions' stem ("calibration_alarm": `calibration_alarm.raised`). */
      action: string;
      /** The key an alarm is held under. */
      key: (alarm: RaisedAlarm<K>) => string;
      /** An alarm open in the book as its raiser holds it (what it keeps beside the alert). Absent: as it is. */
      held?: (alarm: RaisedAlarm<K>) => R;
      /** The alarms of these kinds in the book, in any state, when this node starts raising them (at start, or on taking the lease over). */
      taken?: (alerts: Array<Alert & { kind: K }>) => void;
      /** What an audit entry names (default: the subject, `deviceId`). */
      auditTarget?: (alarm: R) => string;
      /** The log field naming the subject when an audit entry could not be written (default "deviceId"). */
      subjectField?: string;
    },
  ) {}

  private owns(alert: Alert): alert is Alert & { kind: K } {
    return (this.spec.kinds as readonly string[]).includes(alert.kind);
  }

  /**
   * Whether this node raises and clears these alarms now: the holder of the notification lease in
   * a cluster (`AlertService.leads`), a single node always. A node that starts (at start, or on
   * taking the lease over) first takes up what the shared book holds open; while it leads, an
   * alarm another node cleared meanwhile (a former holder) is not cleared again.
   */
  leading(): boolean {
    if (!this.deps.alerts.leads()) {
      this.led = false;
      return false;
    }
    for (const [key, alarm] of this.raised) if ((this.deps.alerts.book.get(alarm.id)?.clearedAt ?? null) !== null) this.raised.delete(key);
    if (!this.led) {
      this.led = true;
      const book = this.deps.alerts.book.list().filter((alert) => this.owns(alert));
      this.spec.taken?.(book);
      for (const alert of book) {
        if (alert.clearedAt !== null || (alert.state !== 'active' && alert.state !== 'acknowledged')) continue;
        const base = raisedAlarm(alert);
        const key = this.spec.key(base);
        if (!this.raised.has(key)) this.raised.set(key, this.spec.held ? this.spec.held(base) : (base as R));
      }
    }
    return true;
  }

  /**
   * Raises `alarm` (held under its key) and audits it with `details`. When the book holds its id
   * closed, its condition was cleared, signed off and closed, and has come back (a certificate
   * taken out of the file, a correction back to an earlier due date): a closed alert takes no more
   * changes, so raised under the same id it stayed closed, was found not raised at the next look,
   * and was raised and audited again every few seconds. It is raised anew, under an id of its own
   * (the time it came back is part of it), held under the same key.
   */
  raise(alarm: R, now: number, details: Record<string, unknown>): void {
    const again = this.deps.alerts.book.get(alarm.id)?.state === 'closed';
    const raised: R = again ? { ...alarm, id: `${alarm.id}_${now.toString(36)}`, activatedAt: now } : alarm;
    this.raised.set(this.spec.key(alarm), raised);
    this.deps.alerts.systemChange({ ...raised, state: 'active', detectedAt: now, durationMs: null });
    this.audit('raised', raised, again ? { ...details, after: alarm.id } : details);
  }

  /** Clears the alarm held under `key` as of `clearedAt` and audits it with `details`. */
  clear(key: string, clearedAt: number, now: number, details: Record<string, unknown>): void {
    const alarm = this.raised.get(key);
    if (!alarm) return;
    this.raised.delete(key);
    this.deps.alerts.systemChange({ ...alarm, state: 'cleared', clearedAt, detectedAt: now, durationMs: clearedAt - alarm.occurredAt });
    this.audit('cleared', alarm, details);
  }

  private audit(what: 'raised' | 'cleared', alarm: R, details: Record<string, unknown>): void {
    void this.deps.audit
      .append({
        actor: 'system',
        action: `${this.spec.action}.${what}`,
        target: this.spec.auditTarget?.(alarm) ?? alarm.deviceId,
        details: { kind: alarm.kind, siteId: alarm.siteId, ...details },
      })
      .catch((err: Error) =>
        this.deps.log.error({ err: err.message, [this.spec.subjectField ?? 'deviceId']: alarm.deviceId }, `${this.spec.name} could not be audited`),
      );
  }
}
