import { z } from 'zod';
import { alertKinds, severities } from '../core/config/alert-rules.js';
import { instantQuerySchema as instant, period } from '../core/instant.js';
import type { Logger } from '../core/logger.js';
import type { InfluxClient } from '../storage/influx.js';
import type { AlertEvent } from './book.js';
import { loadAlertEvents, loadIncidentEvents } from './event-store.js';
import { noSuchSite } from './alarm-test.js';
import { shelfSchema, type Incident, type IncidentEvent } from './incident.js';

/** What the report reads of an incident event: who shelved what, when (any stored incident event is one). */
export type ShelfEvent = Pick<IncidentEvent, 'incidentId' | 'event' | 'at'> & {
  incident: Pick<Incident, 'id' | 'siteId' | 'locationId' | 'state' | 'shelved'>;
};

const MINUTE = 60_000;
const DAY = 86_400_000;

/**
 * ANSI/ISA-18.2 (Table 5, alarm performance metrics) and EEMUA 191 figures the report is judged
 * against. "Per operator" is read as "per site": each site has its own people on duty.
 */
export const ISA_18_2_TARGETS = {
  perTenMinutesAcceptable: 1,
  perTenMinutesManageable: 2,
  /** More than this many new alarms in 10 minutes is a flood. */
  floodAbove: 10,
  perDayAcceptable: 150,
  perDayManageable: 300,
  /** Share of the time spent in floods that is still acceptable (ISA-18.2: under ~1 %). */
  floodTimeShareMax: 0.01,
  acknowledgeWithinMs: 15 * MINUTE,
  staleAfterMs: 24 * 60 * MINUTE,
  /** A sensor raising the same alarm this many times within chatterWindowMs chatters. */
  chatterActivations: 3,
  chatterWindowMs: 10 * MINUTE,
  /** An alert that came back this many times after clearing is as good as chattering. */
  chatterRelapses: 3,
  topCount: 10,
} as const;

const TEN_MINUTES = 10 * MINUTE;

export const assessments = ['acceptable', 'manageable', 'over_demanding'] as const;

const rateSchema = z.object({
  /** Alarms raised (first activation of each alert) in the period. */
  alarms: z.number().int(),
  perDay: z.object({ average: z.number(), peak: z.number().int() }),
  perTenMinutes: z.object({ average: z.number(), peak: z.number().int() }),
  floods: z.number().int(),
  /** Share of the period spent in floods (0–1). */
  floodTimeShare: z.number(),
  /** Against ISA-18.2: both the 10-minute average and the daily average must meet a level. */
  assessment: z.enum(assessments),
});

const placeKind = { siteId: z.string(), locationId: z.string(), kind: z.enum(alertKinds) };

export const alarmPerformanceSchema = z.object({
  period: z.object({ from: z.number(), to: z.number(), days: z.number() }),
  generatedAt: z.number(),
  /** The site asked for; null: every site. */
  siteId: z.string().nullable(),
  targets: z.object({
    perTenMinutesAcceptable: z.number(),
    perTenMinutesManageable: z.number(),
    floodAbove: z.number(),
    perDayAcceptable: z.number(),
    perDayManageable: z.number(),
    floodTimeShareMax: z.number(),
    acknowledgeWithinMs: z.number(),
    staleAfterMs: z.number(),
    chatterActivations: z.number(),
    chatterWindowMs: z.number(),
    chatterRelapses: z.number(),
    topCount: z.number(),
  }),
  /** All sites in scope as one stream (what a central control room would see). */
  total: rateSchema,
  sites: z.array(rateSchema.extend({ siteId: z.string() })),
  floods: z.array(z.object({ siteId: z.string(), start: z.number(), end: z.number(), alarms: z.number().int() })),
  topAlarms: z.array(z.object({ ...placeKind, alarms: z.number().int(), share: z.number(), deviceIds: z.array(z.string()) })),
  chattering: z.object({
    /** Alerts flagged chattering, or that relapsed at least chatterRelapses times. */
    alerts: z.array(z.object({ alertId: z.string(), ...placeKind, deviceId: z.string(), relapses: z.number().int(), flagged: z.boolean() })),
    /** Sensor and kind raising chatterActivations or more activations within chatterWindowMs. */
    pairs: z.array(z.object({ ...placeKind, deviceId: z.string(), activations: z.number().int(), windowStart: z.number() })),
  }),
  stale: z.array(
    z.object({
      alertId: z.string(),
      ...placeKind,
      deviceId: z.string(),
      severity: z.enum(severities),
      state: z.string(),
      activeSince: z.number(),
      activeForMs: z.number(),
    }),
  ),
  shelved: z.object({
    /** Incidents shelved at least once in the period. */
    inPeriod: z.number().int(),
    /** Incidents shelved now (not yet expired, unshelved or closed). */
    current: z.number().int(),
    incidents: z.array(shelfSchema.extend({ incidentId: z.string(), siteId: z.string(), locationId: z.string() })),
  }),
  acknowledgement: z.object({
    alarms: z.number().int(),
    acknowledged: z.number().int(),
    medianMs: z.number().nullable(),
    p90Ms: z.number().nullable(),
    /** Acknowledged within acknowledgeWithinMs, among alarms raised at least that long ago. */
    withinTarget: z.number().int(),
    withinTargetShare: z.number().nullable(),
  }),
});
export type AlarmPerformance = z.infer<typeof alarmPerformanceSchema>;

