import { z } from 'zod';
import { instantQuerySchema as instant } from '../core/instant.js';
import { currentDisposition, effectiveCustody, stateOf, supersededBy, type ShipmentRecord } from './book.js';
import { custodyRecordSchema, dispositionSchema, preCoolingSchema, receiptSchema, shipmentIdentitySchema, shipmentStates } from './schema.js';

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

/** What the shipment routes answer (the CLI and the board read them): a shipment, a custody event with the shipment after it, a disposition, a new link. */
export const shipmentAnswerSchema = z.object({ shipment: shipmentSummarySchema });
export const custodyAnswerSchema = z.object({ custody: custodyRecordSchema, shipment: shipmentSummarySchema });
export const dispositionAnswerSchema = z.object({ disposition: dispositionSchema });
export const linkAnswerSchema = z.object({ linkId: z.string(), url: z.string(), expiresAt: z.number() });
export type ShipmentAnswer = z.infer<typeof shipmentAnswerSchema>;
export type CustodyAnswer = z.infer<typeof custodyAnswerSchema>;
export type DispositionAnswer = z.infer<typeof dispositionAnswerSchema>;

/** Which shipments a list shows: a state, and a period their chain overlaps. */
export const shipmentFilterSchema = z.object({ state: z.enum(shipmentStates).optional(), from: instant.optional(), to: instant.optional() });

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
export function shipmentSummaries(records: readonly ShipmentRecord[], { state, from, to }: z.output<typeof shipmentFilterSchema>): ShipmentSummary[] {
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
