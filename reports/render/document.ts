import { ALERT_EVENT_WORDS, actorInWords, CHANNEL_WORDS, inWords } from '../../alerts/event-words.js';
import { kindLabels, severityLabels, stateLabels } from '../../alerts/text.js';
import { LATE_MIN_DELAY_MS } from '../figures.js';
import type { AnyReport, Completeness, ExcursionReport, Figures, GspRecord, LateRun, Place, ReportAlarm, ShipmentReport } from '../schema.js';
import { chartSvg } from './chart-svg.js';
import { calibrationBlocks, calibrationLabel } from './calibration.js';
import { conflictBlocks } from './conflicts.js';
import { stabilityBlocks } from './stability.js';
import { transportBlocks } from '../transport-steps.js';
import type { Formatter } from './i18n.js';
import { rangeVersionsBlocks, signedVersionBlocks, sinceSignatureBlocks } from './integrity.js';
import { reviewReasonText } from '../review-reasons.js';

/** A cell: numbers stay numbers (CSV keeps them numeric, HTML and PDF format them). */
export type Cell = string | number;

/**
 * What a report shows, in order, independent of the format: HTML, PDF and CSV each lay out
 * these blocks, so the three cannot disagree on a figure.
 */
export type Block =
  | { kind: 'verdict'; ok: boolean; text: string; reasons: string[] }
  | { kind: 'fields'; heading?: string; rows: Array<[string, Cell]> }
  | { kind: 'table'; heading: string; columns: string[]; rows: Cell[][]; empty: string; widths?: number[]; note?: string }
  | { kind: 'chart'; heading: string; svg: (fontFamily: string) => string }
  | { kind: 'signature'; heading: string; rows: Array<[string, string]> | null; empty: string }
  | { kind: 'link'; heading: string; url: string; hint: string };

export interface ReportDocument {
  title: string;
  subtitle: string;
  blocks: Block[];
  footer: string;
}

const round2 = (v: number | null | undefined): Cell => (v === null || v === undefined ? '—' : Math.round(v * 100) / 100);

function placeName(place: Place, _f: Formatter): string {
  const where = place.locationName ? `${place.locationName} (${place.locationId})` : place.locationId;
  return `${place.siteName ?? place.siteId} / ${where}`;
}

/** GSP asks for the store zone or the vehicle type beside each record. */
function zoneOrVehicle(place: Place, f: Formatter): string {
  if (place.siteKind === 'vehicle') return [place.vehicleType, place.plate].filter(Boolean).join(' ') || f.label(place.locationKind);
  return f.label(place.locationKind);
}

/** "N readings arrived late, up to X after they were taken", or nothing when none did. */
function lateSummary(c: Completeness, f: Formatter): string | undefined {
  if (!c.late) return undefined;
  return f.fill(f.t.lateSummary, { n: c.late, delay: f.duration(c.latestArrivalDelayMs ?? 0) });
}

/** The legend of the late mark: what late means, in the report's language. */
function lateLegend(f: Formatter): string {
  return f.fill(f.t.lateLegend, { threshold: f.fill(f.t.lateThreshold, { min: f.duration(LATE_MIN_DELAY_MS) }) });
}

/** Runs of late readings with when they arrived (empty: no table at all, so reports without late data look as before). */
function lateTable(runs: LateRun[], f: Formatter): Block[] {
  if (!runs.length) return [];
  return [
    {
      kind: 'table',
      heading: f.t.lateData,
      columns: [f.t.sensor, f.t.place, f.t.start, f.t.end, f.t.readings, f.t.received, f.t.maxDelay],
      rows: runs.map((r) => [
        `${r.deviceId} (${f.t.lateMark})`,
        r.locationId,
        f.when(r.start),
        f.when(r.end),
        r.readings,
        r.lastReceivedAt === r.receivedAt ? f.when(r.receivedAt) : `${f.when(r.receivedAt)} — ${f.when(r.lastReceivedAt)}`,
        f.duration(r.maxDelayMs),
      ]),
      empty: f.t.noLateData,
      widths: [1.2, 1.3, 1.3, 1.3, 0.6, 2, 0.8],
      note: lateLegend(f),
    },
  ];
}

