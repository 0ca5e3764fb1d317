import { z } from 'zod';
import { instantSchema } from './instant.js';

/** Why a message or a reading was quarantined. Stable codes: they are metric labels and InfluxDB tags. */
export const rejectReasons = [
  'malformed_json',
  'invalid_reading',
  'impossible_value',
  'timestamp_in_future',
  'timestamp_too_old',
  'payload_too_large',
  'batch_too_large',
  'empty_batch',
  'unknown_device',
  'topic_not_allowed',
  'invalid_custody_event',
  /** A custody event from a device that may not report it (not in a vehicle, not its vehicle, out of the time window). */
  'custody_not_allowed',
  /** Not a refusal: a different reading for a device time already stored; both are kept (issue 13, item 1). */
  'conflicting_reading',
  /** Not a refusal: sequence numbers went forward while device time went back or jumped ahead; the reading is kept. */
  'clock_jump',
] as const;
export type RejectReason = (typeof rejectReasons)[number];

/**
 * Physical plausibility bounds. Wider than any product range (those raise alerts, not rejects):
 * they catch what no sensor in a cold chain can report, such as −300 °C or 150 %RH.
 */
export const PHYSICAL_LIMITS = {
  temperature: { min: -100, max: 150 },
  humidity: { min: 0, max: 100 },
  battery: { min: 0, max: 100 },
  lat: { min: -90, max: 90 },
  lon: { min: -180, max: 180 },
} as const;

const bounded = (key: keyof typeof PHYSICAL_LIMITS, unit: string) =>
  z
    .number()
    .min(PHYSICAL_LIMITS[key].min, `${key} below the physical limit of ${PHYSICAL_LIMITS[key].min} ${unit}`)
    .max(PHYSICAL_LIMITS[key].max, `${key} above the physical limit of ${PHYSICAL_LIMITS[key].max} ${unit}`);

export const readingSchema = z.object({
  /** Device time: epoch ms or ISO 8601 with a zone (core/instant.ts). */
  ts: instantSchema,
  temperature: bounded('temperature', '°C'),
  humidity: bounded('humidity', '%RH').optional(),
  battery: bounded('battery', '%').optional(),
  lat: bounded('lat', '°').optional(),
  lon: bounded('lon', '°').optional(),
  door: z.boolean().optional(),
  seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
});

/** A validated reading; `ts` is device time in epoch ms. */
export type Reading = z.infer<typeof readingSchema>;
