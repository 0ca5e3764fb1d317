import { z } from 'zod';
import { alertEventSchema, type Alert, type AlertEvent } from './book.js';
import { incidentEventSchema, type Incident, type IncidentEvent } from './incident.js';

/** An alert or incident event one node recorded, as the other nodes receive it (validated, never trusted). */
export const sharedFactSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('alert'), event: alertEventSchema }),
  z.object({ type: z.literal('incident'), event: incidentEventSchema }),
]);
export type SharedFact = z.infer<typeof sharedFactSchema>;

/**
 * How a node's alert service follows the others (cluster/alert-link.ts); absent on a single node.
 * The event store (InfluxDB, through each node's spool) stays the record; this only tells the
 * other nodes at once what it will hold.
 */
export interface AlertCluster {
  nodeId: string;
  /** Tells the other nodes of an event this node recorded. */
  share(fact: SharedFact): void;
  /**
   * Hears the other nodes: their events, and devices they now judge. `resync` is called when Redis
   * answers again after an outage: the events recorded since `sinceMs` are read back from the
   * event store, since what the other nodes published meanwhile did not reach this one.
   */
  follow(handlers: { fact(fact: SharedFact): void; claimed(deviceId: string, by: string): void; resync(sinceMs: number): void }): Promise<void>;
  /** This node judges the device from now on (it holds the device's connection). */
  claim(deviceId: string): void;
  /** Devices whose last judge was this node (a restarted node continues them, silence included). */
  judgedHere(): Promise<string[]>;
  /** Escalation, reminders, digests and shelf expiry are one node's job at a time: this one's now. */
  notifies(): boolean;
  stop(): void;
}

/** Events that say what the rules found (the judge's); the others are people's and notifications'. */
const JUDGED = new Set<AlertEvent['event']>(['pending', 'activated', 'cleared', 'discarded', 'retracted']);

/**
 * An alert after another node's event, given what this node knows: the condition (state, times,
 * peak) is the judge's when the event is the judge's, and this node's otherwise; signatures are
 * only ever added, whoever recorded them first. Two nodes that receive the same events in
 * different orders (an acknowledgement on node B while node A clears) end with the same alert.
 */
export function mergeAlert(local: Alert | undefined, event: AlertEvent): Alert {
  const remote = event.alert;
  if (!local) return remote;
  const condition = JUDGED.has(event.event) ? remote : local;
  const acknowledged = remote.acknowledged ?? local.acknowledged;
  const closed = remote.closed ?? local.closed;
  const conditionState = condition.state === 'acknowledged' || condition.state === 'closed' ? conditionOf(condition) : condition.state;
  const state: Alert['state'] = closed ? 'closed' : conditionState === 'active' && acknowledged ? 'acknowledged' : conditionState;
  return {
    ...condition,
    state,
    acknowledged,
    closed,
    incidentId: remote.incidentId ?? local.incidentId,
    tier: Math.max(remote.tier, local.tier),
    lastNotifiedAt: Math.max(remote.lastNotifiedAt ?? 0, local.lastNotifiedAt ?? 0) || null,
  };
}

/** What the rules say of an alert that people have acknowledged or closed. */
function conditionOf(alert: Alert): Alert['state'] {
  if (alert.state === 'acknowledged') return 'active';
  return alert.clearedAt !== null ? 'cleared' : 'active';
}

/**
 * An incident after another node's event: the event's incident (incidents are changed by whoever
 * holds their members, in the order Redis delivers), except that a close stays a close and the
 * escalation tier only rises (one page per tier, not one per node).
 */
export function mergeIncident(local: Incident | undefined, event: IncidentEvent): Incident {
  const remote = event.incident;
  if (!local) return remote;
  if (local.closed && !remote.closed) return { ...local, tier: Math.max(remote.tier, local.tier) };
  return {
    ...remote,
    tier: Math.max(remote.tier, local.tier),
    lastNotifiedAt: Math.max(remote.lastNotifiedAt ?? 0, local.lastNotifiedAt ?? 0) || null,
  };
}
