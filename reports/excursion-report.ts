import type { Registry } from '../core/registry.js';
import type { InfluxClient } from '../storage/influx.js';
import type { Alert } from '../alerts/book.js';
import { loadAlertEvents } from '../alerts/event-store.js';
import { analyseSensor, placeFigures, publicFigures } from './figures.js';
import { ReadingsDigest } from './digest.js';
import { downsample } from './downsample.js';
import { readPlace, type RowBudget } from './readings-source.js';
import { placeOf, profileOf, reportAlarm, ReportError, withRange } from './shipment-report.js';
import { profileRanges, type RangeVersion } from './range-versions.js';
import type { ExcursionReport } from './schema.js';

/** How much of the time around an alert the chart and figures show. */
export const EXCURSION_CONTEXT_MS = 2 * 3_600_000;

/** One alert for QA: the readings around it, its figures, who was told, who signed. */
export async function buildExcursionReport(input: {
  registry: Registry;
  influx: InfluxClient;
  alert: Alert | undefined;
  alertId: string;
  now?: number;
  budget?: RowBudget;
  /** Recorded range versions (range-versions.ts): each reading is judged by the one in force at its time. */
  ranges?: readonly RangeVersion[];
}): Promise<ExcursionReport> {
  const { registry, influx, alert } = input;
  if (!alert) throw new ReportError(`no alert ${input.alertId}`, 404);
  const now = input.now ?? Date.now();
  const placed = registry.location(alert.locationId);
  if (!placed) throw new ReportError(`location ${alert.locationId} is no longer in the registry`, 409);
  const profile = profileOf(registry, placed.location.profile);
  const ranges = profileRanges(profile, input.ranges);
  const from = alert.occurredAt - EXCURSION_CONTEXT_MS;
  const to = Math.max(alert.occurredAt + 60_000, Math.min(now, (alert.clearedAt ?? now) + EXCURSION_CONTEXT_MS));
  const [sensors, events] = await Promise.all([
    readPlace(influx, registry, alert.locationId, { start: from, end: to }, input.budget),
    loadAlertEvents(influx, { alertId: alert.id }),
  ]);
  const window = { start: from, end: to };
  const analyses = sensors.map((s) => analyseSensor(s, window, profile.temperature, profile.humidity, profile.mktActivationEnergyKJ, ranges.at));
  const digest = new ReadingsDigest();
  for (const s of sensors) digest.add(s);
  return {
    reportType: 'excursion',
    generatedAt: now,
    alert: reportAlarm(alert),
    // The range in force when the alert began (rangeVersions lists every one used).
    place: placeOf(registry, alert.locationId, withRange(profile, ranges.at(alert.occurredAt))),
    from,
    to,
    figures: publicFigures(placeFigures(analyses, window, profile.temperature, alert.locationId, profile.mktActivationEnergyKJ)),
    mktActivationEnergyKJ: profile.mktActivationEnergyKJ,
    events: events.map((e) => ({
      at: e.at,
      event: e.event,
      actor: e.actor,
      ...pick(e, ['printedName', 'meaning', 'comment', 'channel', 'recipient', 'outcome'] as const),
    })),
    chart: sensors.map((s) => downsample(s, window)),
    rangeVersions: ranges.used([window]),
    digest: digest.result(),
  };
}

function pick<T extends object, K extends keyof T>(value: T, keys: readonly K[]): Partial<Pick<T, K>> {
  return Object.fromEntries(keys.filter((k) => value[k] !== undefined).map((k) => [k, value[k]])) as Partial<Pick<T, K>>;
}
