import { z } from 'zod';

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
] as const;
export type RejectReason = (typeof rejectReasons)[number];

const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/;

/** Device time: epoch milliseconds or ISO 8601 with an explicit zone (a zoneless time is ambiguous). */
export const deviceTimestamp = z.union([z.number(), z.string()]).transform((value, ctx) => {
  if (typeof value === 'number') {
    // Beyond ±8.64e15 ms a JavaScript Date cannot represent the time at all.
    if (Math.abs(value) > 8.64e15) {
      ctx.addIssue({ code: 'custom', message: `epoch timestamp ${value} is outside any representable date; send epoch milliseconds` });
      return z.NEVER;
    }
    if (!Number.isInteger(value)) {
      ctx.addIssue({ code: 'custom', message: `epoch timestamp must be integer milliseconds, got ${value}` });
      return z.NEVER;
    }
    return value;
  }
  if (!ISO_WITH_ZONE.test(value)) {
    ctx.addIssue({ code: 'custom', message: `"${value.slice(0, 40)}" is not ISO 8601 with a zone (e.g. 2026-11-22T08:00:00+08:00) nor epoch ms` });
    return z.NEVER;
  }
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) {
    ctx.addIssue({ code: 'custom', message: `"${value.slice(0, 40)}" is not a real date` });
    return z.NEVER;
  }
  return ms;
});

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
  ts: deviceTimestamp,
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
