import { z } from 'zod';
import { durationMs } from '../core/duration.js';
import { signatureInput, signatureRecordSchema } from '../audit/signature-record.js';

const allowanceId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'must be 1-64 characters of letters, digits, "-", "_" or "." and start with a letter or digit');

/**
 * One allowance of the product's stability data: so much time in a temperature band outside its
 * range, e.g. "up to 72 h between 8 and 25 °C". An excursion counts against the allowance whose
 * band holds its worst reading (its peak), for its whole duration: conservative, and it uses the
 * excursion exactly as the reports compute it.
 */
export const allowanceSchema = z
  .object({
    id: allowanceId.describe('Names the allowance in the ledger, the API and add-backs, e.g. "above-25".'),
    name: z.string().trim().max(200).optional().describe('How people read it, e.g. "8–25 °C (stability study S-12)".'),
    from: z.number().describe('Lower edge of the band, °C (e.g. 8 for the band above a 2–8 °C range).'),
    to: z.number().describe('Upper edge of the band, °C (e.g. 25).'),
    allowance: durationMs.describe('Time the product may spend in this band over its whole life, e.g. 72h.'),
    weighting: z
      .enum(['time', 'mkt'])
      .default('time')
      .describe(
        "time: an excursion consumes its duration. mkt: its duration weighted by the Arrhenius factor of its peak against the band's upper edge (exp(ΔH/R·(1/T_to − 1/T_peak)), the profile's activation energy), so a short warm spell below the stated temperature consumes less; bands above the range only.",
      ),
  })
  .refine((a) => a.from < a.to, { message: 'from must be below to', path: ['to'] });

/** profiles[].stability: the product's stability data a batch's ledger is kept against. */
export const stabilitySchema = z
  .object({
    allowances: z
      .array(allowanceSchema)
      .min(1, 'name at least one allowance (a band outside the range and the time allowed in it)')
      .max(20)
      .describe('Time allowed per temperature band outside the range, over the life of a batch.'),
    total: durationMs.optional().describe('Total time outside the range allowed, all bands together (absent: only the allowances count).'),
    freeze: z
      .object({
        below: z.number().default(0).describe('Going below this, °C, is a freeze event (each time).'),
        maxEvents: z.number().int().min(0).describe('Freeze (freeze/thaw) events a batch may have (0: none allowed).'),
      })
      .optional()
      .describe('Freeze/thaw events allowed: each time the goods go below `below` (any sensor of the place) is one event.'),
    alertBelow: z
      .number()
      .min(0)
      .max(100)
      .default(20)
      .describe('stability_budget_low is raised when what is left of an allowance or the total falls below this, % of it.'),
  })
  .describe('Stability data: a budget per batch across storage and every transport leg; see stability/README.md.');

/** alarms.stability: how often batches' ledgers are looked at, and how loud their alarms are. */
export const stabilityAlarmsSchema = z
  .object({
    enabled: z.boolean().default(true).describe('Raise stability_budget_low and stability_budget_exhausted for batches of profiles with stability data.'),
    every: durationMs
      .prefault('5m')
      .refine((ms) => ms >= 1000, 'must be at least 1s')
      .describe("How often the ledgers are recomputed (each batch's shipment reports, in the report workers, one batch at a time)."),
    watchFor: durationMs.prefault('30d').describe('Batches are watched while a shipment of theirs is not delivered, and this long after the last delivery.'),
    lowSeverity: z.enum(['info', 'warning', 'minor', 'major', 'critical']).default('major').describe('Severity of stability_budget_low.'),
    exhaustedSeverity: z
      .enum(['info', 'warning', 'minor', 'major', 'critical'])
      .default('critical')
      .describe('Severity of stability_budget_exhausted (the batch cannot be released without an investigation).'),
  })
  .prefault({})
  .describe('Stability budget alarms, raised at the `system` place of the site where the batch is (stability/alarms.ts).');

/** What QA adds back after an investigation, signed (POST /api/v1/batches/:batch/stability/add-backs). */
export const addBackInputSchema = signatureInput('"add-back approved after investigation DEV-2026-31"')
  .extend({
    allowance: allowanceId.optional().describe('The allowance time is given back to (absent: the total only).'),
    amount: durationMs.optional().describe('Time given back, e.g. 2h.'),
    freezeEvents: z.number().int().min(1).max(100).optional().describe('Freeze events given back.'),
    investigation: z.string().trim().min(1, 'name the investigation (deviation or CAPA number) the add-back rests on').max(200),
  })
  .refine((a) => (a.amount ?? 0) > 0 || (a.freezeEvents ?? 0) > 0, {
    message: 'give back some time (amount) or some freeze events (freezeEvents)',
    path: ['amount'],
  });

