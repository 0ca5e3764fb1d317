import { z } from 'zod';

/**
 * What a QA disposition was signed on (issue 13, item 6; 21 CFR 11.70: the signature is linked
 * to its record): the shipment report as it stood at `asOf`, identified by its digest, with what
 * it covered. `reports/signed-version.ts` renders that report again (readings received by `asOf`,
 * custody recorded by then, ranges in force then) and lists what changed since.
 */
export const signedOnSchema = z.object({
  /** The report was built as of this time (server clock): the signed version is rebuilt as of it. */
  asOf: z.number(),
  /** The report's digest (reports/digest.ts). */
  digest: z.object({ algorithm: z.literal('sha256'), value: z.string(), readings: z.number().int() }),
  /** The latest arrival (server time) among the readings the report used; null: none carried one. */
  maxReceivedAt: z.number().nullable(),
  readings: z.number().int(),
  /** Custody events the report used (recorded by `asOf`). */
  custodyEvents: z.number().int(),
  /** The product's range versions the report judged by (null: the configuration's, none recorded). */
  rangeVersions: z.array(z.object({ profileId: z.string(), version: z.number().int().nullable() })),
});
export type SignedOn = z.infer<typeof signedOnSchema>;
