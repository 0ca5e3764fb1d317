import type { ProductProfile } from '../core/config/schema.js';
import type { Registry } from '../core/registry.js';
import { Refusal } from '../core/refusal.js';
import type { InfluxClient } from '../storage/influx.js';
import type { Alert } from '../alerts/book.js';
import { currentDisposition, effectiveCustody, supersededBy, type ShipmentRecord } from '../shipments/book.js';
import { analyseSensor, combineFigures, placeFigures, publicFigures } from './figures.js';
import { ReadingsDigest } from './digest.js';
import { downsample } from './downsample.js';
import { transportReviewReasons, transportSteps } from './transport-steps.js';
import { readPlace, type RowBudget } from './readings-source.js';
import { conflictReviewReasons, conflictsIn } from './conflicts.js';
import { calibrationReviewReasons, calibrationSection } from './calibration-status.js';
import { englishReasons, placeLabel, type ReviewReason } from './review-reasons.js';
import type { Excursion, Place, ReportAlarm, Segment, ShipmentReport } from './schema.js';
import { profileRanges, rangesAsOf, type RangeVersion } from './range-versions.js';
import type { BucketCache } from './bucket-cache.js';
import { asOfRecord, asOfSeries, maxReceivedAt, sinceSignature, type AsOf } from './signed-version.js';

/** Below this, missing data alone sends a shipment to QA review. */
export const COMPLETENESS_REVIEW_PERCENT = 95;

export class ReportError extends Refusal<400 | 404 | 409> {}

export function placeOf(registry: Registry, locationId: string, profile: ProductProfile): Place {
  const placed = registry.location(locationId);
  if (!placed) throw new ReportError(`location ${locationId} is no longer in the registry`, 409);
  const { site, location } = placed;
  return {
    locationId,
    ...(location.name ? { locationName: location.name } : {}),
    locationKind: location.kind,
    siteId: site.id,
    ...(site.name ? { siteName: site.name } : {}),
    siteKind: site.kind,
    ...(site.vehicleType ? { vehicleType: site.vehicleType } : {}),
    ...(site.plate ? { plate: site.plate } : {}),
    profileId: profile.id,
    range: { min: profile.temperature.min, max: profile.temperature.max },
    ...(profile.humidity ? { humidityRange: { min: profile.humidity.min, max: profile.humidity.max } } : {}),
  };
}

/** The profile with the range of one version in place of its configured one. */
export function withRange(
  profile: ProductProfile,
  range: { temperature: ProductProfile['temperature']; humidity?: ProductProfile['humidity'] },
): ProductProfile {
  const { humidity: _configured, ...rest } = profile;
  return { ...rest, temperature: range.temperature, ...(range.humidity ? { humidity: range.humidity } : {}) };
}

export function profileOf(registry: Registry, profileId: string): ProductProfile {
  const profile = registry.config.profiles.find((p) => p.id === profileId);
  if (!profile) throw new ReportError(`product profile ${profileId} is no longer in the registry`, 409);
  return profile;
}

export function reportAlarm(alert: Alert): ReportAlarm {
  const { id, kind, severity, state, deviceId, locationId, occurredAt, clearedAt, peak, threshold, late, acknowledged, closed } = alert;
  return { id, kind, severity, state, deviceId, locationId, occurredAt, clearedAt, peak, threshold, late, acknowledged, closed };
}

export interface ShipmentReportInput {
  record: ShipmentRecord;
  registry: Registry;
  influx: InfluxClient;
  alerts: readonly Alert[];
  verification: { url: string; expiresAt: number } | null;
  now?: number;
  /** At most this many readings in all (`reports.maxRows`). */
  budget?: RowBudget;
  /** The recorded range versions of the profiles (range-versions.ts); absent: the configuration's ranges. */
  ranges?: readonly RangeVersion[];
  /** Rebuild the report as it stood at this time (a signature's: signed-version.ts). */
  asOf?: AsOf;
  /** Whole hours of readings and their aggregates kept between reports (bucket-cache.ts). */
  buckets?: BucketCache;
}

/**
 * The full-chain (全程冷链) report: custody segments stitched with the readings of the sensors
 * at each place during each segment, judged against the product's range (not the place's:
 * the product must stay in its range wherever it is).
 */
