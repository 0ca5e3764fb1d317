import type { Registry } from '../core/registry.js';
import type { Alert } from '../alerts/book.js';
import { currentDisposition, effectiveCustody, type ShipmentRecord } from '../shipments/book.js';
import type { ShipmentService } from '../shipments/service.js';
import type { SignedOn } from '../shipments/signed-on.js';
import type { StabilityService } from '../stability/service.js';
import { batchProfile } from '../stability/ledger.js';
import type { ReportSubject } from './jobs.js';
import type { ReportPool } from './pool.js';
import type { ShipmentReport } from './schema.js';
import { SignedVersionError, signedOnOf } from './signed-version.js';

type ShipmentSubject = Extract<ReportSubject, { kind: 'shipment' }>;

/** The receiver's link to a shipment's report: `<publicUrl>/verify/<token>`. */
export const verificationUrl = (publicUrl: string, token: string) => `${publicUrl.replace(/\/$/, '')}/verify/${token}`;

/** The alerts at the places a shipment has been: the report picks among them by time. */
function alertsAlong(record: ShipmentRecord, alerts: readonly Alert[]): Alert[] {
  const places = new Set(effectiveCustody(record).map((c) => c.locationId));
  return alerts.filter((a) => places.has(a.locationId));
}

export interface ShipmentSubjectDeps {
  registry: () => Registry;
  alerts: { book: { list(): Alert[] } };
  shipments: ShipmentService;
  /** Base URL receivers use, for the verification link printed on the report. */
  publicUrl: () => string;
  /** Batches' stability budgets: the shipment report carries its batch's ledger (absent: none). */
  stability?: StabilityService;
}

/**
 * What the report workers are given for a shipment's report: the record, the alerts along its
 * way, its receiver link, and (`full` for people with an account, `receiver` for the link) its
 * batch's stability ledger when its profile has stability data; a receiver sees other
 * consignees' legs only as figures.
 */
export function shipmentSubject(deps: ShipmentSubjectDeps, record: ShipmentRecord, ledger: 'full' | 'receiver' | 'none' = 'none'): ShipmentSubject {
  const active = deps.shipments.activeLink(record);
  const subject = ledger !== 'none' && deps.stability ? deps.stability.subject(record.shipment.batch) : undefined;
  const batch = subject && batchProfile(deps.registry(), subject.records)?.stability ? subject : undefined;
  return {
    kind: 'shipment',
    record,
    alerts: alertsAlong(record, deps.alerts.book.list()),
    verification: active ? { url: verificationUrl(deps.publicUrl(), active.token), expiresAt: active.expiresAt } : null,
    ...(batch ? { stability: { ...batch, ...(ledger === 'receiver' ? { viewedBy: record.shipment.id } : {}) } } : {}),
  };
}

/**
 * The shipment as a GS1 EPCIS 2.0 document for trading partners (epcis/), built from the shipment
 * report itself (so with its limits and refusals), identifiers under the public URL.
 */
export function epcisSubject(deps: ShipmentSubjectDeps, record: ShipmentRecord): ShipmentSubject {
  return { kind: 'shipment', record, alerts: alertsAlong(record, deps.alerts.book.list()), verification: null, epcis: { publicUrl: deps.publicUrl() } };
}

/**
 * Signed means frozen (issue 13, item 6): a disposition is signed on the shipment report as it
 * stands (built in the report workers, as of the moment of signing), reduced to its digest and coverage.
 */
export async function bindReport(pool: ReportPool, subject: ShipmentSubject): Promise<SignedOn> {
  const built = await pool.run({ subject: { ...subject, asOf: { asOf: Date.now() } }, format: 'json', lang: 'en', timeZone: 'UTC' });
  return signedOnOf(JSON.parse(Buffer.from(built.body).toString('utf8')) as ShipmentReport);
}

/** The subject of `…/report`: the report as it stands now, with its batch's ledger, or `signed`: as the current disposition was signed on it. */
export const reportSubject = (deps: ShipmentSubjectDeps, record: ShipmentRecord, version: 'current' | 'signed') =>
  version === 'signed' ? signedSubject(record, shipmentSubject(deps, record)) : shipmentSubject(deps, record, 'full');

/** The subject of the signed version (`?version=signed`): as of the current disposition's report, with its signature. */
export function signedSubject(record: ShipmentRecord, subject: ShipmentSubject): ShipmentSubject {
  const disposition = currentDisposition(record);
  if (!disposition) throw new SignedVersionError(`shipment ${record.shipment.id} has no QA disposition yet, so there is no signed version`, 404, 'not_signed');
  if (!disposition.signedOn)
    throw new SignedVersionError(
      `the disposition of shipment ${record.shipment.id} (${new Date(disposition.at).toISOString()}) was signed before reports were bound to signatures: its report was not kept`,
      409,
      'not_bound',
    );
  return {
    ...subject,
    asOf: {
      asOf: disposition.signedOn.asOf,
      signature: {
        decision: disposition.decision,
        at: disposition.at,
        by: disposition.by,
        printedName: disposition.printedName,
        digest: disposition.signedOn.digest.value,
      },
    },
  };
}
