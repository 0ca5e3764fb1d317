import type { Config } from '../core/config/schema.js';
import { Registry } from '../core/registry.js';
import { InfluxClient, InfluxError, type InfluxTarget, type Series } from '../storage/influx.js';
import type { Alert } from '../alerts/book.js';
import type { ShipmentRecord } from '../shipments/book.js';
import type { ReportFormat, ReportLanguage } from './schema.js';
import { renderReport } from './render/index.js';
import { buildGspRecord } from './gsp-record.js';
import { buildExcursionReport } from './excursion-report.js';
import { buildShipmentReport, ReportError } from './shipment-report.js';
import { ReportTooLargeError, RowBudget } from './readings-source.js';
import { buildEpcisDocument } from '../epcis/document.js';
import { EpcisIds } from '../epcis/identifiers.js';
import type { RangeVersion } from './range-versions.js';
import type { AsOf } from './signed-version.js';
import { buildLedger, forReceiver } from '../stability/ledger.js';
import { ledgerVerdict } from './render/stability.js';
import { englishReasons, type ReviewReason } from './review-reasons.js';
import type { AddBack } from '../stability/schema.js';
import type { BucketCache } from './bucket-cache.js';

/**
 * What the report worker is asked to do: which report (with everything it needs that lives in the
 * main thread's memory: the shipment record, the alerts) and in which form. The readings it
 * queries from InfluxDB itself, so the main thread never holds or decodes them.
 */
export type ReportSubject =
  | { kind: 'gsp_record'; locationId: string; from: number; to: number }
  | { kind: 'excursion'; alertId: string; alert: Alert | undefined }
  | {
      kind: 'shipment';
      record: ShipmentRecord;
      alerts: Alert[];
      verification: { url: string; expiresAt: number } | null;
      asOf?: AsOf;
      /** Answer the report as a GS1 EPCIS 2.0 document (epcis/), identifiers under `publicUrl`, instead of `format`. */
      epcis?: { publicUrl: string };
      /** Add the batch's stability ledger (stability/): every shipment of the batch and QA's add-backs. */
      stability?: BatchInput;
    }
  | ({ kind: 'stability' } & BatchInput);

/** What a batch's ledger is built from: the batch, every shipment naming it, QA's add-backs for it. */
export interface BatchInput {
  batch: string;
  records: ShipmentRecord[];
  addBacks: AddBack[];
  /** The receiver of this shipment looks (verification link): other shipments' legs are shown as figures only. */
  viewedBy?: string;
}

export interface ReportJob {
  subject: ReportSubject;
  format: ReportFormat;
  lang: ReportLanguage;
  timeZone: string;
  /** At most this many readings in all (`reports.maxRows`). */
  maxRows: number;
  /** The profiles' recorded range versions (main thread's memory, range-recorder.ts). */
  ranges?: RangeVersion[];
}

export interface BuiltReport {
  body: Uint8Array;
  contentType: string;
  extension: string;
}

/** A failure as it crosses the thread boundary (errors lose their class there). */
export type JobFailure =
  | { type: 'influx'; kind: InfluxError['kind']; message: string }
  | { type: 'report'; status: 400 | 404 | 409; message: string }
  | { type: 'too_large'; rows: number; maxRows: number }
  | { type: 'internal'; message: string };

/** How long a report's own InfluxDB queries may take (a year of readings is hundreds of thousands of rows). */
export const REPORT_QUERY_TIMEOUT_MS = 60_000;

/**
 * The InfluxDB client of the worker: every failure of a query is an InfluxError, also one that
 * happens while the body is read (a body timeout used to escape as a bare AbortError: a 500).
 */
export class ReportInflux extends InfluxClient {
  constructor(
    target: InfluxTarget,
    private readonly timeout = REPORT_QUERY_TIMEOUT_MS,
  ) {
    super(target, timeout);
  }

  override async query(influxql: string, options?: Parameters<InfluxClient['query']>[1]): Promise<Series[]> {
    try {
      return await super.query(influxql, options);
    } catch (err) {
      throw asInfluxError(err, this.timeout);
    }
  }
}

export function asInfluxError(err: unknown, timeoutMs: number): InfluxError {
  if (err instanceof InfluxError) return err;
  const e = err as Error;
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError')
    return new InfluxError('timeout', `InfluxDB did not finish sending the report's readings within ${timeoutMs} ms`);
  const cause = (e as { cause?: { code?: string; message?: string } })?.cause;
  return new InfluxError(
    'unreachable',
    `InfluxDB broke off while sending the report's readings (${cause?.code ?? cause?.message ?? e?.message ?? String(err)})`,
  );
}