export async function buildShipmentReport(input: ShipmentReportInput): Promise<ShipmentReport> {
  const { registry, influx, asOf } = input;
  // As of a signature: custody recorded by then, ranges recorded by then, readings received by then.
  const record = asOf ? asOfRecord(input.record, asOf.asOf) : input.record;
  const now = asOf?.asOf ?? input.now ?? Date.now();
  const profile = profileOf(registry, record.shipment.profileId);
  const ranges = profileRanges(profile, asOf && input.ranges ? rangesAsOf(input.ranges, asOf.asOf) : input.ranges);
  const energy = profile.mktActivationEnergyKJ;
  // The range in force now (or at the signature): for the review reasons' wording and as the fallback limit.
  const band = ranges.at(now).temperature;
  const timeline = effectiveCustody(record);
  const windows = timeline.flatMap((event, i) => {
    if (event.event === 'delivered' || !event.locationId) return [];
    const next = timeline[i + 1];
    const end = next ? next.at : Math.max(now, event.at);
    return end > event.at ? [{ event, locationId: event.locationId, start: event.at, end, open: !next }] : [];
  });
  // A report whose digest is compared with a signed one (as of the signature, or since it) asks
  // InfluxDB for every hour's fingerprint: it must see a stored reading changed by hand, which the
  // writer's marks cannot (reports/README.md).
  const session = input.buckets?.session({ trustMarks: !asOf && !currentDisposition(input.record)?.signedOn });
  const read = await Promise.all(windows.map((w) => readPlace(influx, registry, w.locationId, w, input.budget, session)));
  const readings = asOf ? read.map((sensors) => sensors.map((s) => asOfSeries(s, asOf.asOf))) : read;

  const freezeBelow = profile.stability?.freeze?.below;
  const freezeBand = freezeBelow === undefined ? undefined : { min: freezeBelow, max: Number.POSITIVE_INFINITY };
  const freezeEntries: Excursion[] = [];
  const digest = new ReadingsDigest();
  const parts: Array<ReturnType<typeof placeFigures>> = [];
  const segments: Segment[] = [];
  const chart: ShipmentReport['chart'] = [];
  windows.forEach((w, index) => {
    const sensors = readings[index]!;
    const analyses = sensors.map((s) =>
      analyseSensor(s, w, band, profile.humidity, energy, ranges.at, session ? (x, judging) => session.bucketsOf(x, judging) : undefined),
    );
    const figures = placeFigures(analyses, w, band, w.locationId, energy);
    parts.push(figures);
    if (freezeBand) {
      // Entries below the stability data's freeze threshold: the same figures, judged against that limit (stability/).
      const below = sensors.map((s) => analyseSensor(s, w, freezeBand, undefined, energy));
      freezeEntries.push(...placeFigures(below, w, freezeBand, w.locationId, energy).excursions);
    }
    for (const s of sensors) {
      if (session) session.digestInto(s, digest);
      else digest.add(s);
      chart.push(downsample(s, w));
    }
    segments.push({
      index,
      openedBy: w.event.event,
      start: w.start,
      end: w.end,
      open: w.open,
      // The range in force when the segment began (the report's rangeVersions lists every one used).
      place: placeOf(registry, w.locationId, withRange(profile, ranges.at(w.start))),
      sensors: analyses.map((a) => a.figures),
      figures: publicFigures(figures),
    });
  });
  const overall = combineFigures(parts, energy);
  freezeEntries.sort((a, b) => a.start - b.start);
  session?.save();

  const alarms = input.alerts
    .filter((a) => a.state !== 'retracted' && a.state !== 'discarded')
    .filter((a) => windows.some((w) => a.locationId === w.locationId && a.occurredAt < w.end && (a.clearedAt ?? Number.POSITIVE_INFINITY) > w.start))
    .sort((a, b) => a.occurredAt - b.occurredAt)
    .map(reportAlarm);

  const reviews: ReviewReason[] = [];
  if (overall.excursions.length) reviews.push({ kind: 'excursions', count: overall.excursions.length, min: band.min, max: band.max });
  if (overall.completeness.percent < COMPLETENESS_REVIEW_PERCENT)
    reviews.push({ kind: 'completeness', percent: overall.completeness.percent, threshold: COMPLETENESS_REVIEW_PERCENT });
  for (const s of segments)
    if (s.sensors.length === 0) reviews.push({ kind: 'no_readings', segment: s.index + 1, place: placeLabel(registry, s.place.locationId) });
  const unclosed = alarms.filter((a) => a.state !== 'closed');
  if (unclosed.length) reviews.push({ kind: 'alarms_open', count: unclosed.length });
  if (segments.length === 0) reviews.push({ kind: 'no_custody' });
  const calibration = calibrationSection(registry, readings.flat());
  reviews.push(...calibrationReviewReasons(calibration, registry));
  const conflicts = conflictsIn(readings.flat());
  reviews.push(...conflictReviewReasons(conflicts));
  const transport = transportSteps(record);
  reviews.push(...transportReviewReasons(transport, band, registry));

  const corrected = supersededBy(record);
  const result = digest.result();
  const signed = currentDisposition(input.record);
  const all = readings.flat();
  const report: ShipmentReport = {
    reportType: 'shipment',
    shipmentId: record.shipment.id,
    generatedAt: now,
    shipment: record.shipment,
    custody: [...record.custody]
      .sort((a, b) => a.at - b.at)
      .map((c) => ({
        id: c.id,
        event: c.event,
        ...(c.locationId ? { locationId: c.locationId } : {}),
        at: c.at,
        by: c.by,
        source: c.source,
        ...(c.corrects ? { corrects: c.corrects } : {}),
        ...(corrected.has(c.id) ? { supersededBy: corrected.get(c.id)! } : {}),
        ...(c.note ? { note: c.note } : {}),
      })),
    segments,
    overall,
    mktActivationEnergyKJ: energy,
    alarms,
    transport,
    verdict: overall.excursions.length ? 'excursion' : 'within_range',
    needsReview: reviews.length > 0,
    reviewReasons: englishReasons(reviews),
    reviews,
    disposition: currentDisposition(record),
    digest: result,
    chart,
    verification: input.verification,
    calibration,
    conflicts,
    ...(freezeBand ? { freezeEntries } : {}),
    rangeVersions: ranges.used(windows),
    coverage: { asOf: now, maxReceivedAt: maxReceivedAt(all), readings: result.readings, custodyEvents: record.custody.length },
    ...(asOf?.signature
      ? {
          signedVersion: {
            decision: asOf.signature.decision,
            signedAt: asOf.signature.at,
            signedBy: asOf.signature.by,
            printedName: asOf.signature.printedName,
            asOf: asOf.asOf,
            signedDigest: asOf.signature.digest,
            matches: asOf.signature.digest === result.value,
          },
        }
      : {}),
    ...(!asOf && signed?.signedOn
      ? {
          sinceSignature: sinceSignature({
            record,
            disposition: { ...signed, signedOn: signed.signedOn },
            series: all,
            ranges: input.ranges ?? [],
            profileId: profile.id,
            digest: result,
          }),
        }
      : {}),
  };
  // Every figure, the chart and the digest are made: the series' columns go to the next report.
  session?.release();
  return report;
}
