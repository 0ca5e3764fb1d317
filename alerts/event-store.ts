import type { InfluxClient } from '../storage/influx.js';
import { replayFacts, type Fact } from '../storage/fact-log.js';
import { int } from '../storage/line-protocol.js';
import { ALERT_EVENTS_MEASUREMENT, INCIDENT_EVENTS_MEASUREMENT } from '../storage/measurements.js';
import { alertEventSchema, type AlertEvent } from './book.js';
import { incidentEventSchema, type IncidentEvent } from './incident.js';

/** What a signature or a notification attempt adds to an alert or incident event; stored only when present. */
const OPTIONAL_FIELDS = ['printedName', 'meaning', 'comment', 'channel', 'recipient', 'outcome'] as const;
const optionalFields = (event: Partial<Record<(typeof OPTIONAL_FIELDS)[number], string>>) =>
  Object.fromEntries(OPTIONAL_FIELDS.map((key) => [key, event[key]]));

/**
 * One alert event as a fact, for the spool (so an InfluxDB outage loses none). Tags make events
 * queryable by alert, device, place and type; `alert` holds the alert as it was after the event,
 * which is all a restart needs to rebuild the open alerts.
 */
export function alertEventFact(event: AlertEvent): Fact {
  const a = event.alert;
  return {
    measurement: ALERT_EVENTS_MEASUREMENT,
    tags: { alertId: event.alertId, deviceId: a.deviceId, event: event.event, kind: a.kind, locationId: a.locationId, siteId: a.siteId },
    fields: {
      state: a.state,
      severity: a.severity,
      actor: event.actor,
      occurredAt: int(a.occurredAt),
      late: a.late,
      peak: a.peak,
      threshold: a.threshold,
      alert: JSON.stringify(a),
      ...optionalFields(event),
    },
    at: event.at,
  };
}

/** One incident event as a fact; `incident` holds the incident after the event. */
export function incidentEventFact(event: IncidentEvent): Fact {
  const i = event.incident;
  return {
    measurement: INCIDENT_EVENTS_MEASUREMENT,
    tags: { event: event.event, incidentId: event.incidentId, locationId: i.locationId, siteId: i.siteId },
    fields: {
      state: i.state,
      severity: i.severity,
      headline: i.headline,
      actor: event.actor,
      occurredAt: int(i.occurredAt),
      incident: JSON.stringify(i),
      ...optionalFields(event),
    },
    at: event.at,
  };
}

/** Alert events from InfluxDB in time order (for a restart, or an alert's history). */
export function loadAlertEvents(influx: InfluxClient, filter: { sinceMs?: number; alertId?: string } = {}): Promise<AlertEvent[]> {
  return replayFacts(influx, alertEventSchema, {
    measurement: ALERT_EVENTS_MEASUREMENT,
    columns: ['alertId', 'event', 'actor', 'alert', ...OPTIONAL_FIELDS],
    json: ['alert'],
    sinceMs: filter.sinceMs,
    tags: { alertId: filter.alertId },
  });
}

/** Incident events from InfluxDB in time order (a restart, an incident's history, the KPIs). */
export function loadIncidentEvents(influx: InfluxClient, filter: { sinceMs?: number; incidentId?: string } = {}): Promise<IncidentEvent[]> {
  return replayFacts(influx, incidentEventSchema, {
    measurement: INCIDENT_EVENTS_MEASUREMENT,
    columns: ['incidentId', 'event', 'actor', 'incident', ...OPTIONAL_FIELDS],
    json: ['incident'],
    sinceMs: filter.sinceMs,
    tags: { incidentId: filter.incidentId },
  });
}
