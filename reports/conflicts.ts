import type { ReviewReason } from './review-reasons.js';
import { z } from 'zod';
import type { SensorSeries } from './figures.js';

/**
 * Readings that conflict: two or more different readings of one sensor at one device time (the
 * pipeline keeps a later, different one beside the first as a `revision` point, never overwriting
 * it; ingestor/records.ts). Reports list each such time with every value stored for it, in the
 * order they arrived, so a reviewer sees the conflict instead of one silently chosen value. Both
 * readings count in the figures (the cautious choice: an excursion in either shows).
 */
export const readingConflictSchema = z.object({
  deviceId: z.string(),
  locationId: z.string(),
  /** The device time the readings share. */
  at: z.number(),
  /** Every reading stored at that time, first arrived first (a reading stored without an arrival time counts as the first). */
  readings: z.array(z.object({ temperature: z.number(), humidity: z.number().nullable(), receivedAt: z.number().nullable() })),
});
export type ReadingConflict = z.infer<typeof readingConflictSchema>;

/** The device times with more than one reading in the series (they arrive sorted by time, a revision beside its first). */
export function conflictsIn(series: readonly SensorSeries[]): ReadingConflict[] {
  const conflicts: ReadingConflict[] = [];
  for (const s of series) {
    const { ts } = s;
    for (let i = 0; i < ts.length; ) {
      let j = i + 1;
      while (j < ts.length && ts[j] === ts[i]) j++;
      if (j - i > 1) {
        const readings = [];
        for (let k = i; k < j; k++) {
          const humidity = s.humidity[k]!;
          const receivedAt = s.receivedAt?.[k];
          readings.push({
            temperature: s.temperature[k]!,
            humidity: Number.isNaN(humidity) ? null : humidity,
            receivedAt: receivedAt === undefined || Number.isNaN(receivedAt) ? null : receivedAt,
          });
        }
        readings.sort((a, b) => (a.receivedAt ?? Number.NEGATIVE_INFINITY) - (b.receivedAt ?? Number.NEGATIVE_INFINITY));
        conflicts.push({ deviceId: s.deviceId, locationId: s.locationId, at: ts[i]!, readings });
      }
      i = j;
    }
  }
  return conflicts.sort((a, b) => a.at - b.at || a.deviceId.localeCompare(b.deviceId));
}

/** The shipment report's review reason. */
export const conflictReviewReasons = (conflicts: readonly ReadingConflict[]): ReviewReason[] =>
  conflicts.length ? [{ kind: 'conflicts', count: conflicts.length }] : [];
