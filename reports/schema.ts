import { z } from 'zod';
import { alertEventSchema, alertSchema } from '../alerts/book.js';
import { custodyEventKinds, custodyRecordSchema, dispositionSchema, shipmentIdentitySchema } from '../shipments/schema.js';
import { calibrationSectionSchema } from './calibration-status.js';
import { readingConflictSchema } from './conflicts.js';
import { ledgerSchema } from '../stability/schema.js';
import { transportStepsSchema } from './transport-steps.js';
import { rangeVersionUsedSchema } from './range-versions.js';
import { reviewReasonSchema } from './review-reasons.js';
import { coverageSchema, signedVersionSchema, sinceSignatureSchema } from './signed-version.js';

/**
 * What every report is made of. The JSON format is this schema as it is; CSV, HTML and PDF are
 * renderings of the same object, so the figures cannot differ between formats. Times are epoch
 * milliseconds (UTC); renderers format them in the report's time zone.
 */

export const reportFormats = ['json', 'csv', 'html', 'pdf'] as const;
export const reportLanguages = ['en', 'zh-CN'] as const;
export type ReportFormat = (typeof reportFormats)[number];
export type ReportLanguage = (typeof reportLanguages)[number];

export const timedValueSchema = z.object({ value: z.number(), at: z.number() });

export const rangeSchema = z.object({ min: z.number(), max: z.number() });

/** A continuous time out of range (any sensor of the place out counts). */
export const excursionSchema = z.object({
  band: z.enum(['above', 'below']),
  /** The limit that was crossed (°C). */
  limit: z.number(),
  /** First reading out of range. */
  start: z.number(),
  /** First reading back in range (or the end of the window while still out: `ongoing`). */
  end: z.number(),
  durationMs: z.number(),
  peak: z.number(),
  peakAt: z.number(),
  /** ∫ |T − limit| dt in °C·min over the time out of range (worst sensor). */
  degreeMinutes: z.number(),
  ongoing: z.boolean(),
  deviceIds: z.array(z.string()),
  locationId: z.string(),
});

/** No reading for longer than the gap threshold (2 × the device's interval). */
export const gapSchema = z.object({
  deviceId: z.string(),
  locationId: z.string(),
  start: z.number(),
  end: z.number(),
  durationMs: z.number(),
  /** Readings that should have come in the gap (by interval), or the sequence hole, whichever is larger. */
  missingReadings: z.number().int(),
});

export const completenessSchema = z.object({
  /** Readings the devices' intervals call for over the window. */
  expected: z.number().int(),
  present: z.number().int(),
  /** Readings missing by sequence numbers (holes between consecutive seq values). */
  missingBySequence: z.number().int(),
  /** present / max(expected, present + missingBySequence), in percent, 0–100. */
  percent: z.number(),
  /**
   * Readings that arrived late: stored more than max(2 × the device's interval, 15 min) after
   * their device time (store-and-forward backlogs, back-dated uploads; see `LATE_MIN_DELAY_MS`
   * in figures.ts). They count as present and in every figure; this only says how many came late.
   * Readings stored before the service recorded arrival times are never late.
   */
  late: z.number().int().default(0),
  /** The longest arrival delay (receivedAt − device time) of a late reading, ms; null when none was late. */
  latestArrivalDelayMs: z.number().nullable().default(null),
});

/** Consecutive late readings of one sensor (in device-time order), with when they arrived. */
export const lateRunSchema = z.object({
  deviceId: z.string(),
  locationId: z.string(),
  /** Device time of the first and the last late reading of the run. */
  start: z.number(),
  end: z.number(),
  readings: z.number().int(),
  late: z.literal(true),
  /** Server time the first reading of the run arrived (the earliest arrival in it). */
  receivedAt: z.number(),
  /** The latest arrival in the run. */
  lastReceivedAt: z.number(),
  /** The longest receivedAt − device time in the run. */
  maxDelayMs: z.number(),
});

export const humidityFiguresSchema = z.object({
  min: timedValueSchema.nullable(),
  max: timedValueSchema.nullable(),
  mean: z.number().nullable(),
  timeOutOfRangeMs: z.number(),
});

/** The figures of a place, a segment or a whole shipment. */
export const figuresSchema = z.object({
  readings: z.number().int(),
  /** Time the figures cover (sum of the segments' windows). */
  durationMs: z.number(),
  min: timedValueSchema.nullable(),
  max: timedValueSchema.nullable(),
  /** Time-weighted mean, °C. */
  mean: z.number().nullable(),
  /** Mean kinetic temperature (USP <1160>), time-weighted, °C. */
  mkt: z.number().nullable(),
  timeOutOfRangeMs: z.number(),
  timeAboveMs: z.number(),
  timeBelowMs: z.number(),
  excursions: z.array(excursionSchema),
  humidity: humidityFiguresSchema.nullable(),
  completeness: completenessSchema,
  gaps: z.array(gapSchema),
  /** Readings that arrived late (see completeness.late), as runs per sensor. */
  lateData: z.array(lateRunSchema).default([]),
});

