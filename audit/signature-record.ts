import { z } from 'zod';

/**
 * A signature as it is kept on a record: printed name, time and meaning (21 CFR 11.50).
 * The one declaration of this shape: alerts, incidents, QA dispositions and reports use it, and
 * the board imports its type. Kept apart from e-signature.ts (password checks, node-only) so
 * that browser code can `import type` it.
 */
export const signatureRecordSchema = z.object({ by: z.string(), printedName: z.string(), at: z.number(), meaning: z.string(), comment: z.string() });
export type SignatureRecord = z.infer<typeof signatureRecordSchema>;

/**
 * What a signer presents (21 CFR 11.200: two identification components, user and re-entered
 * password, plus the meaning of the signature). The example names a meaning that fits the record.
 */
export const signatureInput = (meaningExample: string) =>
  z.object({
    user: z.string().min(1),
    password: z.string().min(1),
    meaning: z.string().trim().min(3, `state the meaning of the signature, e.g. ${meaningExample}`).max(200),
    comment: z.string().trim().min(1, 'a comment is required').max(2000),
  });
export type Signature = z.infer<ReturnType<typeof signatureInput>>;
