import { z } from 'zod';

/**
 * What we emit as GS1 EPCIS 2.0 JSON-LD: the subset of the standard's document this service
 * writes, with our vocabulary choices as enums (the CBV 2.0 terms we use and nothing else). The
 * normative check is GS1's own JSON schema (vendored in tests/fixtures/epcis/, validated in
 * tests/epcis.test.ts); this schema is what the code is typed against.
 */

/** The GS1 EPCIS 2.0 JSON-LD context every document names first. */
export const EPCIS_CONTEXT = 'https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld';

/** CBV 2.0 business steps we use (see README.md for the custody event each stands for). */
export const bizSteps = ['storing', 'shipping', 'unloading', 'receiving', 'inspecting', 'holding'] as const;
/** CBV 2.0 dispositions we use. */
export const dispositions = ['in_progress', 'in_transit', 'conformant', 'non_conformant', 'non_sellable_other'] as const;

/** GS1 measurement types (compact IRIs under the context's `gs1:` prefix) and their UN/CEFACT Rec 20 units. */
export const measurements = {
  temperature: { type: 'gs1:Temperature', uom: 'CEL' },
  /** P1 is "percent" in Rec 20; A93 (used in some GS1 examples) is gram per cubic metre, i.e. absolute humidity. */
  humidity: { type: 'gs1:RelativeHumidity', uom: 'P1' },
} as const;

const uri = z.string().min(1);
const time = z.iso.datetime({ offset: true });

export const sensorReportSchema = z.object({
  type: z.enum([measurements.temperature.type, measurements.humidity.type]),
  exception: z.literal('ALARM_CONDITION').optional(),
  uom: z.string().regex(/^[A-Z0-9]{2,3}$/),
  deviceID: uri.optional(),
  /** The product range the reading broke (an alarm only). */
  bizRules: uri.optional(),
  /** An alarm's peak reading and when it was taken. */
  time: time.optional(),
  value: z.number().optional(),
  minValue: z.number().optional(),
  maxValue: z.number().optional(),
  meanValue: z.number().optional(),
  /** Our own figures of an alarm (the `coldchain:` prefix of the document's context). */
  'coldchain:limit': z.number().optional(),
  'coldchain:durationMs': z.number().optional(),
  'coldchain:degreeMinutes': z.number().optional(),
  'coldchain:ongoing': z.boolean().optional(),
});

export const sensorElementSchema = z.object({
  sensorMetadata: z.object({ deviceID: uri.optional(), startTime: time, endTime: time }),
  sensorReport: z.array(sensorReportSchema).min(1),
});

export const objectEventSchema = z.object({
  type: z.literal('ObjectEvent'),
  eventID: uri,
  eventTime: time,
  eventTimeZoneOffset: z.string().regex(/^[+-]((0\d|1[0-3]):[0-5]\d|14:00)$/),
  action: z.literal('OBSERVE'),
  quantityList: z
    .array(
      z.object({
        epcClass: uri,
        quantity: z.number(),
        uom: z
          .string()
          .regex(/^[A-Z0-9]{2,3}$/)
          .optional(),
      }),
    )
    .min(1),
  bizStep: z.enum(bizSteps),
  disposition: z.enum(dispositions),
  readPoint: z.object({ id: uri }).optional(),
  bizLocation: z.object({ id: uri }).optional(),
  bizTransactionList: z.array(z.object({ type: z.literal('bol'), bizTransaction: uri })),
  sourceList: z.array(z.object({ type: z.literal('owning_party'), source: uri })),
  destinationList: z.array(z.object({ type: z.literal('owning_party'), destination: uri })),
  sensorElementList: z.array(sensorElementSchema).optional(),
  /** A custody event later corrected (the correcting event is named; the corrected one stays on record). */
  errorDeclaration: z.object({ declarationTime: time, reason: z.literal('incorrect_data'), correctiveEventIDs: z.array(uri) }).optional(),
  /** Our own id of the event: the custody event's, or disposition-<epoch ms> for a QA decision. */
  'coldchain:event': z.string().optional(),
});

export const epcisDocumentSchema = z.object({
  '@context': z.tuple([z.literal(EPCIS_CONTEXT), z.object({ coldchain: uri })]),
  type: z.literal('EPCISDocument'),
  schemaVersion: z.literal('2.0'),
  creationDate: time,
  epcisBody: z.object({ eventList: z.array(objectEventSchema) }),
});

export type SensorReport = z.infer<typeof sensorReportSchema>;
export type SensorElement = z.infer<typeof sensorElementSchema>;
export type ObjectEvent = z.infer<typeof objectEventSchema>;
export type EpcisDocument = z.infer<typeof epcisDocumentSchema>;
