import { z } from 'zod';
import { currentDisposition, type ShipmentRecord } from '../shipments/book.js';
import type { SignedOn } from '../shipments/signed-on.js';
import type { ReportSubject } from '../reports/jobs.js';
import type { ReportPool } from '../reports/pool.js';
import type { ShipmentReport } from '../reports/schema.js';
import { signedOnOf } from '../reports/signed-version.js';
import { HttpError } from './http-error.js';
import { reportRefusal } from './reports.js';

/**
 * Signed means frozen (issue 13, item 6), on the API's side: a disposition is signed on the
 * shipment report as it stands (built in the report workers, as of the moment of signing), and
 * `GET /api/v1/shipments/:id/report?version=signed` renders that report again.
 */

/** ?version=current (default) or signed. */
export const reportVersionSchema = z.object({ version: z.enum(['current', 'signed']).default('current') });

type ShipmentSubject = Extract<ReportSubject, { kind: 'shipment' }>;

function shipmentSubject(subject: ReportSubject): ShipmentSubject {
  if (subject.kind !== 'shipment') throw new Error(`a ${subject.kind} report cannot be signed on`);
  return subject;
}

/** What the disposition binds: the report built now, in JSON, reduced to its digest and coverage. */
export async function bindReport(pool: ReportPool, subject: ReportSubject): Promise<SignedOn> {
  let built: Awaited<ReturnType<ReportPool['run']>>;
  try {
    built = await pool.run({ subject: { ...shipmentSubject(subject), asOf: { asOf: Date.now() } }, format: 'json', lang: 'en', timeZone: 'UTC' });
  } catch (err) {
    throw reportRefusal(err as Error);
  }
  return signedOnOf(JSON.parse(Buffer.from(built.body).toString('utf8')) as ShipmentReport);
}

/** The subject of the signed version: as of the current disposition's report, with its signature. */
export function signedSubject(record: ShipmentRecord, subject: ReportSubject): ShipmentSubject {
  const disposition = currentDisposition(record);
  if (!disposition) throw new HttpError(404, 'not_signed', `shipment ${record.shipment.id} has no QA disposition yet, so there is no signed version`);
  if (!disposition.signedOn)
    throw new HttpError(
      409,
      'not_bound',
      `the disposition of shipment ${record.shipment.id} (${new Date(disposition.at).toISOString()}) was signed before reports were bound to signatures: its report was not kept`,
    );
  return {
    ...shipmentSubject(subject),
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
