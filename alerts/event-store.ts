import { quoteString, type InfluxClient } from '../storage/influx.js';
import { alertEventSchema, type AlertEvent } from './book.js';
import { escapeString as str, escapeTag as tag } from '../ingestor/records.js';
import { incidentEventSchema, type IncidentEvent } from './incident.js';

const OPTIONAL_FIELDS = ['printedName', 'meaning', 'comment', 'channel', 'recipient', 'outcome'] as const;

export const ALERT_EVENTS_MEASUREMENT = 'alert_events';


/**
 * One alert event as line protocol, for the spool (so an InfluxDB outage loses none). Tags make
 * events queryable by alert, device, place and type; `alert` holds the alert as it was after the
 * event, which is all a restart needs to rebuild the open alerts.
 */
export function alertEventLine(event: AlertEvent, sequence: number): string {
  const a = event.alert;
  const tags = `${ALERT_EVENTS_MEASUREMENT},alertId=${tag(event.alertId)},deviceId=${tag(a.deviceId)},event=${event.event},kind=${a.kind},locationId=${tag(a.locationId)},siteId=${tag(a.siteId)}`;
  let fields = `state=${str(a.state)},severity=${str(a.severity)},actor=${str(event.actor)},occurredAt=${a.occurredAt}i,late=${a.late},peak=${a.peak},threshold=${a.threshold},alert=${str(JSON.stringify(a))}`;
  for (const key of OPTIONAL_FIELDS) {
    const value = event[key];
    if (value !== undefined) fields += `,${key}=${str(value)}`;
  }
  return `${tags} ${fields} ${event.at}${String(sequence % 1_000_000).padStart(6, '0')}`;
}

/** Alert events from InfluxDB in time order (for a restart, or an alert's history). */
export async function loadAlertEvents(influx: InfluxClient, filter: { sinceMs?: number; alertId?: string } = {}): Promise<AlertEvent[]> {
  const where = [`time >= ${filter.sinceMs ?? 0}ms`];
  if (filter.alertId) where.push(`"alertId" = ${quoteString(filter.alertId)}`);
  const series = await influx.query(`SELECT "alertId", "event", "actor", "alert", "printedName", "meaning", "comment", "channel", "recipient", "outcome" FROM "${ALERT_EVENTS_MEASUREMENT}" WHERE ${where.join(' AND ')} ORDER BY time ASC`);
  const s = series[0];
  if (!s) return [];
  return s.values.map((row) => {
    const r = Object.fromEntries(s.columns.map((c, i) => [c, row[i]])) as Record<string, unknown>;
    const optional = Object.fromEntries(OPTIONAL_FIELDS.filter((k) => r[k] !== null && r[k] !== undefined).map((k) => [k, r[k]]));
    return alertEventSchema.parse({ alertId: r.alertId, event: r.event, at: r.time, actor: r.actor, alert: JSON.parse(r.alert as string), ...optional });
  });
}

export const INCIDENT_EVENTS_MEASUREMENT = 'incident_events';

/** One incident event as line protocol; `incident` holds the incident after the event. */
export function incidentEventLine(event: IncidentEvent, sequence: number): string {
  const i = event.incident;
  const tags = `${INCIDENT_EVENTS_MEASUREMENT},event=${event.event},incidentId=${tag(event.incidentId)},locationId=${tag(i.locationId)},siteId=${tag(i.siteId)}`;
  let fields = `state=${str(i.state)},severity=${str(i.severity)},headline=${str(i.headline)},actor=${str(event.actor)},occurredAt=${i.occurredAt}i,incident=${str(JSON.stringify(i))}`;
  for (const key of OPTIONAL_FIELDS) {
    const value = event[key];
    if (value !== undefined) fields += `,${key}=${str(value)}`;
  }
  return `${tags} ${fields} ${event.at}${String(sequence % 1_000_000).padStart(6, '0')}`;
}

/** Incident events from InfluxDB in time order (a restart, an incident's history, the KPIs). */
export async function loadIncidentEvents(influx: InfluxClient, filter: { sinceMs?: number; incidentId?: string } = {}): Promise<IncidentEvent[]> {
  const where = [`time >= ${filter.sinceMs ?? 0}ms`];
  if (filter.incidentId) where.push(`"incidentId" = ${quoteString(filter.incidentId)}`);
  const series = await influx.query(`SELECT "incidentId", "event", "actor", "incident", ${OPTIONAL_FIELDS.map((f) => `"${f}"`).join(', ')} FROM "${INCIDENT_EVENTS_MEASUREMENT}" WHERE ${where.join(' AND ')} ORDER BY time ASC`);
  const s = series[0];
  if (!s) return [];
  return s.values.map((row) => {
    const r = Object.fromEntries(s.columns.map((c, i) => [c, row[i]])) as Record<string, unknown>;
    const optional = Object.fromEntries(OPTIONAL_FIELDS.filter((k) => r[k] !== null && r[k] !== undefined).map((k) => [k, r[k]]));
    return incidentEventSchema.parse({ incidentId: r.incidentId, event: r.event, at: r.time, actor: r.actor, incident: JSON.parse(r.incident as string), ...optional });
  });
}
