import { z } from 'zod';

/**
 * A signature as it is kept on a record: printed name, time and meaning (21 CFR 11.50).
 * The one declaration of this shape: alerts, incidents, QA dispositions and reports use it, and
 * the board imports its type. Kept apart from e-signature.ts (password checks, node-only) so
 * that browser code can `import type` it.
 */
export const signatureRecordSchema = z.object({ by: z.string(), printedName: z.string(), at: z.number(), meaning: z.string(), comment: z.string() });
export type SignatureRecord = z.infer<typeof signatureRecordSchema>;
