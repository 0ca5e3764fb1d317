import { z } from 'zod';
import { durationMs } from '../duration.js';

export const severities = ['info', 'warning', 'minor', 'major', 'critical'] as const;
export const severity = z.enum(severities);

/** A predicate for one group of kinds below. */
const kindIn =
  <K extends string>(kinds: readonly K[]) =>
  (kind: string): kind is K =>
    (kinds as readonly string[]).includes(kind);

/** The kinds about the monitoring system itself rather than a place's goods (alerts/system-alarms.ts). */
export const systemAlertKinds = ['influxdb_unreachable', 'spool_backlog', 'spool_full', 'backup_failed', 'audit_broken', 'clock_off'] as const;
export type SystemAlertKind = (typeof systemAlertKinds)[number];
export const isSystemKind = kindIn(systemAlertKinds);

/** Calibration alarms: about a sensor's certificate, due soon or overdue, raised at its site's `system` place (calibration/alarms.ts). */
export const calibrationAlertKinds = ['calibration_due', 'calibration_overdue'] as const;
export type CalibrationAlertKind = (typeof calibrationAlertKinds)[number];
export const isCalibrationKind = kindIn(calibrationAlertKinds);

/**
 * Data-integrity alarms: a different reading arrived for a sensor's device time already stored; about
 * one sensor's record, raised to QA at its site's `system` place (ingestor/conflict-alarms.ts).
 */
export const integrityAlertKinds = ['reading_conflict'] as const;
export type IntegrityAlertKind = (typeof integrityAlertKinds)[number];
export const isIntegrityKind = kindIn(integrityAlertKinds);
/** Stability budget alarms: about a batch (its id in `deviceId`), running low or used up, raised at the `system` place of the site where it is (stability/alarms.ts). */
export const stabilityAlertKinds = ['stability_budget_low', 'stability_budget_exhausted'] as const;
export type StabilityAlertKind = (typeof stabilityAlertKinds)[number];
export const isStabilityKind = kindIn(stabilityAlertKinds);

/** Every kind: a place's goods first (temperature, humidity, door, battery, silence), then the groups above, in this order. */
export const alertKinds = [
  'temperature_high',
  'temperature_low',
  'temperature_warning_high',
  'temperature_warning_low',
  'humidity_high',
  'humidity_low',
  'cumulative_time_out_of_range',
  'rate_of_change',
  'door_open',
  'battery_low',
  'device_silent',
  ...systemAlertKinds,
  ...calibrationAlertKinds,
  ...integrityAlertKinds,
  ...stabilityAlertKinds,
] as const;
export type AlertKind = (typeof alertKinds)[number];

/**
 * Alert rules of a product profile (DESIGN.md §5). Every field has a default a GSP reviewer
 * would accept, so a profile with only its ranges is already monitored.
 */
export const alertRulesSchema = z.object({
  warningBand: z.number().min(0).default(0.5).describe('GSP 临界值: warn this far inside the temperature limits, °C (0 = no warning band).'),
  activationDelay: durationMs.prefault('10m').describe('Out of range at least this long (device time) before the alarm is raised.'),
  clearHysteresis: z.number().min(0).default(0.3).describe('A temperature alarm clears only this far back inside the limit, °C (no flapping).'),
  humidityHysteresis: z.number().min(0).default(2).describe('A humidity alarm clears only this far back inside the limit, %RH.'),
  cumulative: z
    .object({ budget: durationMs, window: durationMs })
    .prefault({ budget: '60m', window: '24h' })
    .describe('Total time out of range allowed within a sliding window (stability budget).'),
  maxRatePerHour: z
    .number()
    .positive()
    .optional()
    .describe(
      'Rate of change, °C per hour, judged as the least-squares slope over `rateWindow` and held for `rateDelay`. Off unless set: a compressor cycle or a door opening changes the temperature 10–30 °C/h for minutes as part of normal operation, and a change that matters reaches the warning band (临界值) within minutes anyway, so by default it would only double alarms. Turn it on where the rate itself harms (thermal shock) or as an early compressor-failure sign.',
    ),
  rateWindow: durationMs.prefault('15m').describe('The span of the rate-of-change regression (device time).'),
  rateDelay: durationMs.prefault('5m').describe('How long the rate must stay above maxRatePerHour before the alarm.'),
  doorOpenMax: durationMs.prefault('5m').describe('A door open longer than this raises the door alarm.'),
  silentAfterIntervals: z.number().min(1).default(3).describe('No reading for this many reporting intervals (device time) raises a communication/power alarm.'),
  offlineAfter: durationMs
    .optional()
    .describe(
      'Nothing received for this long (processing time) raises the communication alarm while it lasts. Default: silentAfterIntervals reporting intervals; 2 h in vehicle compartments, where devices buffer through tunnels and rural roads and upload afterwards (their device-time gaps are still judged when the backlog arrives).',
    ),
  lowBattery: z.number().min(0).max(100).default(20).describe('Battery below this, %, raises the low-battery alarm (clears 5 % above).'),
  severity: z
    .object({
      excursion: severity.default('major'),
      warning: severity.default('warning'),
      humidity: severity.default('minor'),
      cumulative: severity.default('major'),
      rate: severity.default('minor'),
      door: severity.default('minor'),
      battery: severity.default('warning'),
      silent: severity.default('major'),
    })
    .prefault({}),
});

export type AlertRules = z.infer<typeof alertRulesSchema>;

const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'write a time of day as HH:MM');

/**
 * A daily window in which some rules are not judged (defrost, loading). Readings inside it are
 * still stored and shown; they just do not open or activate alerts of the listed kinds.
 */
export const suppressionSchema = z.object({
  reason: z.string().min(1),
  from: clock,
  to: clock,
  utcOffset: z
    .string()
    .regex(/^[+-]\d{2}:\d{2}$/, 'write an offset as +HH:MM')
    .default('+00:00')
    .describe("Offset of the site's local time, e.g. +08:00 for China Standard Time."),
  kinds: z.array(z.enum(alertKinds)).min(1).default(['temperature_high', 'temperature_warning_high', 'cumulative_time_out_of_range', 'rate_of_change']),
});
export type Suppression = z.infer<typeof suppressionSchema>;

/** Whether `ts` (epoch ms) falls in the window, in the window's local time; windows may span midnight. */
export function inSuppression(window: Suppression, ts: number): boolean {
  const sign = window.utcOffset.startsWith('-') ? -1 : 1;
  const [oh, om] = window.utcOffset.slice(1).split(':').map(Number);
  const local = ts + sign * (oh! * 60 + om!) * 60_000;
  const minute = Math.floor((((local % 86_400_000) + 86_400_000) % 86_400_000) / 60_000);
  const toMinutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3));
  const from = toMinutes(window.from);
  const to = toMinutes(window.to);
  return from <= to ? minute >= from && minute < to : minute >= from || minute < to;
}