export interface PerformanceInput {
  alertEvents: readonly AlertEvent[];
  incidentEvents?: readonly ShelfEvent[];
  from: number;
  to: number;
  now: number;
  siteId?: string;
  /** Site ids to list even without alarms (the registry's). */
  knownSites?: readonly string[];
}

/** Which sensor's which alarm at which place: how every list names an alert (`placeKind` and `deviceId`). */
const sensorAlarm = (a: AlertEvent['alert']) => ({ siteId: a.siteId, locationId: a.locationId, kind: a.kind, deviceId: a.deviceId });

const round = (value: number, digits = 4) => Math.round(value * 10 ** digits) / 10 ** digits;

/** Most timestamps (sorted) inside any window of `width` ms, and where that window starts. */
function peakWindow(sorted: readonly number[], width: number): { count: number; start: number } {
  let best = { count: 0, start: sorted[0] ?? 0 };
  let j = 0;
  for (let i = 0; i < sorted.length; i++) {
    while (j < sorted.length && sorted[j]! < sorted[i]! + width) j++;
    if (j - i > best.count) best = { count: j - i, start: sorted[i]! };
  }
  return best;
}

/**
 * Floods on a sliding window: fixed 10-minute bins would miss a burst of 12 split 6 + 6 across a
 * boundary. Windows that overlap or touch merge into one flood, ending 10 minutes after the last
 * window that still held more than floodAbove alarms.
 */
function floodsOf(sorted: readonly number[], periodEnd: number): Array<{ start: number; end: number; alarms: number }> {
  const floods: Array<{ start: number; end: number; alarms: number }> = [];
  let j = 0;
  for (let i = 0; i < sorted.length; i++) {
    while (j < sorted.length && sorted[j]! < sorted[i]! + TEN_MINUTES) j++;
    if (j - i <= ISA_18_2_TARGETS.floodAbove) continue;
    const start = sorted[i]!;
    const end = Math.min(start + TEN_MINUTES, periodEnd);
    const last = floods.at(-1);
    if (last && start <= last.end) last.end = Math.max(last.end, end);
    else floods.push({ start, end, alarms: 0 });
  }
  for (const flood of floods) flood.alarms = sorted.filter((t) => t >= flood.start && t < flood.end).length;
  return floods;
}