/** An add-back as recorded: what was given back, on which investigation, signed by whom. */
export const addBackSchema = signatureRecordSchema.extend({
  id: z.string(),
  batch: z.string(),
  allowance: z.string().nullable(),
  amountMs: z.number().min(0),
  freezeEvents: z.number().int().min(0),
  investigation: z.string(),
});

/** The facts stored in InfluxDB (`stability_events`): only added, never changed. */
export const stabilityFactSchema = z.discriminatedUnion('type', [z.object({ type: z.literal('add_back'), addBack: addBackSchema })]);

export const ledgerStates = ['ok', 'low', 'exhausted', 'no_stability_data'] as const;

const allowanceUseSchema = z.object({
  id: z.string(),
  name: z.string().nullable(),
  from: z.number(),
  to: z.number(),
  weighting: z.enum(['time', 'mkt']),
  allowanceMs: z.number(),
  /** Consumed by the excursions in this band (weighted for mkt). */
  consumedMs: z.number(),
  addedBackMs: z.number(),
  remainingMs: z.number(),
  remainingPercent: z.number(),
});

/** One excursion of the batch: as a shipment report computed it, merged when two shipments of the batch saw the same one. */
export const ledgerExcursionSchema = z.object({
  shipmentIds: z.array(z.string()),
  locationId: z.string(),
  /** Site and place names as the report shows them. */
  placeName: z.string(),
  band: z.enum(['above', 'below']),
  start: z.number(),
  end: z.number(),
  durationMs: z.number(),
  peak: z.number(),
  ongoing: z.boolean(),
  /** The allowance it counts against; null: its peak lies beyond every allowance (outside the stability data). */
  allowanceId: z.string().nullable(),
  /** What it consumes of that allowance (its duration, or weighted for mkt). */
  consumedMs: z.number(),
  /** It went below the freeze threshold (freezeEvents > 0). */
  freeze: z.boolean(),
  /** How many times the goods went below the freeze threshold during it (each a freeze event). */
  freezeEvents: z.number().int(),
  /** Only in a receiver's view: another shipment's excursion, its place and waybill left out. */
  elsewhere: z.literal(true).optional(),
});

/** A batch's stability ledger (GET /api/v1/batches/:batch/stability, the shipment report's `stability`). */
export const ledgerSchema = z.object({
  batch: z.string(),
  profileId: z.string().nullable(),
  product: z.string().nullable(),
  state: z.enum(ledgerStates),
  /** Why the state is what it is, as codes with figures; renderers put them in words. */
  findings: z.array(
    z.object({
      code: z.enum(['allowance_low', 'allowance_exhausted', 'total_low', 'total_exhausted', 'freeze_exhausted', 'beyond_stability_data']),
      allowanceId: z.string().nullable(),
      remainingPercent: z.number().nullable(),
    }),
  ),
  shipments: z.array(z.object({ id: z.string(), consignee: z.string(), state: z.string() })),
  excursions: z.array(ledgerExcursionSchema),
  /** Sum of the excursions' durations (time outside the range, as the reports compute it). */
  timeOutOfRangeMs: z.number(),
  allowances: z.array(allowanceUseSchema),
  total: z
    .object({ allowanceMs: z.number(), consumedMs: z.number(), addedBackMs: z.number(), remainingMs: z.number(), remainingPercent: z.number() })
    .nullable(),
  freeze: z.object({ below: z.number(), maxEvents: z.number(), events: z.number(), addedBack: z.number(), remaining: z.number() }).nullable(),
  addBacks: z.array(addBackSchema),
  alertBelowPercent: z.number().nullable(),
  computedAt: z.number(),
});

/** A batch as lists show it: named by its shipments, with their product and profile. */
export const batchSummarySchema = z.object({ batch: z.string(), product: z.string(), profileId: z.string(), shipments: z.array(z.string()) });
export type BatchSummary = z.infer<typeof batchSummarySchema>;

export type Allowance = z.infer<typeof allowanceSchema>;
export type Stability = z.infer<typeof stabilitySchema>;
export type StabilityAlarms = z.infer<typeof stabilityAlarmsSchema>;
export type AddBackInput = z.infer<typeof addBackInputSchema>;
export type AddBack = z.infer<typeof addBackSchema>;
export type StabilityFact = z.infer<typeof stabilityFactSchema>;
export type Ledger = z.infer<typeof ledgerSchema>;
export type LedgerExcursion = z.infer<typeof ledgerExcursionSchema>;
export type LedgerState = (typeof ledgerStates)[number];
