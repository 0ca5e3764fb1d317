import { z } from 'zod';
import { alertKinds, severities } from '../core/config/alert-rules.js';
import { Refusal } from '../core/refusal.js';
import { signatureRecordSchema } from '../audit/e-signature.js';

export const alertStates = ['pending', 'active', 'acknowledged', 'cleared', 'closed', 'discarded', 'retracted'] as const;
export const alertEventTypes = [
  'pending',
  'activated',
  'cleared',
  'discarded',
  'retracted',
  'acknowledged',
  'closed',
  'notified',
  'notification_failed',
  'escalated',
] as const;

/** An alert as the API, MQTT and the board show it. */
export const alertSchema = z.object({
  id: z.string(),
  kind: z.enum(alertKinds),
  severity: z.enum(severities),
  state: z.enum(alertStates),
  siteId: z.string(),
  locationId: z.string(),
  deviceId: z.string(),
  occurredAt: z.number(),
  /** Device time the activation delay ended; null while pending or when discarded. */
  activatedAt: z.number().nullable(),
  detectedAt: z.number(),
  clearedAt: z.number().nullable(),
  late: z.boolean(),
  threshold: z.number(),
  peak: z.number(),
  durationMs: z.number().nullable(),
  /** Times the condition came back within the fold window after clearing (one alert, not many). */
  relapses: z.number().default(0),
  /** Came back more often than the chatter limit allows: a nuisance to fix at its cause. */
  chattering: z.boolean().default(false),
  /** The incident (one condition at one place) this alert belongs to. */
  incidentId: z.string().nullable().default(null),
  acknowledged: signatureRecordSchema.nullable(),
  closed: signatureRecordSchema.nullable(),
  /** Highest escalation tier notified so far (0: none yet). */
  tier: z.number(),
  lastNotifiedAt: z.number().nullable(),
});
export type Alert = z.infer<typeof alertSchema>;

/** What every stored event says beside its subject: when, who, and the signature or notification details. */
export const eventTrailFields = {
  at: z.number(),
  actor: z.string(),
  printedName: z.string().optional(),
  meaning: z.string().optional(),
  comment: z.string().optional(),
  channel: z.string().optional(),
  recipient: z.string().optional(),
  outcome: z.string().optional(),
};

/** One transition or notification, as stored in InfluxDB (`alert_events`). */
export const alertEventSchema = z.object({
  alertId: z.string(),
  event: z.enum(alertEventTypes),
  /** The alert as it was right after this event. */
  alert: alertSchema,
  ...eventTrailFields,
});
export type AlertEvent = z.infer<typeof alertEventSchema>;

export class LifecycleError extends Refusal<404 | 409> {}

/**
 * The current alerts, changed only by events: the same sequence of events always gives the same
 * book, which is how it is rebuilt after a restart from the events stored in InfluxDB.
 */
export class AlertBook {
  private readonly alerts = new Map<string, Alert>();

  get(id: string): Alert | undefined {
    return this.alerts.get(id);
  }

  list(): Alert[] {
    return [...this.alerts.values()];
  }

  /** Applies a stored event (restart) — the event carries the alert as it was after it. */
  replay(event: AlertEvent): void {
    this.alerts.set(event.alertId, event.alert);
  }

  set(alert: Alert): void {
    this.alerts.set(alert.id, alert);
  }

  /**
   * Forgets finished alerts (closed, retracted, discarded) last changed before `before`; their
   * events stay in InfluxDB. Without it a long-running service keeps every alert it ever raised.
   */
  evict(before: number, discardedBefore: number): number {
    let evicted = 0;
    for (const [id, a] of this.alerts) {
      const last = Math.max(a.detectedAt, a.clearedAt ?? 0, a.closed?.at ?? 0, a.acknowledged?.at ?? 0);
      const finished = a.state === 'closed' || a.state === 'retracted' || (a.state === 'discarded' && last < discardedBefore);
      if (finished && (a.state === 'discarded' || last < before)) {
        this.alerts.delete(id);
        evicted++;
      }
    }
    return evicted;
  }

  /** Checks a user action against the lifecycle; throws LifecycleError with the reason. */
  static checkTransition(alert: Alert | undefined, action: 'acknowledge' | 'close', id: string): Alert {
    if (!alert) throw new LifecycleError(`no alert ${id}`, 404);
    if (action === 'acknowledge') {
      if (alert.acknowledged) throw new LifecycleError(`alert ${id} was already acknowledged by ${alert.acknowledged.printedName}`, 409);
      if (alert.state === 'closed' || alert.state === 'retracted' || alert.state === 'discarded')
        throw new LifecycleError(`alert ${id} is ${alert.state}`, 409);
    } else {
      if (alert.state === 'closed') throw new LifecycleError(`alert ${id} is already closed`, 409);
      const over = alert.state === 'cleared' || alert.state === 'retracted' || alert.state === 'discarded';
      if (!over) throw new LifecycleError(`alert ${id} is ${alert.state}: it can be closed once its condition has cleared`, 409);
      if (!alert.acknowledged && alert.state === 'cleared') throw new LifecycleError(`alert ${id} must be acknowledged before it is closed`, 409);
    }
    return alert;
  }
}
