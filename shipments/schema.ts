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
  /** How the consignee hears of excursions on its goods (GDP 9.2); older waybills have none. */
  consigneeEmail: z.string().optional(),
  consigneePhone: z.string().optional(),
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
  /** Told of excursions at the places carrying this shipment (GDP 9.2), in English and Chinese. */
  consigneeEmail: z.email().max(254).optional(),
  consigneePhone: z
    .string()
    .regex(/^\+[1-9]\d{6,14}$/, 'write a phone number in E.164 form, e.g. +8613800138000')
    .optional(),
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

export const receiptDecisions = ['accepted', 'refused'] as const;

/** What the receiver enters on the verification link (收货验收): bounded, since anyone holding the link may post it. */
export const receiptInputSchema = z.object({
  decision: z.enum(receiptDecisions),
  /** The goods' temperature measured on arrival, °C. */
  arrivalTemperature: z.coerce.number().min(-100).max(100),
  /** Who received the goods (printed name as they give it: the link proves no identity). */
  name: z.string().trim().min(1).max(100),
  comment: z.string().trim().max(1000).default(''),
});

/** The receiver's decision as recorded: once per shipment. */
export const receiptSchema = z.object({
  decision: z.enum(receiptDecisions),
  arrivalTemperature: z.number(),
  name: z.string(),
  comment: z.string(),
  at: z.number(),
  /** The verification link it came through. */
  linkId: z.string(),
});

/** The pre-cooling check of a `loaded` event: the compartment's stored readings before loading against the product's range. */
export const preCoolingSchema = z.object({
  /** The custody event it was made for; absent when the loading was refused. */
  custodyId: z.string().optional(),
  locationId: z.string(),
  /** Loading time; the window checked is [from, to = loading time). */
  from: z.number(),
  to: z.number(),
  range: z.object({ min: z.number(), max: z.number() }),
  readings: z.number().int(),
  sensors: z.array(z.string()),
  min: z.number().nullable(),
  max: z.number().nullable(),
  /** Longest stretch of the window no reading stands for (before the first, between two, after the last). */
  longestGapMs: z.number(),
  passed: z.boolean(),
  problems: z.array(z.enum(['no_readings', 'below_range', 'above_range', 'not_covered', 'readings_unavailable'])),
  action: z.enum(['warn', 'refuse']),
  /** What happened to the loading: recorded (pass, or warn) or refused. */
  outcome: z.enum(['recorded', 'refused']),
  checkedAt: z.number(),
});

/** One message to the consignee about an excursion at a place carrying its goods (GDP 9.2). */
export const consigneeNoticeSchema = z.object({
  alertId: z.string(),
  incidentId: z.string().nullable(),
  locationId: z.string(),
  at: z.number(),
  channel: z.string(),
  recipient: z.string(),
  ok: z.boolean(),
  outcome: z.string(),
});

export const shipmentStates = ['created', 'in_storage', 'in_transit', 'delivered'] as const;

/** The facts stored in InfluxDB (`shipment_events`): never changed, only added to. */
export const shipmentFactSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('created'), shipment: shipmentIdentitySchema }),
  z.object({ type: z.literal('custody'), shipmentId: z.string(), custody: custodyRecordSchema }),
  z.object({ type: z.literal('disposition'), shipmentId: z.string(), disposition: dispositionSchema }),
  z.object({ type: z.literal('link_created'), shipmentId: z.string(), linkId: z.string(), expiresAt: z.number(), at: z.number(), by: z.string() }),
  z.object({ type: z.literal('link_revoked'), shipmentId: z.string(), linkId: z.string(), at: z.number(), by: z.string() }),
  z.object({ type: z.literal('pre_cooling'), shipmentId: z.string(), check: preCoolingSchema }),
  z.object({ type: z.literal('receipt'), shipmentId: z.string(), receipt: receiptSchema }),
  z.object({ type: z.literal('consignee_notified'), shipmentId: z.string(), notice: consigneeNoticeSchema }),
]);

export type ShipmentIdentity = z.infer<typeof shipmentIdentitySchema>;
export type Disposition = z.infer<typeof dispositionSchema>;
export type ShipmentCreate = z.infer<typeof shipmentCreateSchema>;
export type CustodyInput = z.infer<typeof custodyInputSchema>;
export type CustodyRecord = z.infer<typeof custodyRecordSchema>;
export type ShipmentFact = z.infer<typeof shipmentFactSchema>;
export type ShipmentState = (typeof shipmentStates)[number];
export type ReceiptInput = z.infer<typeof receiptInputSchema>;
export type Receipt = z.infer<typeof receiptSchema>;
export type PreCooling = z.infer<typeof preCoolingSchema>;
export type ConsigneeNotice = z.infer<typeof consigneeNoticeSchema>;
export type DispositionInput = z.infer<typeof dispositionInputSchema>;