export const sensorFiguresSchema = z.object({
  deviceId: z.string(),
  name: z.string().optional(),
  intervalMs: z.number(),
  readings: z.number().int(),
  min: timedValueSchema.nullable(),
  max: timedValueSchema.nullable(),
  mean: z.number().nullable(),
  mkt: z.number().nullable(),
});

/** A downsampled series for charts (min and max per bucket, so no peak is lost). */
export const chartSeriesSchema = z.object({
  deviceId: z.string(),
  locationId: z.string(),
  /** [epoch ms, °C] pairs in time order. */
  points: z.array(z.tuple([z.number(), z.number()])),
});

export const placeSchema = z.object({
  locationId: z.string(),
  locationName: z.string().optional(),
  locationKind: z.enum(['cold_room', 'freezer', 'ambient_zone', 'vehicle_compartment']),
  siteId: z.string(),
  siteName: z.string().optional(),
  siteKind: z.enum(['warehouse', 'vehicle']),
  vehicleType: z.string().optional(),
  plate: z.string().optional(),
  profileId: z.string(),
  range: rangeSchema,
  humidityRange: rangeSchema.optional(),
});

/** An alarm during the report's window, with who acknowledged and closed it (alerts/ owns the shape). */
export const reportAlarmSchema = alertSchema.pick({
  id: true,
  kind: true,
  severity: true,
  state: true,
  deviceId: true,
  locationId: true,
  occurredAt: true,
  clearedAt: true,
  peak: true,
  threshold: true,
  late: true,
  acknowledged: true,
  closed: true,
});

export const digestSchema = z.object({
  algorithm: z.literal('sha256'),
  /** Hex digest over the readings used, in a canonical order (see reports/digest.ts). */
  value: z.string(),
  readings: z.number().int(),
});

export const verdicts = ['within_range', 'excursion'] as const;

export const reportCustodyEventSchema = custodyRecordSchema.omit({ recordedAt: true }).extend({ supersededBy: z.string().optional() });

export const segmentSchema = z.object({
  index: z.number().int(),
  /** The custody event that opened the segment. */
  openedBy: z.enum(custodyEventKinds),
  start: z.number(),
  end: z.number(),
  /** The shipment is still at this place (no later custody event yet). */
  open: z.boolean(),
  place: placeSchema,
  sensors: z.array(sensorFiguresSchema),
  figures: figuresSchema,
});

export const shipmentReportSchema = z.object({
  reportType: z.literal('shipment'),
  shipmentId: z.string(),
  generatedAt: z.number(),
  shipment: shipmentIdentitySchema,
  custody: z.array(reportCustodyEventSchema),
  segments: z.array(segmentSchema),
  overall: figuresSchema,
  /** Activation energy used for MKT, kJ/mol (the product profile's). */
  mktActivationEnergyKJ: z.number(),
  alarms: z.array(reportAlarmSchema),
  verdict: z.enum(verdicts),
  /** Excursions, missing data below the completeness threshold, or open alarms. */
  needsReview: z.boolean(),
  /** The reasons in English, for programs; `reviews` holds them as data, which reports render in their language. */
  reviewReasons: z.array(z.string()),
  /** Absent in reports signed before the reasons were data: those render `reviewReasons` as they are. */
  reviews: z.array(reviewReasonSchema).optional(),
  disposition: dispositionSchema.nullable(),
  digest: digestSchema,
  chart: z.array(chartSeriesSchema),
  /** The receiver's verification link, when one is active (PDFs show it as a QR code). */
  verification: z.object({ url: z.string(), expiresAt: z.number() }).nullable(),
  /** Each sensor's calibration at the time of its readings; readings out of calibration flagged (calibration-status.ts). */
  calibration: calibrationSectionSchema.optional(),
  /** Device times with more than one different reading, each listed with all of them (conflicts.ts). */
  conflicts: z.array(readingConflictSchema).default([]),
  /** The stability budget of the shipment's batch across every shipment of it, storage and transport (stability/ledger.ts). */
  stability: ledgerSchema.optional(),
  /**
   * Only for a product whose stability data counts freeze events: each time the goods went below
   * `stability.freeze.below`, per place, as figures.ts computes excursions against that limit.
   */
  freezeEntries: z.array(excursionSchema).optional(),
  /** Pre-cooling checks, the receiver's acceptance or refusal, consignee notices (transport-steps.ts). */
  transport: transportStepsSchema.optional(),
  /** The product's range versions the segments were judged by (range-versions.ts). */
  rangeVersions: z.array(rangeVersionUsedSchema).default([]),
  /** What the report covered (bound into a disposition signed on it). */
  coverage: coverageSchema.optional(),
  /** Only on the signed version (?version=signed): whose signature, and whether the digest matches. */
  signedVersion: signedVersionSchema.optional(),
  /** When the current disposition was signed on a report: what changed since (signed-version.ts). */
  sinceSignature: sinceSignatureSchema.optional(),
});