export function describeFailure(err: unknown): JobFailure {
  if (err instanceof InfluxError) return { type: 'influx', kind: err.kind, message: err.message };
  if (err instanceof ReportTooLargeError) return { type: 'too_large', rows: err.rows, maxRows: err.maxRows };
  if (err instanceof ReportError) return { type: 'report', status: err.status, message: err.message };
  return { type: 'internal', message: (err as Error)?.message ?? String(err) };
}

/** The failure back as the error the API maps (InfluxError → 503, ReportError → its status). */
export function failureError(failure: JobFailure): Error {
  switch (failure.type) {
    case 'influx':
      return new InfluxError(failure.kind, failure.message);
    case 'too_large':
      return new ReportTooLargeError(failure.rows, failure.maxRows);
    case 'report':
      return new ReportError(failure.message, failure.status);
    case 'internal':
      return new Error(`the report could not be built: ${failure.message}`);
  }
}

/** Builds and renders one report (in the worker; callable in-process too). JSON is compact, as the API always sent it. */
export async function buildReport(job: ReportJob, context: { registry: Registry; influx: InfluxClient; buckets?: BucketCache }): Promise<BuiltReport> {
  const { registry, influx } = context;
  const budget = new RowBudget(job.maxRows);
  const { subject } = job;
  const ranges = job.ranges ?? [];
  if (subject.kind === 'stability') {
    // The batch's ledger from its shipments' reports (stability/ledger.ts); JSON only.
    const ledger = await buildLedger({ ...subject, registry, influx, budget, ranges });
    return { body: Buffer.from(JSON.stringify(ledger)), contentType: 'application/json; charset=utf-8', extension: 'json' };
  }
  const report =
    subject.kind === 'gsp_record'
      ? await buildGspRecord({ registry, influx, locationId: subject.locationId, from: subject.from, to: subject.to, budget, ranges })
      : subject.kind === 'excursion'
        ? await buildExcursionReport({ registry, influx, alert: subject.alert, alertId: subject.alertId, budget, ranges })
        : await buildShipmentReport({
            record: subject.record,
            registry,
            influx,
            alerts: subject.alerts,
            verification: subject.verification,
            budget,
            ranges,
            ...(subject.asOf ? { asOf: subject.asOf } : {}),
            ...(context.buckets ? { buckets: context.buckets } : {}),
          });
  if (subject.kind === 'shipment' && subject.stability && report.reportType === 'shipment' && !subject.asOf) {
    // The batch's ledger as of this report: its own excursions as just computed, its siblings' built alike.
    const ledger = await buildLedger({
      ...subject.stability,
      registry,
      influx,
      budget,
      ranges,
      known: new Map([[subject.record.shipment.id, report]]),
      now: report.generatedAt,
    });
    report.stability = subject.stability.viewedBy ? forReceiver(ledger, subject.stability.viewedBy) : ledger;
    if (ledger.state === 'low' || ledger.state === 'exhausted') {
      const reason: ReviewReason = {
        kind: 'stability',
        batch: ledger.batch,
        state: ledger.state,
        findings: { en: ledgerVerdict(ledger, 'en').findings, 'zh-CN': ledgerVerdict(ledger, 'zh-CN').findings },
      };
      report.reviews = [...(report.reviews ?? []), reason];
      report.reviewReasons.push(...englishReasons([reason]));
      report.needsReview = true;
    }
  }
  if (subject.kind === 'shipment' && subject.epcis && report.reportType === 'shipment') {
    // Built as the shipment report is, then mapped: the exported figures are the report's own.
    const document = buildEpcisDocument({ report, record: subject.record, registry, ids: new EpcisIds(subject.epcis.publicUrl), timeZone: job.timeZone });
    return { body: Buffer.from(JSON.stringify(document)), contentType: 'application/ld+json; charset=utf-8', extension: 'jsonld' };
  }
  if (job.format === 'json') return { body: Buffer.from(JSON.stringify(report)), contentType: 'application/json; charset=utf-8', extension: 'json' };
  return renderReport(report, job.format, { lang: job.lang, timeZone: job.timeZone });
}

/** The registry the worker builds from the config it was sent (kept until a newer one comes). */
export function registryOf(config: Config): Registry {
  return new Registry(config);
}