function figureRows(figures: Figures, f: Formatter, energy: number): Array<[string, Cell]> {
  const rows: Array<[string, Cell]> = [
    [f.t.readings, figures.readings],
    [f.t.duration, f.duration(figures.durationMs)],
    [`${f.t.min} (°C)`, figures.min ? `${figures.min.value.toFixed(2)} @ ${f.when(figures.min.at)}` : '—'],
    [`${f.t.max} (°C)`, figures.max ? `${figures.max.value.toFixed(2)} @ ${f.when(figures.max.at)}` : '—'],
    [`${f.t.mean} (°C)`, round2(figures.mean)],
    [`${f.t.mkt} (°C)`, round2(figures.mkt)],
    [`${f.t.activationEnergy} (kJ/mol)`, energy],
    [f.t.timeOutOfRange, f.duration(figures.timeOutOfRangeMs)],
    [f.t.timeAbove, f.duration(figures.timeAboveMs)],
    [f.t.timeBelow, f.duration(figures.timeBelowMs)],
    [f.t.completeness, completenessText(figures.completeness, f)],
  ];
  if (figures.humidity) {
    rows.push([
      `${f.t.humidity} ${f.t.min}/${f.t.max}/${f.t.mean} (%RH)`,
      `${figures.humidity.min?.value ?? '—'} / ${figures.humidity.max?.value ?? '—'} / ${figures.humidity.mean ?? '—'}`,
    ]);
    rows.push([`${f.t.humidity} ${f.t.timeOutOfRange}`, f.duration(figures.humidity.timeOutOfRangeMs)]);
  }
  return rows;
}

function completenessText(c: Completeness, f: Formatter): string {
  const late = lateSummary(c, f);
  return `${f.percent(c.percent)} (${f.t.present} ${c.present} / ${f.t.expected} ${c.expected}; ${f.t.missingBySequence} ${c.missingBySequence}${late ? `; ${late}` : ''})`;
}

function excursionTable(figures: Figures, f: Formatter): Block {
  return {
    kind: 'table',
    heading: f.t.excursions,
    columns: [f.t.place, f.t.band, `${f.t.limit} (°C)`, f.t.start, f.t.end, f.t.duration, `${f.t.peak} (°C)`, f.t.degreeMinutes, f.t.sensors],
    rows: figures.excursions.map((e) => [
      e.locationId,
      f.label(e.band),
      e.limit,
      f.when(e.start),
      e.ongoing ? `${f.when(e.end)} (${f.t.ongoing})` : f.when(e.end),
      f.duration(e.durationMs),
      e.peak,
      e.degreeMinutes,
      e.deviceIds.join(', '),
    ]),
    empty: f.t.noExcursions,
    widths: [1.4, 0.8, 0.6, 1.4, 1.4, 0.9, 0.6, 0.8, 1.2],
  };
}

function gapTable(figures: Figures, f: Formatter): Block {
  return {
    kind: 'table',
    heading: f.t.gaps,
    columns: [f.t.sensor, f.t.place, f.t.start, f.t.end, f.t.duration, f.t.missingReadings],
    rows: figures.gaps.map((g) => [g.deviceId, g.locationId, f.when(g.start), f.when(g.end), f.duration(g.durationMs), g.missingReadings]),
    empty: f.t.noGaps,
  };
}

function alarmTable(alarms: ReportAlarm[], f: Formatter): Block {
  const signed = (s: ReportAlarm['acknowledged']) => (s ? `${s.printedName}, ${f.when(s.at)}: ${s.meaning} — ${s.comment}` : '—');
  return {
    kind: 'table',
    heading: f.t.alarms,
    columns: [f.t.kind, f.t.severity, f.t.state, f.t.sensor, f.t.occurred, f.t.cleared, `${f.t.peak} (°C)`, f.t.acknowledged, f.t.closed],
    rows: alarms.map((a) => [
      `${a.kind}${a.late ? ` (${f.t.late})` : ''}`,
      a.severity,
      a.state,
      a.deviceId,
      f.when(a.occurredAt),
      f.when(a.clearedAt),
      a.peak,
      signed(a.acknowledged),
      signed(a.closed),
    ]),
    empty: f.t.noAlarms,
    widths: [1.2, 0.7, 0.8, 0.9, 1.3, 1.3, 0.6, 1.6, 1.6],
  };
}

