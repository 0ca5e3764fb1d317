import { z } from 'zod';
import { instantQuerySchema as instant } from '../core/instant.js';
import type { InfluxClient } from '../storage/influx.js';
import { alertEventSchema, alertSchema, alertStates, type Alert } from './book.js';
import { loadAlertEvents, loadIncidentEvents } from './event-store.js';
import { incidentEventSchema, incidentStates, incidentViewSchema, type Incident, type IncidentView } from './incident.js';
import { redactEvent } from './redact.js';
import type { AlertService } from './service.js';

/**
 * Alerts and incidents as people look them up: lists filtered by state, site and period, newest
 * first; one with its stored events (recipients' webhook keys and phone numbers never leave,
 * alerts/redact.ts, for events recorded before that too) and, for an incident, the last hour of
 * its sensors as a chart draws it (every reading, or each 6-second slice's low and high).
 */

/** An incident's chart: each sensor's hour in 6-second slices, their lows and highs (at most ~1,200 points, not 90,000 at 25 a second). */
const TREND_SLICES = 600;

export const alertDetailSchema = z.object({ alert: alertSchema, events: z.array(alertEventSchema.omit({ alert: true })) });
export type AlertDetail = z.infer<typeof alertDetailSchema>;
const trendSchema = z.array(z.object({ deviceId: z.string(), points: z.array(z.tuple([z.number(), z.number()])) }));
export const incidentDetailSchema = z.object({
  incident: incidentViewSchema,
  alerts: z.array(alertSchema),
  events: z.array(incidentEventSchema.omit({ incident: true })),
  trend: trendSchema,
});
export type IncidentDetail = z.infer<typeof incidentDetailSchema>;

/** ?state=&site=&from=&to= of a list: occurred at or after `from`, before `to`. */
const filterOf = <S extends readonly [string, ...string[]]>(states: S) =>
  z.object({ state: z.enum(states).optional(), site: z.string().optional(), from: instant.optional(), to: instant.optional() });
export const alertFilterSchema = filterOf(alertStates);
export const incidentFilterSchema = filterOf(incidentStates);
export type AlarmFilter = { state?: string; site?: string; from?: number; to?: number };

const matches =
  ({ state, site, from, to }: AlarmFilter) =>
  (x: { state: string; siteId: string; occurredAt: number }) =>
    (!state || x.state === state) && (!site || x.siteId === site) && (from === undefined || x.occurredAt >= from) && (to === undefined || x.occurredAt < to);
export const newestFirst = (a: { occurredAt: number }, b: { occurredAt: number }) => b.occurredAt - a.occurredAt;

export const alertsMatching = (service: AlertService, filter: AlarmFilter): Alert[] => service.book.list().filter(matches(filter)).sort(newestFirst);

export const incidentsMatching = (service: AlertService, filter: AlarmFilter): IncidentView[] =>
  service.incidents
    .list()
    .filter(matches(filter))
    .sort(newestFirst)
    .map((i: Incident) => service.view(i));

export async function alertDetail(service: AlertService, influx: InfluxClient, id: string): Promise<AlertDetail | undefined> {
  const alert = service.book.get(id);
  if (!alert) return undefined;
  const events = await loadAlertEvents(influx, { alertId: alert.id });
  return { alert, events: events.map(({ alert: _snapshot, ...event }) => redactEvent(event)) };
}

export async function incidentDetail(service: AlertService, influx: InfluxClient, id: string): Promise<IncidentDetail | undefined> {
  const incident = service.incidents.get(id);
  if (!incident) return undefined;
  const events = await loadIncidentEvents(influx, { incidentId: incident.id });
  const now = Date.now();
  const since = now - 3_600_000;
  return {
    incident: service.view(incident),
    alerts: incident.alertIds.map((alertId) => service.book.get(alertId)).filter((a) => a !== undefined),
    events: events.map(({ incident: _snapshot, ...event }) => redactEvent(event)),
    trend: incident.deviceIds.map((deviceId) => ({ deviceId, points: service.engine.trendPoints(deviceId, since, now, TREND_SLICES) })),
  };
}
