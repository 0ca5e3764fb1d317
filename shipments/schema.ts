import { z } from 'zod';
import { identifier } from '../core/config/schema.js';
import { instantSchema } from '../core/instant.js';
import { signatureInput, signatureRecordSchema } from '../audit/signature-record.js';
import { signedOnSchema } from './signed-on.js';

/** The waybill as recorded: what, how much, from whom to whom, created when and by whom. */
export const shipmentIdentitySchema = z.object({
  id: z.string(),
  product: z.string(),
  profileId: z.string(),
  batch: z.string(),
  expiry: z.string().optional(),
  quantity: z.number(),
  unit: z.string(),
  shipper: z.string(),
  consignee: z.string(),
  createdAt: z.number(),
  createdBy: z.string(),
});

export const custodyEventKinds = ['stored', 'loaded', 'unloaded', 'delivered'] as const;

/** A custody event as recorded (never changed once written; a correction is a new event). */
export const custodyRecordSchema = z.object({
  id: z.string(),
  event: z.enum(custodyEventKinds),
  locationId: z.string().optional(),
  at: z.number(),
  recordedAt: z.number(),
  by: z.string(),
  source: z.enum(['api', 'cli', 'mqtt']),
  /** Set when this event corrects an earlier one (which then no longer counts). */
  corrects: z.string().optional(),
  note: z.string().optional(),
});

export const dispositionDecisions = ['released', 'quarantined', 'rejected'] as const;

/**
 * QA's decision on the goods: an e-signature (printed name, time, meaning) with the decision, and
 * the report it was signed on (its digest and what it covered; dispositions signed before reports
 * were bound have none).
 */
export const dispositionSchema = signatureRecordSchema.extend({ decision: z.enum(dispositionDecisions), signedOn: signedOnSchema.optional() });

/** POST /api/v1/shipments (the electronic waybill, 电子化运单). */
export const shipmentCreateSchema = z.object({
  /** Waybill number; generated when absent. */
  id: identifier.optional(),
  product: z.string().trim().min(1).max(200),
  profile: identifier.describe('product profile whose range and MKT activation energy apply'),
  batch: z.string().trim().min(1).max(100),
  expiry: z.iso.date().optional(),
  quantity: z.number().positive(),
  unit: z.string().trim().min(1).max(20).default('cases'),
  shipper: z.string().trim().min(1).max(200),
  consignee: z.string().trim().min(1).max(200),
});

/** POST /api/v1/shipments/:id/custody, the CLI, and a driver's device on cc/v1/<device>/custody. */
export const custodyInputSchema = z.object({
  event: z.enum(custodyEventKinds),
  /** Where the goods are from this moment: a location of the registry (for `delivered`, optional). */
  locationId: identifier.optional(),
  at: instantSchema,
  /** The id of an earlier custody event this one corrects; the earlier one stays on record, superseded. */
  corrects: z.string().min(1).max(100).optional(),
  note: z.string().trim().max(500).optional(),
  /** Who handled the goods (driver, warehouse clerk); default: the API token or device. */
  by: z.string().trim().min(1).max(100).optional(),
});

/** What a driver's device publishes: the shipment it scanned, the event, and when (default: now). */
export const deviceCustodySchema = custodyInputSchema.extend({ shipmentId: identifier, at: instantSchema.optional() });

/** QA's decision, signed: the decision and what every e-signature presents (audit/signature-record.ts). */
export const dispositionInputSchema = signatureInput('"released for sale after review"').extend({ decision: z.enum(dispositionDecisions) });

export const linkInputSchema = z.object({
  /** How long the receiver's link works, in days. */
  validDays: z.number().positive().max(366).default(30),
});

export const shipmentStates = ['created', 'in_storage', 'in_transit', 'delivered'] as const;

/** The facts stored in InfluxDB (`shipment_events`): never changed, only added to. */
export const shipmentFactSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('created'), shipment: shipmentIdentitySchema }),
  z.object({ type: z.literal('custody'), shipmentId: z.string(), custody: custodyRecordSchema }),
  z.object({ type: z.literal('disposition'), shipmentId: z.string(), disposition: dispositionSchema }),
  z.object({ type: z.literal('link_created'), shipmentId: z.string(), linkId: z.string(), expiresAt: z.number(), at: z.number(), by: z.string() }),
  z.object({ type: z.literal('link_revoked'), shipmentId: z.string(), linkId: z.string(), at: z.number(), by: z.string() }),
]);

export type ShipmentIdentity = z.infer<typeof shipmentIdentitySchema>;
export type Disposition = z.infer<typeof dispositionSchema>;
export type ShipmentCreate = z.infer<typeof shipmentCreateSchema>;
export type CustodyInput = z.infer<typeof custodyInputSchema>;
export type CustodyRecord = z.infer<typeof custodyRecordSchema>;
export type ShipmentFact = z.infer<typeof shipmentFactSchema>;
export type ShipmentState = (typeof shipmentStates)[number];
export type DispositionInput = z.infer<typeof dispositionInputSchema>;
