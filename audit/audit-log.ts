import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';

export const auditEntrySchema = z.object({
  seq: z.number().int().positive(),
  at: z.string(),
  /** Who: a user name, or "system". */
  actor: z.string(),
  /** Printed name of the signer, for e-signatures (21 CFR 11.50). */
  printedName: z.string().optional(),
  action: z.string(),
  target: z.string(),
  details: z.record(z.string(), z.unknown()).default({}),
  prev: z.string(),
  hash: z.string(),
});
export type AuditEntry = z.infer<typeof auditEntrySchema>;
export type AuditInput = Pick<AuditEntry, 'actor' | 'action' | 'target'> & { printedName?: string; details?: Record<string, unknown> };

const GENESIS = '0'.repeat(64);

function digest(prev: string, entry: Omit<AuditEntry, 'hash' | 'prev'>): string {
  const { seq, at, actor, printedName, action, target, details } = entry;
  return createHash('sha256').update(prev).update(JSON.stringify({ seq, at, actor, printedName: printedName ?? null, action, target, details })).digest('hex');
}

export const auditFile = (dataDir: string) => path.join(dataDir, 'audit', 'audit.ndjson');

export interface VerifyResult {
  ok: boolean;
  entries: number;
  lastHash: string;
  problem?: string;
}

/** Re-computes the chain: an altered, inserted or removed entry breaks it at that line. */
export function verifyAuditLog(file: string): VerifyResult {
  if (!existsSync(file)) return { ok: true, entries: 0, lastHash: GENESIS };
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0);
  let prev = GENESIS;
  for (let i = 0; i < lines.length; i++) {
    const where = `${file}:${i + 1}`;
    let entry: AuditEntry;
    try {
      entry = auditEntrySchema.parse(JSON.parse(lines[i]!));
    } catch {
      return { ok: false, entries: i, lastHash: prev, problem: `${where}: not a valid audit entry` };
    }
    if (entry.seq !== i + 1) return { ok: false, entries: i, lastHash: prev, problem: `${where}: sequence ${entry.seq} where ${i + 1} was expected (an entry was removed or inserted)` };
    if (entry.prev !== prev) return { ok: false, entries: i, lastHash: prev, problem: `${where}: does not chain to the entry before it (an entry was removed or altered)` };
    if (digest(prev, entry) !== entry.hash) return { ok: false, entries: i, lastHash: prev, problem: `${where}: content does not match its hash (the entry was altered)` };
    prev = entry.hash;
  }
  return { ok: true, entries: lines.length, lastHash: prev };
}

/**
 * The append-only, hash-chained audit trail (21 CFR Part 11: secure, computer-generated,
 * time-stamped, never hiding earlier values). Each entry carries the hash of the one before; an
 * entry is fsynced before the action it records is reported as done.
 */
export class AuditLog {
  private handle: FileHandle | undefined;
  private seq = 0;
  private lastHash = GENESIS;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly file: string) {}

  async open(): Promise<VerifyResult> {
    mkdirSync(path.dirname(this.file), { recursive: true });
    const verified = verifyAuditLog(this.file);
    this.seq = verified.entries;
    this.lastHash = verified.lastHash;
    this.handle = await open(this.file, 'a');
    return verified;
  }

  append(input: AuditInput): Promise<AuditEntry> {
    const next = this.queue.then(async () => {
      if (!this.handle) throw new Error('audit log is not open');
      const body = { seq: this.seq + 1, at: new Date().toISOString(), actor: input.actor, ...(input.printedName ? { printedName: input.printedName } : {}), action: input.action, target: input.target, details: input.details ?? {} };
      const entry: AuditEntry = { ...body, prev: this.lastHash, hash: digest(this.lastHash, body) };
      await this.handle.write(JSON.stringify(entry) + '\n');
      await this.handle.datasync();
      this.seq = entry.seq;
      this.lastHash = entry.hash;
      return entry;
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    await this.queue;
    await this.handle?.close();
    this.handle = undefined;
  }
}