/** GSP 温湿度记录: the automatic record of one place over a period. */
export const gspRecordRowSchema = z.object({
  at: z.number(),
  deviceId: z.string(),
  temperature: z.number(),
  humidity: z.number().nullable(),
  outOfRange: z.boolean(),
  /** The recording interval this row belongs to: storage 30 min, transport 5 min, out of range 2 min. */
  intervalMs: z.number(),
  /** Only on a reading that arrived late (see completeness.late): it is marked, never left out or moved. */
  late: z.literal(true).optional(),
  /** When a late reading arrived (server time), only on late rows. */
  receivedAt: z.number().optional(),
  /** Only on a reading taken while its sensor was out of calibration (no, a failed or an overdue certificate); the value is as measured. */
  outOfCalibration: z.literal(true).optional(),
});

export const gspRecordSchema = z.object({
  reportType: z.literal('gsp_record'),
  generatedAt: z.number(),
  place: placeSchema,
  from: z.number(),
  to: z.number(),
  /** Normal recording interval for this place (30 min storage, 5 min transport). */
  normalIntervalMs: z.number(),
  outOfRangeIntervalMs: z.number(),
  sensors: z.array(z.object({ deviceId: z.string(), name: z.string().optional() })),
  rows: z.array(gspRecordRowSchema),
  /** Present and expected readings of the period, and how many arrived late. */
  completeness: completenessSchema,
  /** Every late reading of the period (rows show only the recorded ones), as runs per sensor. */
  lateData: z.array(lateRunSchema).default([]),
  /** Each sensor's calibration at the time of its readings (calibration-status.ts). */
  calibration: calibrationSectionSchema.optional(),
  /** The profile's range versions the rows were judged by. */
  rangeVersions: z.array(rangeVersionUsedSchema).default([]),
  /** Device times with more than one different reading, each listed with all of them (conflicts.ts). */
  conflicts: z.array(readingConflictSchema).default([]),
  digest: digestSchema,
});

/** One transition or notification of the alert, without the alert snapshot each stored event carries. */
export const alertEventRecordSchema = alertEventSchema.omit({ alertId: true, alert: true });

/** One alert: the chart around it, its figures, the notification trail and the signatures. */
export const excursionReportSchema = z.object({
  reportType: z.literal('excursion'),
  generatedAt: z.number(),
  alert: reportAlarmSchema,
  place: placeSchema,
  /** The chart window: some time before the alert started to some time after it ended. */
  from: z.number(),
  to: z.number(),
  figures: figuresSchema,
  mktActivationEnergyKJ: z.number(),
  events: z.array(alertEventRecordSchema),
  chart: z.array(chartSeriesSchema),
  /** The profile's range versions the figures were judged by. */
  rangeVersions: z.array(rangeVersionUsedSchema).default([]),
  digest: digestSchema,
});

export type TimedValue = z.infer<typeof timedValueSchema>;
export type Excursion = z.infer<typeof excursionSchema>;
export type Gap = z.infer<typeof gapSchema>;
export type LateRun = z.infer<typeof lateRunSchema>;
export type Completeness = z.infer<typeof completenessSchema>;
export type Figures = z.infer<typeof figuresSchema>;
export type SensorFigures = z.infer<typeof sensorFiguresSchema>;
export type ChartSeries = z.infer<typeof chartSeriesSchema>;
export type Place = z.infer<typeof placeSchema>;
export type Segment = z.infer<typeof segmentSchema>;
export type ShipmentReport = z.infer<typeof shipmentReportSchema>;
export type GspRecord = z.infer<typeof gspRecordSchema>;
export type ExcursionReport = z.infer<typeof excursionReportSchema>;
export type ReportAlarm = z.infer<typeof reportAlarmSchema>;
export type AnyReport = ShipmentReport | GspRecord | ExcursionReport;