/** The reasons in the report's language; a report signed before they were data shows its English ones. */
const reviewReasonsInWords = (report: ShipmentReport, f: Formatter): string[] =>
  report.reviews ? report.reviews.map((r) => reviewReasonText(r, f.lang, (ms) => f.when(ms))) : report.reviewReasons;

function shipmentDocument(report: ShipmentReport, f: Formatter): ReportDocument {
  const s = report.shipment;
  const firstPlace = report.segments[0]?.place;
  const blocks: Block[] = [
    {
      kind: 'fields',
      rows: [
        [f.t.waybill, s.id],
        [f.t.product, s.product],
        [f.t.productProfile, firstPlace ? `${s.profileId} (${firstPlace.range.min} … ${firstPlace.range.max} °C)` : s.profileId],
        [f.t.batch, s.batch],
        [f.t.expiry, s.expiry ?? '—'],
        [f.t.quantity, `${s.quantity} ${s.unit}`],
        [f.t.shipper, s.shipper],
        [f.t.consignee, s.consignee],
        [f.t.createdAt, `${f.when(s.createdAt)} (${s.createdBy})`],
      ],
    },
    ...signedVersionBlocks(report.signedVersion, f),
    { kind: 'verdict', ok: !report.needsReview, text: `${f.t.verdict}: ${f.label(report.verdict)}`, reasons: reviewReasonsInWords(report, f) },
    { kind: 'fields', heading: f.t.overall, rows: figureRows(report.overall, f, report.mktActivationEnergyKJ) },
  ];
  if (report.chart.length) {
    const from = report.segments[0]?.start ?? report.generatedAt;
    const to = report.segments.at(-1)?.end ?? report.generatedAt;
    const range = firstPlace?.range ?? { min: 0, max: 0 };
    blocks.push({
      kind: 'chart',
      heading: f.t.chart,
      svg: (font) =>
        chartSvg(
          { series: report.chart, from, to, range, excursions: report.overall.excursions, boundaries: report.segments.slice(1).map((seg) => seg.start) },
          f,
          font,
        ),
    });
  }
  blocks.push({
    kind: 'table',
    heading: f.t.segments,
    columns: [
      '#',
      f.t.event,
      f.t.place,
      f.t.zone,
      f.t.start,
      f.t.end,
      f.t.sensors,
      `${f.t.min} (°C)`,
      `${f.t.max} (°C)`,
      `${f.t.mean} (°C)`,
      `${f.t.mktShort} (°C)`,
      f.t.timeOutOfRange,
      f.t.completeness,
    ],
    rows: report.segments.map((seg) => [
      seg.index + 1,
      f.label(seg.openedBy),
      placeName(seg.place, f),
      zoneOrVehicle(seg.place, f),
      f.when(seg.start),
      seg.open ? `${f.when(seg.end)} (${f.t.open})` : f.when(seg.end),
      seg.sensors.map((x) => x.deviceId).join(', ') || '—',
      round2(seg.figures.min?.value),
      round2(seg.figures.max?.value),
      round2(seg.figures.mean),
      round2(seg.figures.mkt),
      f.duration(seg.figures.timeOutOfRangeMs),
      seg.figures.completeness.late
        ? `${f.percent(seg.figures.completeness.percent)} (${f.fill(f.t.lateCount, { n: seg.figures.completeness.late })})`
        : f.percent(seg.figures.completeness.percent),
    ]),
    empty: f.t.noReadings,
    widths: [0.3, 0.7, 2, 1, 1.3, 1.3, 1.2, 0.6, 0.6, 0.6, 0.6, 0.8, 0.8],
  });
  blocks.push(excursionTable(report.overall, f), gapTable(report.overall, f), ...lateTable(report.overall.lateData, f), alarmTable(report.alarms, f));
  blocks.push(...calibrationBlocks(report.calibration, f), ...conflictBlocks(report.conflicts, f));
  blocks.push(...stabilityBlocks(report.stability, f));
  blocks.push({
    kind: 'table',
    heading: f.t.custody,
    columns: [f.t.event, f.t.place, f.t.time, f.t.by, f.t.source, f.t.note],
    rows: report.custody.map((c) => [
      f.label(c.event),
      c.locationId ?? '—',
      f.when(c.at),
      c.by,
      c.source,
      [c.note, c.corrects ? `${f.t.corrects} ${c.corrects}` : '', c.supersededBy ? `${f.t.supersededBy} ${c.supersededBy}` : ''].filter(Boolean).join('; ') ||
        '—',
    ]),
    empty: '—',
  });
  blocks.push(...transportBlocks(report, f));
  const d = report.disposition;
  blocks.push({
    kind: 'signature',
    heading: `${f.t.disposition} — ${f.t.signature}`,
    rows: d
      ? [
          [f.t.disposition, f.label(d.decision)],
          [f.t.signedBy, `${d.printedName} (${d.by})`],
          [f.t.signedAt, f.when(d.at)],
          [f.t.meaning, d.meaning],
          [f.t.comment, d.comment],
        ]
      : null,
    empty: f.t.notReviewed,
  });
  blocks.push(...sinceSignatureBlocks(report.sinceSignature, f), ...rangeVersionsBlocks(report.rangeVersions, f));
  if (report.verification)
    blocks.push({
      kind: 'link',
      heading: f.t.verification,
      url: report.verification.url,
      hint: `${f.t.verificationHint} ${f.t.validUntil} ${f.when(report.verification.expiresAt)}`,
    });
  return { title: f.t.shipmentReportTitle, subtitle: `${f.t.waybill} ${s.id} · ${s.product} · ${f.t.batch} ${s.batch}`, blocks, footer: footer(report, f) };
}

