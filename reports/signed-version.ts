import { z } from 'zod';
import { Refusal } from '../core/refusal.js';
import type { ShipmentRecord } from '../shipments/book.js';
import type { SignedOn } from '../shipments/signed-on.js';
import type { SensorSeries } from './figures.js';
import type { RangeVersion, RangeVersionUsed } from './range-versions.js';

/**
 * Signed means frozen (issue 13, item 6). A QA disposition keeps the digest of the report it was
 * signed on and what that report covered (shipments/signed-on.ts). Here:
 * - `asOfRecord`/`asOfSeries`: the data as it stood at a time (custody recorded by then, readings
 *   received by then), so the signed version can be rendered again with the same digest;
 * - `sinceSignature`: what changed after the signature: readings that arrived later (back-dated
 *   uploads into the signed period, conflicting revisions, new readings), range versions recorded
 *   later, custody events recorded later, and the digest now against the signed one.
 */

/** No signed version to render: 404 `not_signed` (no disposition yet), 409 `not_bound` (signed before reports were bound). */
export class SignedVersionError extends Refusal<404 | 409> {
  constructor(message: string, status: 404 | 409, code: 'not_signed' | 'not_bound') {
    super(message, status, code);
  }
}

const bandSchema = z.object({ min: z.number(), max: z.number() });

/** What the report covered (bound into a disposition when it is signed). */
export const coverageSchema = z.object({
  /** The report was built as of this time: readings received and custody recorded by then. */
  asOf: z.number(),
  maxReceivedAt: z.number().nullable(),
  readings: z.number().int(),
  custodyEvents: z.number().int(),
});

export const arrivalKinds = ['late_upload', 'revision', 'new_reading'] as const;

/** Readings of one sensor that arrived after the signature, as a run. */
export const arrivalRunSchema = z.object({
  deviceId: z.string(),
  locationId: z.string(),
  /** late_upload: taken before the signature, arrived after; revision: a different reading at a device time already stored; new_reading: taken after the signature. */
  kind: z.enum(arrivalKinds),
  readings: z.number().int(),
  /** Device time of the first and last reading of the run. */
  start: z.number(),
  end: z.number(),
  /** Arrival (server time) of the first and last to arrive. */
  receivedAt: z.number(),
  lastReceivedAt: z.number(),
});

export const sinceSignatureSchema = z.object({
  decision: z.string(),
  signedAt: z.number(),
  signedBy: z.string(),
  printedName: z.string(),
  /** The signed report's as-of time. */
  asOf: z.number(),
  digest: z.object({ signed: z.string(), now: z.string(), same: z.boolean(), signedReadings: z.number().int(), nowReadings: z.number().int() }),
  /** Anything below, or a different digest. */
  changed: z.boolean(),
  arrivals: z.array(arrivalRunSchema),
  rangeChanges: z.array(
    z.object({
      profileId: z.string(),
      version: z.number().int(),
      effectiveFrom: z.number().nullable(),
      recordedAt: z.number(),
      temperature: bandSchema,
      humidity: bandSchema.optional(),
    }),
  ),
  custodyChanges: z.array(
    z.object({ id: z.string(), event: z.string(), locationId: z.string().optional(), at: z.number(), recordedAt: z.number(), corrects: z.string().optional() }),
  ),
});

/** On the signed version of a report: whose signature, and whether the data rebuilt gives the signed digest. */
export const signedVersionSchema = z.object({
  decision: z.string(),
  signedAt: z.number(),
  signedBy: z.string(),
  printedName: z.string(),
  asOf: z.number(),
  signedDigest: z.string(),
  /** The rebuilt report's digest equals the signed one. */
  matches: z.boolean(),
});

export type Coverage = z.infer<typeof coverageSchema>;
export type ArrivalRun = z.infer<typeof arrivalRunSchema>;
export type SinceSignature = z.infer<typeof sinceSignatureSchema>;
export type SignedVersion = z.infer<typeof signedVersionSchema>;

/** What the API asks for: the report as it stood at `asOf` (a signature's), and whose signature it was. */
export interface AsOf {
  asOf: number;
  signature?: { decision: string; at: number; by: string; printedName: string; digest: string };
}

/** The shipment as it stood at `asOf`: custody events recorded by then (dispositions and the rest as they are). */
export function asOfRecord(record: ShipmentRecord, asOf: number): ShipmentRecord {
  return { ...record, custody: record.custody.filter((c) => c.recordedAt <= asOf) };
}

/** The readings received by `asOf`; readings stored before arrival times were kept have none and always count. */
export function asOfSeries(series: SensorSeries, asOf: number): SensorSeries {
  const { receivedAt } = series;
  if (!receivedAt) return series;
  const keep: number[] = [];
  for (let i = 0; i < series.ts.length; i++) if (!(receivedAt[i]! > asOf)) keep.push(i);
  if (keep.length === series.ts.length) return series;
  const pick = (column: ArrayLike<number>) => keep.map((i) => column[i]!);
  return {
    ...series,
    ts: pick(series.ts),
    temperature: pick(series.temperature),
    humidity: pick(series.humidity),
    seq: pick(series.seq),
    receivedAt: pick(receivedAt),
  };
}

