import { createHash } from 'node:crypto';
import type { AlarmPolicy } from '../core/config/alarm-policy.js';
import { severityOrder } from '../core/config/alarm-policy.js';
import type { AlertKind } from '../core/config/alert-rules.js';
import type { Alert } from './book.js';
import { LifecycleError } from './book.js';
import type { Incident } from './incident.js';

/** What leads an incident's text: what happened to the goods before what may have caused it. */
const HEADLINE_ORDER: AlertKind[] = [
  'temperature_high',
  'temperature_low',
  'cumulative_time_out_of_range',
  'device_silent',
  'temperature_warning_high',
  'temperature_warning_low',
  'humidity_high',
  'humidity_low',
  'door_open',
  'rate_of_change',
  'battery_low',
  // At a site's system place: an overdue calibration says more than one coming due.
  'calibration_overdue',
  'reading_conflict',
  'calibration_due',
  // A batch's stability budget: used up says more than running low.
  'stability_budget_exhausted',
  'stability_budget_low',
];

const over = (a: Alert) => a.state === 'cleared' || a.state === 'closed' || a.state === 'retracted' || a.state === 'discarded';

export const incidentId = (locationId: string, firstAlertId: string) =>
  `in_${createHash('sha256').update(`${locationId}|${firstAlertId}`).digest('hex').slice(0, 20)}`;

/**
 * Incidents: one condition at one place, however many sensors see it and whichever rules they
 * break. An alert that becomes active joins its place's open incident (or one that cleared less
 * than `incidentMerge` before it began); otherwise it opens a new one. Changed only through
 * `join`/`memberChanged`/`set`, so replaying stored events rebuilds the same book.
 */
export class IncidentBook {
  private readonly incidents = new Map<string, Incident>();
  /**
   * Ids of the incidents not closed, per place, in the order they came into the book: an alert
   * joining its place's incident looks at these, not at every incident kept (a week of closed ones,
   * and the open ones of every other place: a scan per activation grew with the book).
   */
  private readonly openByLocation = new Map<string, Set<string>>();

  get(id: string): Incident | undefined {
    return this.incidents.get(id);
  }

  list(): Incident[] {
    return [...this.incidents.values()];
  }

  set(incident: Incident): void {
    this.incidents.set(incident.id, incident);
    const open = this.openByLocation.get(incident.locationId);
    if (incident.state !== 'closed') {
      if (open) open.add(incident.id);
      else this.openByLocation.set(incident.locationId, new Set([incident.id]));
    } else if (open?.delete(incident.id) && open.size === 0) this.openByLocation.delete(incident.locationId);
  }

  /** Forgets closed incidents closed before `before` (their events stay in InfluxDB). */
  evict(before: number): number {
    let evicted = 0;
    for (const [id, i] of this.incidents) {
      if (i.state === 'closed' && (i.closed?.at ?? 0) < before) {
        this.incidents.delete(id);
        evicted++;
      }
    }
    return evicted;
  }

  /** The incident an alert that just became active belongs to, updated; `created` when new. */
  join(alert: Alert, policy: AlarmPolicy, now: number): { incident: Incident; created: boolean } {
    // The latest to begin of the place's open incidents it may join; the first in the book of equals.
    let open: Incident | undefined;
    for (const id of this.openByLocation.get(alert.locationId) ?? []) {
      const i = this.incidents.get(id)!;
      if (i.clearedAt !== null && alert.occurredAt - i.clearedAt > policy.incidentMerge && !i.alertIds.includes(alert.id)) continue;
      if (!open || i.occurredAt > open.occurredAt) open = i;
    }
    if (!open) {
      const incident: Incident = {
        id: incidentId(alert.locationId, alert.id),
        siteId: alert.siteId,
        locationId: alert.locationId,
        state: 'active',
        severity: alert.severity,
        headline: alert.kind,
        kinds: [alert.kind],
        deviceIds: [alert.deviceId],
        alertIds: [alert.id],
        occurredAt: alert.occurredAt,
        detectedAt: now,
        clearedAt: null,
        late: alert.late,
        notify: policy.notify[alert.severity],
        acknowledged: null,
        closed: null,
        shelved: null,
        tier: 0,
        lastNotifiedAt: null,
      };
      this.set(incident);
      return { incident, created: true };
    }
    const severity = severityOrder[alert.severity] > severityOrder[open.severity] ? alert.severity : open.severity;
    const kinds = open.kinds.includes(alert.kind) ? open.kinds : [...open.kinds, alert.kind];
    const incident: Incident = {
      ...open,
      severity,
      notify: policy.notify[severity],
      kinds,
      headline: HEADLINE_ORDER.find((k) => kinds.includes(k)) ?? open.headline,
      deviceIds: open.deviceIds.includes(alert.deviceId) ? open.deviceIds : [...open.deviceIds, alert.deviceId],
      alertIds: open.alertIds.includes(alert.id) ? open.alertIds : [...open.alertIds, alert.id],
      occurredAt: Math.min(open.occurredAt, alert.occurredAt),
      clearedAt: null,
      state: open.acknowledged ? 'acknowledged' : 'active',
      // A more severe condition than the one acknowledged, or a return after clearing, must be seen again.
      ...(open.acknowledged && severityOrder[alert.severity] > severityOrder[open.severity] ? { acknowledged: null, state: 'active' as const, tier: 0 } : {}),
    };
    this.set(incident);
    return { incident, created: false };
  }

  /** After a member alert changed: the incident clears when every member is over. */
  memberChanged(incident: Incident, members: Alert[]): Incident {
    if (incident.state === 'closed') return incident;
    const allOver = members.length > 0 && members.every(over);
    const clearedAt = allOver ? Math.max(...members.map((m) => m.clearedAt ?? m.occurredAt)) : null;
    const state = allOver ? 'cleared' : incident.acknowledged ? 'acknowledged' : 'active';
    if (state === incident.state && clearedAt === incident.clearedAt) return incident;
    const updated: Incident = { ...incident, state, clearedAt };
    this.set(updated);
    return updated;
  }

  /** A user action against the lifecycle; throws LifecycleError with the reason. */
  static check(incident: Incident | undefined, action: 'acknowledge' | 'close' | 'shelve' | 'unshelve', id: string): Incident {
    if (!incident) throw new LifecycleError(`no incident ${id}`, 404);
    if (incident.state === 'closed') throw new LifecycleError(`incident ${id} is closed`, 409);
    if (action === 'acknowledge' && incident.acknowledged)
      throw new LifecycleError(`incident ${id} was already acknowledged by ${incident.acknowledged.printedName}`, 409);
    if (action === 'close') {
      if (incident.state !== 'cleared')
        throw new LifecycleError(`incident ${id} is ${incident.state}: it can be closed once every alarm in it has cleared`, 409);
      if (!incident.acknowledged) throw new LifecycleError(`incident ${id} must be acknowledged before it is closed`, 409);
    }
    if (action === 'shelve' && incident.shelved)
      throw new LifecycleError(
        `incident ${id} is already shelved until ${new Date(incident.shelved.until).toISOString()} by ${incident.shelved.printedName}`,
        409,
      );
    if (action === 'unshelve' && !incident.shelved) throw new LifecycleError(`incident ${id} is not shelved`, 409);
    return incident;
  }
}