function footer(report: AnyReport, f: Formatter): string {
  return `${f.t.generatedAt} ${f.when(report.generatedAt)} (${f.timeZone}) · ${f.t.digest}: ${report.digest.value} (${report.digest.readings} ${f.t.readings})`;
}

function gspDocument(record: GspRecord, f: Formatter): ReportDocument {
  const place = record.place;
  const zone = zoneOrVehicle(place, f);
  const location = placeName(place, f);
  // The arrival column appears only when some recorded reading came late; the legend with it.
  const anyLate = record.rows.some((r) => r.late);
  const anyUncalibrated = record.rows.some((r) => r.outOfCalibration);
  return {
    title: f.t.gspRecordTitle,
    subtitle: `${location} · ${f.when(record.from)} — ${f.when(record.to)}`,
    blocks: [
      {
        kind: 'fields',
        rows: [
          [f.t.place, location],
          [place.siteKind === 'vehicle' ? f.t.vehicleType : f.t.zone, zone],
          [
            f.t.range,
            `${place.range.min} … ${place.range.max} °C${place.humidityRange ? `, ${place.humidityRange.min} … ${place.humidityRange.max} %RH` : ''}`,
          ],
          [f.t.period, `${f.when(record.from)} — ${f.when(record.to)}`],
          [f.t.normalInterval, f.duration(record.normalIntervalMs)],
          [f.t.outOfRangeInterval, f.duration(record.outOfRangeIntervalMs)],
          [f.t.sensors, record.sensors.map((s) => (s.name ? `${s.deviceId} (${s.name})` : s.deviceId)).join(', ') || '—'],
          [f.t.completeness, completenessText(record.completeness, f)],
        ],
      },
      {
        kind: 'table',
        heading: f.t.gspRecordTitle,
        columns: [
          f.t.date,
          f.t.time,
          f.t.sensor,
          f.t.place,
          place.siteKind === 'vehicle' ? f.t.vehicleType : f.t.zone,
          f.t.temperature,
          f.t.humidityRh,
          f.t.outOfRange,
          f.t.recordingInterval,
          ...(anyLate ? [f.t.receivedLate] : []),
          ...(anyUncalibrated ? [calibrationLabel(f, 'column')] : []),
        ],
        rows: record.rows.map((r) => [
          f.date(r.at),
          f.time(r.at),
          r.deviceId,
          place.locationId,
          zone,
          r.temperature,
          r.humidity ?? '—',
          r.outOfRange ? f.t.yes : f.t.no,
          f.duration(r.intervalMs),
          ...(anyLate ? [r.late && r.receivedAt !== undefined ? `${f.t.lateMark} ${f.when(r.receivedAt)}` : ''] : []),
          ...(anyUncalibrated ? [r.outOfCalibration ? calibrationLabel(f, 'yes') : ''] : []),
        ]),
        empty: f.t.noReadings,
        widths: [1, 0.8, 1.1, 1.3, 1.7, 0.8, 0.8, 0.6, 0.7, ...(anyLate ? [1.5] : []), ...(anyUncalibrated ? [0.7] : [])],
        ...(anyLate ? { note: lateLegend(f) } : {}),
      },
      ...lateTable(record.lateData, f),
      ...calibrationBlocks(record.calibration, f),
      ...conflictBlocks(record.conflicts, f),
      ...rangeVersionsBlocks(record.rangeVersions, f),
    ],
    footer: footer(record, f),
  };
}

