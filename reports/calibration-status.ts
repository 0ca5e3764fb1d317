import { sensorLabel, type ReviewReason } from './review-reasons.js';
import { z } from 'zod';
import { declaredAccuracyProblems } from '../calibration/accuracy.js';
import { calibrationAt, certificatePeriods, outOfCalibration } from '../calibration/status.js';
import type { Registry } from '../core/registry.js';

/** A certificate in force during some of the report's readings. */
const certificateUsedSchema = z.object({
  number: z.string(),
  laboratory: z.string(),
  validFrom: z.number(),
  validTo: z.number(),
  /** Readings of the report taken under this certificate. */
  readings: z.number().int(),
});

/** A run of one sensor's readings taken while it was out of calibration (values as measured, never offset). */
export const outOfCalibrationRunSchema = z.object({
  deviceId: z.string(),
  locationId: z.string(),
  start: z.number(),
  end: z.number(),
  readings: z.number().int(),
  state: z.enum(['none', 'failed', 'overdue']),
  reason: z.string(),
});

/** Each sensor's calibration at the time of its readings in the report. */
export const calibrationSectionSchema = z.object({
  sensors: z.array(
    z.object({
      deviceId: z.string(),
      name: z.string().optional(),
      model: z.string().optional(),
      serial: z.string().optional(),
      accuracy: z.object({ temperature: z.number(), humidity: z.number().optional() }).optional(),
      certificates: z.array(certificateUsedSchema),
      readings: z.number().int(),
      outOfCalibration: z.number().int(),
      /** Declared accuracy against GSP (±0.5 °C in 0–40 °C, ±1.0 °C in −25–0 °C, ±5 %RH), in words. */
      problems: z.array(z.string()),
    }),
  ),
  runs: z.array(outOfCalibrationRunSchema),
  /** Readings of the report taken while their sensor was out of calibration. */
  readingsOutOfCalibration: z.number().int(),
});
export type CalibrationSection = z.infer<typeof calibrationSectionSchema>;

/** What the section needs of a sensor's readings in the report (readings-source.ts). */
interface SensorReadings {
  deviceId: string;
  locationId: string;
  ts: ArrayLike<number>;
}

/**
 * Each sensor's calibration at the time of each of its readings: the certificates in force
 * (number, valid from/to), and runs of readings taken while it had none, a failed one, or was
 * overdue. A reading is judged by the certificate whose period holds it, not by today's.
 */
export function calibrationSection(registry: Registry, series: readonly SensorReadings[]): CalibrationSection {
  const sensors = new Map<string, CalibrationSection['sensors'][number]>();
  const runs: CalibrationSection['runs'] = [];
  for (const s of series) {
    const placed = registry.device(s.deviceId);
    const device = placed?.device ?? registry.config.devices.find((d) => d.id === s.deviceId);
    const cal = device?.calibration;
    const periods = certificatePeriods(cal);
    let entry = sensors.get(s.deviceId);
    if (!entry) {
      entry = {
        deviceId: s.deviceId,
        ...(device?.name ? { name: device.name } : {}),
        ...(cal ? { model: cal.model, serial: cal.serial, accuracy: cal.accuracy } : {}),
        certificates: [],
        readings: 0,
        outOfCalibration: 0,
        problems: cal && placed ? declaredAccuracyProblems(cal, placed.profile.temperature, placed.profile.humidity !== undefined) : [],
      };
      sensors.set(s.deviceId, entry);
    }
    let run: CalibrationSection['runs'][number] | undefined;
    // The verdict only changes where a certificate's period begins or ends: it is worked out once
    // per stretch between those times, not for each of the series' readings (10k+ a sensor).
    const edges = [...new Set(periods.flatMap((p) => [p.from, p.to]))].filter((e) => !Number.isNaN(e)).sort((a, b) => a - b);
    let verdict: ReturnType<typeof calibrationAt> | undefined;
    let from = Number.POSITIVE_INFINITY;
    let until = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < s.ts.length; i++) {
      const t = s.ts[i]!;
      if (!verdict || !(t >= from && t < until)) {
        verdict = calibrationAt(periods, t);
        from = Number.NEGATIVE_INFINITY;
        until = Number.POSITIVE_INFINITY;
        for (const edge of edges)
          if (edge <= t) from = edge;
          else {
            until = edge;
            break;
          }
      }
      entry.readings++;
      if (verdict.certificate && !outOfCalibration(verdict.state)) {
        const c = verdict.certificate;
        const used = entry.certificates.find((u) => u.number === c.certificate.number);
        if (used) used.readings++;
        else entry.certificates.push({ number: c.certificate.number, laboratory: c.certificate.laboratory, validFrom: c.from, validTo: c.to, readings: 1 });
      }
      if (!outOfCalibration(verdict.state)) {
        run = undefined;
        continue;
      }
      entry.outOfCalibration++;
      const reason = verdict.reason ?? verdict.state;
      if (run && run.reason === reason) {
        run.end = t;
        run.readings++;
      } else {
        run = { deviceId: s.deviceId, locationId: s.locationId, start: t, end: t, readings: 1, state: verdict.state as 'none' | 'failed' | 'overdue', reason };
        runs.push(run);
      }
    }
  }
  const list = [...sensors.values()].sort((a, b) => a.deviceId.localeCompare(b.deviceId));
  return {
    sensors: list,
    runs: runs.sort((a, b) => a.start - b.start || a.deviceId.localeCompare(b.deviceId)),
    readingsOutOfCalibration: list.reduce((n, s) => n + s.outOfCalibration, 0),
  };
}

/** Why QA should look: readings from sensors out of calibration (their values are as measured, not corrected). */
export function calibrationReviewReasons(section: CalibrationSection, registry: Registry): ReviewReason[] {
  if (!section.readingsOutOfCalibration) return [];
  const sensors = [...new Set(section.runs.map((r) => r.deviceId))].map((id) => sensorLabel(registry, id));
  return [{ kind: 'out_of_calibration', readings: section.readingsOutOfCalibration, sensors }];
}

/** GSP record rows taken while their sensor was out of calibration get `outOfCalibration: true`. */
export function markOutOfCalibration<R extends { at: number; deviceId: string; outOfCalibration?: true }>(rows: R[], section: CalibrationSection): void {
  for (const row of rows) if (section.runs.some((r) => r.deviceId === row.deviceId && row.at >= r.start && row.at <= r.end)) row.outOfCalibration = true;
}