/** The latest arrival among the readings (null: none carried an arrival time). */
export function maxReceivedAt(series: readonly SensorSeries[]): number | null {
  let max: number | null = null;
  for (const { receivedAt } of series) {
    if (!receivedAt) continue;
    for (let i = 0; i < receivedAt.length; i++) {
      const r = receivedAt[i]!;
      if (!Number.isNaN(r) && (max === null || r > max)) max = r;
    }
  }
  return max;
}

/**
 * Readings that arrived after `asOf`, as runs per sensor and kind. A revision (a different
 * reading at a device time already stored) shows as two readings at one time in the series.
 */
export function arrivalsAfter(series: readonly SensorSeries[], asOf: number): ArrivalRun[] {
  const runs: ArrivalRun[] = [];
  for (const s of series) {
    const { ts, receivedAt } = s;
    if (!receivedAt) continue;
    let run: ArrivalRun | undefined;
    for (let i = 0; i < ts.length; i++) {
      const arrived = receivedAt[i]!;
      if (!(arrived > asOf)) {
        run = undefined;
        continue;
      }
      const t = ts[i]!;
      const kind = ts[i - 1] === t || ts[i + 1] === t ? 'revision' : t <= asOf ? 'late_upload' : 'new_reading';
      if (!run || run.kind !== kind) {
        run = { deviceId: s.deviceId, locationId: s.locationId, kind, readings: 0, start: t, end: t, receivedAt: arrived, lastReceivedAt: arrived };
        runs.push(run);
      }
      run.end = t;
      run.readings++;
      run.receivedAt = Math.min(run.receivedAt, arrived);
      run.lastReceivedAt = Math.max(run.lastReceivedAt, arrived);
    }
  }
  return runs.sort((a, b) => a.receivedAt - b.receivedAt || a.deviceId.localeCompare(b.deviceId));
}

/** What changed since the disposition's report: arrivals, range versions and custody recorded later, and the digest. */
export function sinceSignature(input: {
  record: ShipmentRecord;
  disposition: { decision: string; at: number; by: string; printedName: string; signedOn: SignedOn };
  series: readonly SensorSeries[];
  ranges: readonly RangeVersion[];
  profileId: string;
  digest: { value: string; readings: number };
}): SinceSignature {
  const { disposition, record } = input;
  const { asOf } = disposition.signedOn;
  const arrivals = arrivalsAfter(input.series, asOf);
  const rangeChanges = input.ranges
    .filter((v) => v.profileId === input.profileId && v.recordedAt > asOf)
    .sort((a, b) => a.version - b.version)
    .map((v) => ({
      profileId: v.profileId,
      version: v.version,
      effectiveFrom: v.effectiveFrom,
      recordedAt: v.recordedAt,
      temperature: v.temperature,
      ...(v.humidity ? { humidity: v.humidity } : {}),
    }));
  const custodyChanges = record.custody
    .filter((c) => c.recordedAt > asOf)
    .map((c) => ({
      id: c.id,
      event: c.event,
      ...(c.locationId ? { locationId: c.locationId } : {}),
      at: c.at,
      recordedAt: c.recordedAt,
      ...(c.corrects ? { corrects: c.corrects } : {}),
    }));
  const same = input.digest.value === disposition.signedOn.digest.value;
  return {
    decision: disposition.decision,
    signedAt: disposition.at,
    signedBy: disposition.by,
    printedName: disposition.printedName,
    asOf,
    digest: {
      signed: disposition.signedOn.digest.value,
      now: input.digest.value,
      same,
      signedReadings: disposition.signedOn.digest.readings,
      nowReadings: input.digest.readings,
    },
    changed: !same || arrivals.length > 0 || rangeChanges.length > 0 || custodyChanges.length > 0,
    arrivals,
    rangeChanges,
    custodyChanges,
  };
}

/** What a disposition binds, from the report it is signed on. */
export function signedOnOf(report: {
  digest: { algorithm: 'sha256'; value: string; readings: number };
  coverage?: Coverage;
  rangeVersions?: RangeVersionUsed[];
}): SignedOn {
  if (!report.coverage) throw new Error('the report carries no coverage to sign on');
  return {
    asOf: report.coverage.asOf,
    digest: report.digest,
    maxReceivedAt: report.coverage.maxReceivedAt,
    readings: report.coverage.readings,
    custodyEvents: report.coverage.custodyEvents,
    rangeVersions: (report.rangeVersions ?? []).map((v) => ({ profileId: v.profileId, version: v.version })),
  };
}