/** Linear interpolation between closest ranks (numpy's default), so a median of 2 values is their mean. */
function percentile(sorted: readonly number[], p: number): number | null {
  if (!sorted.length) return null;
  const rank = (sorted.length - 1) * p;
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

function rate(times: readonly number[], from: number, to: number): z.infer<typeof rateSchema> {
  const periodMs = to - from;
  const sorted = [...times].sort((a, b) => a - b);
  const floods = floodsOf(sorted, to);
  const perTenMinutes = sorted.length / (periodMs / TEN_MINUTES);
  const perDay = sorted.length / (periodMs / DAY);
  const t = ISA_18_2_TARGETS;
  const assessment =
    perTenMinutes <= t.perTenMinutesAcceptable && perDay <= t.perDayAcceptable
      ? 'acceptable'
      : perTenMinutes <= t.perTenMinutesManageable && perDay <= t.perDayManageable
        ? 'manageable'
        : 'over_demanding';
  return {
    alarms: sorted.length,
    perDay: { average: round(perDay), peak: peakWindow(sorted, DAY).count },
    perTenMinutes: { average: round(perTenMinutes), peak: peakWindow(sorted, TEN_MINUTES).count },
    floods: floods.length,
    floodTimeShare: round(floods.reduce((sum, f) => sum + (f.end - f.start), 0) / periodMs),
    assessment,
  };
}

/**
 * The alarm performance report for [from, to), from stored events only, so it is the same
 * whenever it is run. An alarm is counted when its alert is first activated, at the event's time:
 * the moment people were told, which is what loads them (a late alert found today loads today).
 * Relapses folded into an alert are not new alarms; they show under chattering.
 */
export function computeAlarmPerformance(input: PerformanceInput): AlarmPerformance {
  const { from, to, now, siteId } = input;
  const inScope = (site: string) => !siteId || site === siteId;
  const periodMs = to - from;
  const endOfPeriod = Math.min(to, now);

  const events = input.alertEvents
    .filter((e) => inScope(e.alert.siteId))
    .slice()
    .sort((a, b) => a.at - b.at);
  const firstActivation = new Map<string, AlertEvent>();
  const activations: AlertEvent[] = [];
  const latest = new Map<string, AlertEvent>();
  const atEnd = new Map<string, AlertEvent>();
  const touched = new Set<string>();
  const beforeTo = new Map<string, AlertEvent>();
  for (const event of events) {
    if (event.at <= now) latest.set(event.alertId, event);
    if (event.at < to) beforeTo.set(event.alertId, event);
    if (event.at < to && event.at <= now) atEnd.set(event.alertId, event);
    if (event.at >= from && event.at < to) touched.add(event.alertId);
    if (event.event !== 'activated') continue;
    const first = !firstActivation.has(event.alertId);
    if (first) firstActivation.set(event.alertId, event);
    if (event.at >= from && event.at < to) activations.push(event);
  }
  const alarms = [...firstActivation.values()].filter((e) => e.at >= from && e.at < to);

  // Sites without alarms are listed too when the caller knows them: zero is a result worth seeing.
  const siteIds = [...new Set([...alarms.map((e) => e.alert.siteId), ...(input.knownSites ?? []), ...(siteId ? [siteId] : [])])].filter(inScope).sort();
  const sites = siteIds.map((id) => ({
    siteId: id,
    ...rate(
      alarms.filter((e) => e.alert.siteId === id).map((e) => e.at),
      from,
      to,
    ),
  }));
  const floods = siteIds.flatMap((id) =>
    floodsOf(
      alarms
        .filter((e) => e.alert.siteId === id)
        .map((e) => e.at)
        .sort((a, b) => a - b),
      to,
    ).map((f) => ({ siteId: id, ...f })),
  );
  floods.sort((a, b) => a.start - b.start || a.siteId.localeCompare(b.siteId));

  const groups = new Map<string, { siteId: string; locationId: string; kind: AlertEvent['alert']['kind']; alarms: number; devices: Set<string> }>();
  for (const { alert } of alarms) {
    const key = `${alert.siteId}\u0000${alert.locationId}\u0000${alert.kind}`;
    const group = groups.get(key) ?? { siteId: alert.siteId, locationId: alert.locationId, kind: alert.kind, alarms: 0, devices: new Set<string>() };
    group.alarms++;
    group.devices.add(alert.deviceId);
    groups.set(key, group);
  }
  const topAlarms = [...groups.values()]
    .sort((a, b) => b.alarms - a.alarms || a.siteId.localeCompare(b.siteId) || a.locationId.localeCompare(b.locationId) || a.kind.localeCompare(b.kind))
    .slice(0, ISA_18_2_TARGETS.topCount)
    .map(({ devices, ...g }) => ({ ...g, share: round(g.alarms / alarms.length), deviceIds: [...devices].sort() }));

  const chatteringAlerts = [...touched]
    .map((id) => beforeTo.get(id)!.alert)
    .filter((a) => a.chattering || a.relapses >= ISA_18_2_TARGETS.chatterRelapses)
    .map((a) => ({
      alertId: a.id,
      ...sensorAlarm(a),
      relapses: a.relapses,
      flagged: a.chattering,
    }))
    .sort((a, b) => b.relapses - a.relapses || a.alertId.localeCompare(b.alertId));
  const byPair = new Map<string, AlertEvent[]>();
  for (const event of activations) {
    const key = `${event.alert.deviceId}\u0000${event.alert.kind}`;
    byPair.set(key, [...(byPair.get(key) ?? []), event]);
  }
  const pairs = [...byPair.values()]
    .map((list) => ({
      sample: list[0]!.alert,
      peak: peakWindow(
        list.map((e) => e.at),
        ISA_18_2_TARGETS.chatterWindowMs,
      ),
    }))
    .filter(({ peak }) => peak.count >= ISA_18_2_TARGETS.chatterActivations)
    .map(({ sample, peak }) => ({
      ...sensorAlarm(sample),
      activations: peak.count,
      windowStart: peak.start,
    }))
    .sort((a, b) => b.activations - a.activations || a.deviceId.localeCompare(b.deviceId) || a.kind.localeCompare(b.kind));

  // Condition still present: active or acknowledged (acknowledging does not clear it).
  const stale = [...atEnd.values()]
    .map((e) => e.alert)
    .filter(
      (a) =>
        (a.state === 'active' || a.state === 'acknowledged') &&
        a.clearedAt === null &&
        a.activatedAt !== null &&
        endOfPeriod - a.activatedAt > ISA_18_2_TARGETS.staleAfterMs,
    )
    .map((a) => ({
      alertId: a.id,
      ...sensorAlarm(a),
      severity: a.severity,
      state: a.state,
      activeSince: a.activatedAt!,
      activeForMs: endOfPeriod - a.activatedAt!,
    }))
    .sort((a, b) => b.activeForMs - a.activeForMs);

  const incidentEvents = (input.incidentEvents ?? [])
    .filter((e) => inScope(e.incident.siteId))
    .slice()
    .sort((a, b) => a.at - b.at);
  const shelvedInPeriod = new Set(incidentEvents.filter((e) => e.event === 'shelved' && e.at >= from && e.at < to).map((e) => e.incidentId));
  const latestIncident = new Map<string, ShelfEvent>();
  for (const event of incidentEvents) if (event.at <= now) latestIncident.set(event.incidentId, event);
  const shelvedNow = [...latestIncident.values()]
    .map((e) => e.incident)
    .filter((i) => i.shelved !== null && i.shelved.until > now && i.state !== 'closed')
    .map((i) => ({
      incidentId: i.id,
      siteId: i.siteId,
      locationId: i.locationId,
      by: i.shelved!.by,
      printedName: i.shelved!.printedName,
      at: i.shelved!.at,
      until: i.shelved!.until,
      reason: i.shelved!.reason,
    }))
    .sort((a, b) => a.until - b.until);

  // The acknowledgement may come after the period: it still answers that alarm.
  const ackTimes: number[] = [];
  let withinTarget = 0;
  let due = 0;
  for (const activation of alarms) {
    const signed = latest.get(activation.alertId)?.alert.acknowledged;
    const took = signed ? Math.max(0, signed.at - activation.at) : null;
    if (took !== null) ackTimes.push(took);
    // An alarm raised a minute ago has not yet had its 15 minutes: it is neither in time nor late.
    if (activation.at + ISA_18_2_TARGETS.acknowledgeWithinMs > now && (took === null || took > ISA_18_2_TARGETS.acknowledgeWithinMs)) continue;
    due++;
    if (took !== null && took <= ISA_18_2_TARGETS.acknowledgeWithinMs) withinTarget++;
  }
  ackTimes.sort((a, b) => a - b);
  const median = percentile(ackTimes, 0.5);
  const p90 = percentile(ackTimes, 0.9);

  return alarmPerformanceSchema.parse({
    period: { from, to, days: round(periodMs / DAY) },
    generatedAt: now,
    siteId: siteId ?? null,
    targets: ISA_18_2_TARGETS,
    total: rate(
      alarms.map((e) => e.at),
      from,
      to,
    ),
    sites,
    floods,
    topAlarms,
    chattering: { alerts: chatteringAlerts, pairs },
    stale,
    shelved: { inPeriod: shelvedInPeriod.size, current: shelvedNow.length, incidents: shelvedNow },
    acknowledgement: {
      alarms: alarms.length,
      acknowledged: ackTimes.length,
      medianMs: median === null ? null : Math.round(median),
      p90Ms: p90 === null ? null : Math.round(p90),
      withinTarget,
      withinTargetShare: due ? round(withinTarget / due) : null,
    },
  });
}

/**
 * How far back events are read: an alert raised long before the period can still be active (stale)
 * at its end. The same horizon the alert service rebuilds its book from.
 */
export const PERFORMANCE_LOOKBACK_MS = 400 * DAY;

/** A year and a day: enough for an annual review, bounded so one request cannot read everything. */
const MAX_PERIOD_DAYS = 366;

/**
 * ?site=&from=&to= of the report (default the last 7 days, at most `MAX_PERIOD_DAYS`). The site is
 * checked against the registry's, so a typo is named rather than answered with an empty report.
 */
export function performanceQuerySchema(knownSites: () => string[]) {
  const site = z
    .string()
    .min(1, 'must name a site')
    .superRefine((id, ctx) => {
      if (!knownSites().includes(id)) ctx.addIssue({ code: 'custom', message: noSuchSite(id, knownSites()) });
    });
  return period(z.object({ site: site.optional(), from: instant.optional(), to: instant.optional() }), 7 * DAY).refine(
    (q) => q.to - q.from <= MAX_PERIOD_DAYS * DAY,
    { message: `the period may be at most ${MAX_PERIOD_DAYS} days`, path: ['from'] },
  );
}

export interface PerformanceOptions {
  from: number;
  to: number;
  siteId?: string;
  knownSites?: readonly string[];
  now?: number;
  log?: Logger;
}

/** The report from what InfluxDB holds (alert_events, and incident_events when there are any). */
export async function loadAlarmPerformance(influx: InfluxClient, options: PerformanceOptions): Promise<AlarmPerformance> {
  const now = options.now ?? Date.now();
  const sinceMs = options.from - PERFORMANCE_LOOKBACK_MS;
  const [alertEvents, incidentEvents] = await Promise.all([loadAlertEvents(influx, { sinceMs }), loadIncidentEvents(influx, { sinceMs })]);
  const report = computeAlarmPerformance({
    alertEvents,
    incidentEvents,
    from: options.from,
    to: options.to,
    now,
    ...(options.siteId ? { siteId: options.siteId } : {}),
    ...(options.knownSites ? { knownSites: options.knownSites } : {}),
  });
  options.log?.debug(
    { from: options.from, to: options.to, site: options.siteId ?? null, events: alertEvents.length, alarms: report.total.alarms },
    'alarm performance computed',
  );
  return report;
}

/** The headline figures as flat numbers, for a benchmark's JSON line or a metric. */
export async function alarmPerformanceFigures(influx: InfluxClient, options: PerformanceOptions) {
  const r = await loadAlarmPerformance(influx, options);
  return {
    alarms: r.total.alarms,
    alarmsPerDay: r.total.perDay.average,
    alarmsPerTenMinutes: r.total.perTenMinutes.average,
    peakPerTenMinutes: r.total.perTenMinutes.peak,
    floods: r.floods.length,
    floodTimeShare: r.total.floodTimeShare,
    chatteringAlerts: r.chattering.alerts.length,
    chatteringPairs: r.chattering.pairs.length,
    stale: r.stale.length,
    shelvedInPeriod: r.shelved.inPeriod,
    shelvedNow: r.shelved.current,
    ackMedianMs: r.acknowledgement.medianMs,
    ackP90Ms: r.acknowledgement.p90Ms,
    ackWithinTargetShare: r.acknowledgement.withinTargetShare,
    assessment: r.total.assessment,
  };
}
