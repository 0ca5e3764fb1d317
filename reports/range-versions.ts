import { z } from 'zod';
import type { ProductProfile } from '../core/config/schema.js';
import type { Band } from './figures.js';

/**
 * Product profile ranges as they were over time (issue 13, item 6: signed means frozen). A report
 * judges every reading by the range in force at its device time, not by today's range, so a
 * range edit never re-judges the past. Versions are facts in InfluxDB (`profile_ranges`, see
 * range-recorder.ts): they survive restarts, go into every backup with the readings they judge,
 * and each one is also an audit-trail entry.
 *
 * Rules:
 * - version 1 of a profile is in force since before records began (`effectiveFrom: null`): the
 *   range a profile had before versions were kept is not known any better than that;
 * - version n + 1 is in force from the moment the service took the edit up (`effectiveFrom`) until
 *   the next version; a reading at or after it is judged by it;
 * - a profile with no recorded version (a report built outside the service) is judged by the
 *   range in its configuration, listed as version null.
 */

const bandSchema = z.object({ min: z.number(), max: z.number() });

export const rangeVersionSchema = z.object({
  profileId: z.string(),
  version: z.number().int().positive(),
  /** In force from (epoch ms, device time of the readings it judges); null: since before records began. */
  effectiveFrom: z.number().nullable(),
  /** When the service recorded it (it is taken into account by reports from then on). */
  recordedAt: z.number(),
  temperature: bandSchema,
  humidity: bandSchema.optional(),
  /** How the service came to know it: the configuration at a start, or an edit picked up while running. */
  source: z.enum(['start', 'reload']),
});
export type RangeVersion = z.infer<typeof rangeVersionSchema>;

/** A version as a report lists it: which, in force from when until when, and its limits. */
export const rangeVersionUsedSchema = z.object({
  profileId: z.string(),
  /** null: the configuration's range, not a recorded version (a report built outside the service). */
  version: z.number().int().nullable(),
  effectiveFrom: z.number().nullable(),
  /** In force until this time (the next version's effectiveFrom); null: still in force. */
  until: z.number().nullable(),
  temperature: bandSchema,
  humidity: bandSchema.optional(),
});
export type RangeVersionUsed = z.infer<typeof rangeVersionUsedSchema>;

export interface RangeAt {
  temperature: Band;
  humidity?: Band;
  version: number | null;
}

/** The ranges of one profile over time: which is in force at a time, which a window used. */
export interface ProfileRanges {
  at(t: number): RangeAt;
  /** The versions in force at some time of the windows, in version order. */
  used(windows: ReadonlyArray<{ start: number; end: number }>): RangeVersionUsed[];
}

/** Only what was recorded by `asOf` (the ranges as a signer saw them then). */
export const rangesAsOf = (versions: readonly RangeVersion[], asOf: number): RangeVersion[] => versions.filter((v) => v.recordedAt <= asOf);

const sameBand = (a: Band | undefined, b: Band | undefined) => a?.min === b?.min && a?.max === b?.max;

/** Whether a profile's configured ranges differ from a recorded version. */
export const rangeChanged = (profile: Pick<ProductProfile, 'temperature' | 'humidity'>, version: RangeVersion | undefined): boolean =>
  !version || !sameBand(profile.temperature, version.temperature) || !sameBand(profile.humidity, version.humidity);

export function profileRanges(profile: ProductProfile, versions: readonly RangeVersion[] | undefined): ProfileRanges {
  const own = (versions ?? []).filter((v) => v.profileId === profile.id).sort((a, b) => a.version - b.version);
  const spans: RangeVersionUsed[] = own.length
    ? own.map((v, i) => ({
        profileId: v.profileId,
        version: v.version,
        effectiveFrom: i === 0 ? null : v.effectiveFrom,
        until: own[i + 1]?.effectiveFrom ?? null,
        temperature: v.temperature,
        ...(v.humidity ? { humidity: v.humidity } : {}),
      }))
    : [
        {
          profileId: profile.id,
          version: null,
          effectiveFrom: null,
          until: null,
          temperature: { min: profile.temperature.min, max: profile.temperature.max },
          ...(profile.humidity ? { humidity: { min: profile.humidity.min, max: profile.humidity.max } } : {}),
        },
      ];
  const ats = spans.map((s) => ({ temperature: s.temperature, ...(s.humidity ? { humidity: s.humidity } : {}), version: s.version }));
  // Readings come in time order: the last answer is usually the next one's too.
  let last = 0;
  const indexAt = (t: number): number => {
    const fits = (i: number) => (spans[i]!.effectiveFrom ?? Number.NEGATIVE_INFINITY) <= t && t < (spans[i]!.until ?? Number.POSITIVE_INFINITY);
    if (fits(last)) return last;
    for (let i = 0; i < spans.length; i++) if (fits(i)) return (last = i);
    return 0;
  };
  return {
    at: (t) => ats[indexAt(t)]!,
    used: (windows) =>
      spans.filter((s) => windows.some((w) => (s.effectiveFrom ?? Number.NEGATIVE_INFINITY) < w.end && w.start < (s.until ?? Number.POSITIVE_INFINITY))),
  };
}
