import { statSync } from 'node:fs';
import { z } from 'zod';
import { instantQuerySchema as instant } from '../core/instant.js';
import { Refusal } from '../core/refusal.js';
import { csvCell } from '../reports/render/csv.js';
import { auditEntrySchema, reviewAuditLog, verifyAuditLog, type AuditEntry, type AuditFilter, type VerifyResult } from './audit-log.js';

const verifiedSchema = z.object({ ok: z.boolean(), entries: z.number(), problem: z.string().optional() });
/** What a reviewer is shown: the whole chain's verification and the newest matching entries. */
export const auditReviewSchema = z.object({
  verified: verifiedSchema,
  /** Entries that matched the filters in all; `entries` holds the newest `limit` of them. */
  matched: z.number(),
  truncated: z.boolean(),
  entries: z.array(auditEntrySchema),
});
export type AuditReview = z.infer<typeof auditReviewSchema>;

const text = z.string().min(1).max(200);
/** What a reviewer asks for: the filter (from inclusive, to exclusive) and how many of the newest matches (default 200, at most 5000). */
export const auditQuerySchema = z
  .object({
    from: instant.optional(),
    to: instant.optional(),
    actor: text.optional(),
    action: text.optional(),
    target: text.optional(),
    limit: z.coerce.number().int().min(1).max(5000).default(200),
  })
  .refine((q) => q.from === undefined || q.to === undefined || q.from < q.to, { message: 'from must be before to', path: ['from'] });
/** A PDF is laid out on the main thread: a page count a reviewer prints, not a bulk export (the CSV is). */
export const AUDIT_PDF_MAX_LIMIT = 1000;
export function checkPdfLimit(limit: number): void {
  if (limit > AUDIT_PDF_MAX_LIMIT)
    throw new Refusal(`limit: at most ${AUDIT_PDF_MAX_LIMIT} entries in a PDF; ask for fewer, or download the CSV`, 400, 'invalid_request');
}

/** `audit-trail-20261202T034000`: a download named after the moment it was made. */
export const trailName = () => `audit-trail-${new Date().toISOString().slice(0, 19).replace(/[-:]/g, '')}`;

/**
 * The trail as a reviewer reads it (qa, admin): newest first, filtered and bounded, with the
 * whole chain's verification. The file is streamed, never read whole; the chain is re-verified
 * only when the file changed since the last look.
 */
export class AuditReviewer {
  private cached: { size: number; mtimeMs: number; result: VerifyResult } | undefined;

  constructor(private readonly file: string) {}

  async review(filter: AuditFilter, limit: number): Promise<AuditReview> {
    const [{ entries, matched }, chain] = await Promise.all([reviewAuditLog(this.file, filter, limit), this.verified()]);
    return { verified: chain, matched, truncated: matched > entries.length, entries };
  }

  private async verified(): Promise<z.infer<typeof verifiedSchema>> {
    let result: VerifyResult | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      const stat = statSync(this.file, { throwIfNoEntry: false });
      const cached = this.cached;
      if (stat && cached && cached.size === stat.size && cached.mtimeMs === stat.mtimeMs) result = cached.result;
      else {
        result = verifyAuditLog(this.file);
        if (stat) this.cached = { size: stat.size, mtimeMs: stat.mtimeMs, result };
      }
      // A line being appended right now reads as a torn tail: look again once it is written.
      if (!result.tornTail) break;
      this.cached = undefined;
      await new Promise((r) => setTimeout(r, 50));
    }
    return { ok: result!.ok, entries: result!.entries, ...(result!.problem ? { problem: result!.problem } : {}) };
  }
}

const CSV_COLUMNS = ['seq', 'time', 'actor', 'printed name', 'action', 'target', 'details'];

/** One CSV line per entry; every text cell through the reports' escaping (a leading =, +, -, @ cannot become a formula). */
export function auditCsv(entries: AuditEntry[]): string {
  const line = (cells: Array<string | number>) => cells.map(csvCell).join(',');
  const rows = entries.map((e) => line([e.seq, new Date(e.at).toISOString(), e.actor, e.printedName ?? '', e.action, e.target, JSON.stringify(e.details)]));
  return `\uFEFF${[line(CSV_COLUMNS), ...rows].join('\r\n')}\r\n`;
}
