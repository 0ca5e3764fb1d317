import { z } from 'zod';
import { currentDisposition, effectiveCustody, stateOf, supersededBy, type ShipmentRecord } from './book.js';
import {
  custodyRecordSchema,
  dispositionSchema,
  preCoolingSchema,
  receiptSchema,
  shipmentIdentitySchema,
  shipmentStates,
  type ShipmentState,
} from './schema.js';

/** A receiver link as lists show it: never its token. */
export const linkSummarySchema = z.object({
  linkId: z.string(),
  createdAt: z.number(),
  createdBy: z.string(),
  expiresAt: z.number(),
  revokedAt: z.number().nullable(),
});

/** A shipment as lists show it: identity, state, where it is, the QA decision. */
export const shipmentSummarySchema = shipmentIdentitySchema.extend({
  state: z.enum(shipmentStates),
  location: z.string().nullable(),
  startedAt: z.number().nullable(),
  deliveredAt: z.number().nullable(),
  disposition: dispositionSchema.nullable(),
  custody: z.array(custodyRecordSchema.extend({ supersededBy: z.string().optional() })),
  links: z.array(linkSummarySchema),
  /** Transport steps: pre-cooling checks of the loadings, the receiver's acceptance or refusal. */
  preCooling: z.array(preCoolingSchema),
  receipt: receiptSchema.nullable(),
});
export type ShipmentSummary = z.infer<typeof shipmentSummarySchema>;

export function shipmentSummary(record: ShipmentRecord): ShipmentSummary {
  const timeline = effectiveCustody(record);
  const corrected = supersededBy(record);
  const last = timeline.at(-1);
  return {
    ...record.shipment,
    state: stateOf(record),
    location: last?.event === 'delivered' ? null : (last?.locationId ?? null),
    startedAt: timeline[0]?.at ?? null,
    deliveredAt: timeline.find((c) => c.event === 'delivered')?.at ?? null,
    disposition: currentDisposition(record),
    custody: record.custody.map((c) => (corrected.has(c.id) ? { ...c, supersededBy: corrected.get(c.id)! } : c)),
    links: record.links.map(({ linkId, createdAt, createdBy, expiresAt, revokedAt }) => ({ linkId, createdAt, createdBy, expiresAt, revokedAt })),
    preCooling: record.preCooling,
    receipt: record.receipt,
  };
}

/**
 * The shipments in a state and a period, newest first: a shipment belongs to a period when its
 * chain (creation to delivery, or to now) overlaps it.
 */
export function shipmentSummaries(
  records: readonly ShipmentRecord[],
  { state, from, to }: { state?: ShipmentState; from?: number; to?: number },
): ShipmentSummary[] {
  return records
    .map(shipmentSummary)
    .filter((s) => !state || s.state === state)
    .filter(
      (s) =>
        (to === undefined || Math.min(s.createdAt, s.startedAt ?? s.createdAt) < to) &&
        (from === undefined || (s.deliveredAt ?? Number.POSITIVE_INFINITY) >= from),
    )
    .sort((a, b) => b.createdAt - a.createdAt);
}
