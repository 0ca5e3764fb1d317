import type { Registry } from '../core/registry.js';
import type { InfluxClient } from '../storage/influx.js';
import { analyseSensor, isLate, placeCompleteness } from './figures.js';
import { ReadingsDigest } from './digest.js';
import { readPlace, type RowBudget } from './readings-source.js';
import { placeOf, profileOf, ReportError, withRange } from './shipment-report.js';
import { profileRanges, type RangeVersion } from './range-versions.js';
import type { GspRecord } from './schema.js';
import { calibrationSection, markOutOfCalibration } from './calibration-status.js';
import { conflictsIn } from './conflicts.js';

/** GSP annex: record at least every 30 min in storage, every 5 min in transport, every 2 min out of range. */
export const GSP_INTERVALS = { storageMs: 30 * 60_000, transportMs: 5 * 60_000, outOfRangeMs: 2 * 60_000 } as const;

/**
 * The automatic temperature/humidity record (温湿度记录) of one place: per sensor, the first
 * reading of every clock-aligned recording slot (30 min, 5 min in a vehicle, 2 min while out of
 * range), plus the reading that shows the return to range. Rows come from stored readings only:
 * nothing is interpolated or adjusted. A row whose reading arrived late carries `late` and its
 * arrival time; the completeness counts every late reading of the period (rows or not).
 */
export async function buildGspRecord(input: {
  registry: Registry;
  influx: InfluxClient;
  locationId: string;
  from: number;
  to: number;
  now?: number;
  budget?: RowBudget;
  /** Recorded range versions (range-versions.ts): each reading is judged by the one in force at its time. */
  ranges?: readonly RangeVersion[];
}): Promise<GspRecord> {
  const { registry, locationId, from, to } = input;
  const placed = registry.location(locationId);
  if (!placed) throw new ReportError(`no location ${locationId}`, 404);
  const profile = profileOf(registry, placed.location.profile);
  const ranges = profileRanges(profile, input.ranges);
  // The range in force at the period's start (rangeVersions lists every one used).
  const place = placeOf(registry, locationId, withRange(profile, ranges.at(from)));
  const normalIntervalMs = placed.location.kind === 'vehicle_compartment' ? GSP_INTERVALS.transportMs : GSP_INTERVALS.storageMs;
  const sensors = await readPlace(input.influx, registry, locationId, { start: from, end: to }, input.budget);
  const digest = new ReadingsDigest();
  const rows: GspRecord['rows'] = [];
  const window = { start: from, end: to };
  const analyses = sensors.map((s) => analyseSensor(s, window, profile.temperature, profile.humidity, profile.mktActivationEnergyKJ, ranges.at));
  for (const s of sensors) {
    digest.add(s);
    let lastSlot = Number.NaN;
    let lastInterval = 0;
    let wasOut = false;
    for (let i = 0; i < s.ts.length; i++) {
      const t = s.ts[i]!;
      const temperature = s.temperature[i]!;
      const { min, max } = ranges.at(t).temperature;
      const out = temperature > max || temperature < min;
      const intervalMs = out ? GSP_INTERVALS.outOfRangeMs : normalIntervalMs;
      const slot = Math.floor(t / intervalMs);
      // Entering or leaving an excursion is always recorded; otherwise the first reading of a new slot.
      const record = out !== wasOut || intervalMs !== lastInterval || slot !== lastSlot;
      wasOut = out;
      if (!record) continue;
      lastSlot = slot;
      lastInterval = intervalMs;
      const humidity = s.humidity[i]!;
      const receivedAt = s.receivedAt?.[i];
      rows.push({
        at: t,
        deviceId: s.deviceId,
        temperature,
        humidity: Number.isNaN(humidity) ? null : humidity,
        outOfRange: out,
        intervalMs,
        ...(isLate(t, receivedAt, s.intervalMs) ? { late: true as const, receivedAt: receivedAt! } : {}),
      });
    }
  }
  rows.sort((a, b) => a.at - b.at || a.deviceId.localeCompare(b.deviceId));
  const calibration = calibrationSection(registry, sensors);
  markOutOfCalibration(rows, calibration);
  return {
    reportType: 'gsp_record',
    generatedAt: input.now ?? Date.now(),
    place,
    from,
    to,
    normalIntervalMs,
    outOfRangeIntervalMs: GSP_INTERVALS.outOfRangeMs,
    sensors: sensors.map((s) => ({ deviceId: s.deviceId, ...(s.name ? { name: s.name } : {}) })),
    rows,
    completeness: placeCompleteness(analyses),
    rangeVersions: ranges.used([window]),
    conflicts: conflictsIn(sensors),
    calibration,
    lateData: analyses.flatMap((a) => a.lateData).sort((a, b) => a.start - b.start || a.deviceId.localeCompare(b.deviceId)),
    digest: digest.result(),
  };
}