function excursionDocument(report: ExcursionReport, f: Formatter): ReportDocument {
  const a = report.alert;
  const blocks: Block[] = [
    {
      kind: 'fields',
      rows: [
        [f.t.alert, a.id],
        [f.t.kind, `${kindLabels[a.kind][f.lang]}${a.late ? ` (${f.t.late})` : ''}`],
        [f.t.severity, severityLabels[a.severity][f.lang]],
        [f.t.state, stateLabels[a.state][f.lang]],
        [f.t.place, placeName(report.place, f)],
        [f.t.sensor, a.deviceId],
        [f.t.range, `${report.place.range.min} … ${report.place.range.max} °C`],
        [`${f.t.threshold} (°C)`, a.threshold],
        [`${f.t.peak} (°C)`, a.peak],
        [f.t.occurred, f.when(a.occurredAt)],
        [f.t.cleared, f.when(a.clearedAt)],
      ],
    },
    {
      kind: 'chart',
      heading: `${f.t.chart} (${f.when(report.from)} — ${f.when(report.to)})`,
      svg: (font) =>
        chartSvg({ series: report.chart, from: report.from, to: report.to, range: report.place.range, excursions: report.figures.excursions }, f, font),
    },
    { kind: 'fields', heading: f.t.overall, rows: figureRows(report.figures, f, report.mktActivationEnergyKJ) },
    excursionTable(report.figures, f),
    ...lateTable(report.figures.lateData, f),
    ...rangeVersionsBlocks(report.rangeVersions, f),
    {
      kind: 'table',
      heading: f.t.trail,
      columns: [f.t.time, f.t.event, f.t.actor, f.t.channel, f.t.recipient, f.t.outcome, f.t.meaning, f.t.comment],
      rows: report.events.map((e) => [
        f.when(e.at),
        inWords(ALERT_EVENT_WORDS, e.event, f.lang),
        e.printedName ? `${e.printedName} (${e.actor})` : actorInWords(e.actor, f.lang),
        e.channel ? inWords(CHANNEL_WORDS, e.channel, f.lang) : '—',
        e.recipient ?? '—',
        e.outcome ?? '—',
        e.meaning ?? '—',
        e.comment ?? '—',
      ]),
      empty: '—',
    },
  ];
  for (const [heading, s] of [
    [f.t.acknowledged, a.acknowledged],
    [f.t.closed, a.closed],
  ] as const) {
    blocks.push({
      kind: 'signature',
      heading: `${heading} — ${f.t.signature}`,
      rows: s
        ? [
            [f.t.signedBy, `${s.printedName} (${s.by})`],
            [f.t.signedAt, f.when(s.at)],
            [f.t.meaning, s.meaning],
            [f.t.comment, s.comment],
          ]
        : null,
      empty: '—',
    });
  }
  return { title: f.t.excursionReportTitle, subtitle: `${a.id} · ${placeName(report.place, f)}`, blocks, footer: footer(report, f) };
}

export function describeReport(report: AnyReport, f: Formatter): ReportDocument {
  switch (report.reportType) {
    case 'shipment':
      return shipmentDocument(report, f);
    case 'gsp_record':
      return gspDocument(report, f);
    case 'excursion':
      return excursionDocument(report, f);
  }
}
