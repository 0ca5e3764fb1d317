import { createHash } from 'node:crypto';
import { closeSync, createReadStream, existsSync, fstatSync, mkdirSync, openSync, readSync } from 'node:fs';
import { open, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
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
  return createHash('sha256')
    .update(prev)
    .update(JSON.stringify({ seq, at, actor, printedName: printedName ?? null, action, target, details }))
    .digest('hex');
}

export const auditFile = (dataDir: string) => path.join(dataDir, 'audit', 'audit.ndjson');

export interface VerifyResult {
  ok: boolean;
  entries: number;
  lastHash: string;
  problem?: string;
  /** Bytes after the last newline: an append cut off by a crash (never acknowledged, so never a record). */
  tornTail?: { offset: number; bytes: number };
}

/** Read this much at a time: the trail is verified line by line, never held whole in memory. */
const CHUNK_BYTES = 1024 * 1024;
/** Our entries are well under a kilobyte; a longer "line" is damage, not an entry to buffer. */
const MAX_LINE_BYTES = 16 * 1024 * 1024;

/**
 * Calls `onLine` with each complete line (without its newline) and the byte offset where it
 * starts; returns the offset just past the last newline and the file's size. Stops early when
 * `onLine` returns false. Synchronous so that `audit verify` and the service's start share it.
 */
function forEachLine(
  file: string,
  onLine: (line: Buffer, offset: number, lineNo: number) => boolean | string,
): { end: number; size: number; stopped?: string } {
  const fd = openSync(file, 'r');
  try {
    const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let position = 0;
    let lineStart = 0;
    let lineNo = 0;
    for (;;) {
      const read = readSync(fd, chunk, 0, CHUNK_BYTES, position);
      if (read === 0) return { end: lineStart, size: position };
      let from = 0;
      for (let nl = chunk.indexOf(10, from); nl !== -1 && nl < read; nl = chunk.indexOf(10, from)) {
        const piece = chunk.subarray(from, nl);
        const line = pending.length > 0 ? Buffer.concat([...pending, piece]) : piece;
        pending = [];
        pendingBytes = 0;
        lineNo++;
        const verdict = onLine(line, lineStart, lineNo);
        if (verdict !== true) return { end: lineStart, size: position + read, stopped: typeof verdict === 'string' ? verdict : undefined };
        lineStart = position + nl + 1;
        from = nl + 1;
      }
      if (from < read) {
        pendingBytes += read - from;
        if (pendingBytes > MAX_LINE_BYTES)
          return { end: lineStart, size: position + read, stopped: `${file}:${lineNo + 1}: a line longer than ${MAX_LINE_BYTES} bytes is not an audit entry` };
        pending.push(Buffer.from(chunk.subarray(from, read)));
      }
      position += read;
    }
  } finally {
    closeSync(fd);
  }
}

/** The bytes after the last newline, when the file does not end with one (found from the end, not by reading it all). */
function tornTailOf(file: string): { offset: number; bytes: number } | undefined {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const chunk = Buffer.alloc(64 * 1024);
    for (let end = size; end > 0; ) {
      const start = Math.max(0, end - chunk.length);
      const read = readSync(fd, chunk, 0, end - start, start);
      const nl = chunk.subarray(0, read).lastIndexOf(10);
      if (nl !== -1) return start + nl + 1 === size ? undefined : { offset: start + nl + 1, bytes: size - (start + nl + 1) };
      end = start;
    }
    return size > 0 ? { offset: 0, bytes: size } : undefined;
  } finally {
    closeSync(fd);
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Re-computes the chain: an altered, inserted or removed entry breaks it at that line. */
export function verifyAuditLog(file: string): VerifyResult {
  if (!existsSync(file)) return { ok: true, entries: 0, lastHash: GENESIS };
  let prev = GENESIS;
  let entries = 0;
  let problem: string | undefined;
  const scan = forEachLine(file, (raw, _offset, lineNo) => {
    if (raw.length === 0) return true;
    const where = `${file}:${lineNo}`;
    let entry: AuditEntry;
    try {
      entry = auditEntrySchema.parse(JSON.parse(raw.toString('utf8')));
    } catch {
      problem = `${where}: not a valid audit entry`;
      return false;
    }
    if (entry.seq !== entries + 1) problem = `${where}: sequence ${entry.seq} where ${entries + 1} was expected (an entry was removed or inserted)`;
    else if (entry.prev !== prev) problem = `${where}: does not chain to the entry before it (an entry was removed or altered)`;
    else if (digest(prev, entry) !== entry.hash) problem = `${where}: content does not match its hash (the entry was altered)`;
    if (problem) return false;
    prev = entry.hash;
    entries++;
    return true;
  });
  problem ??= scan.stopped;
  if (problem) return { ok: false, entries, lastHash: prev, problem };
  if (scan.size > scan.end) {
    const tornTail = { offset: scan.end, bytes: scan.size - scan.end };
    return {
      ok: false,
      entries,
      lastHash: prev,
      tornTail,
      problem: `${file}: ${tornTail.bytes} bytes after the last complete entry (an append cut off by a crash; the service removes them at its next start and records it)`,
    };
  }
  return { ok: true, entries, lastHash: prev };
}

/** What a review asks for: all given filters must match. */
export interface AuditFilter {
  /** Epoch ms, inclusive. */
  from?: number;
  /** Epoch ms, exclusive. */
  to?: number;
  /** The user name (or "system"), exactly. */
  actor?: string;
  /** The action code exactly, or its leading dotted part(s): `alert` matches `alert.acknowledge`. */
  action?: string;
  /** The target exactly. */
  target?: string;
}

export function auditEntryMatches(entry: AuditEntry, filter: AuditFilter): boolean {
  if (filter.actor !== undefined && entry.actor !== filter.actor) return false;
  if (filter.action !== undefined && entry.action !== filter.action && !entry.action.startsWith(`${filter.action}.`)) return false;
  if (filter.target !== undefined && entry.target !== filter.target) return false;
  if (filter.from !== undefined || filter.to !== undefined) {
    const at = Date.parse(entry.at);
    if (filter.from !== undefined && !(at >= filter.from)) return false;
    if (filter.to !== undefined && !(at < filter.to)) return false;
  }
  return true;
}

/**
 * Every entry of the trail in order, read as a stream (never the whole file at once). Lines that
 * are no entry (damage, a torn tail) are skipped here: `verifyAuditLog` is what names them.
 */
export async function* readAuditEntries(file: string): AsyncGenerator<AuditEntry> {
  if (!existsSync(file)) return;
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8', highWaterMark: 256 * 1024 }), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    if (line.length === 0 || line.length > MAX_LINE_BYTES) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      continue;
    }
    const entry = auditEntrySchema.safeParse(parsed);
    if (entry.success) yield entry.data;
  }
}

/**
 * The newest `limit` entries that match, newest first, and how many matched in all. The trail is
 * streamed once; only the newest `limit` matches are held.
 */
export async function reviewAuditLog(file: string, filter: AuditFilter, limit: number): Promise<{ entries: AuditEntry[]; matched: number }> {
  const ring: AuditEntry[] = [];
  let matched = 0;
  for await (const entry of readAuditEntries(file)) {
    if (!auditEntryMatches(entry, filter)) continue;
    ring[matched % limit] = entry;
    matched++;
  }
  const start = matched % limit;
  const ordered = matched <= limit ? ring : [...ring.slice(start), ...ring.slice(0, start)];
  return { entries: ordered.reverse(), matched };
}

/** The entry with this sequence number, if the trail holds it (streamed). */
export async function auditEntryAt(file: string, seq: number): Promise<AuditEntry | undefined> {
  for await (const entry of readAuditEntries(file)) if (entry.seq === seq) return entry;
  return undefined;
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

  /** The last entry's sequence number and hash (what the InfluxDB anchor records). */
  get head(): { seq: number; hash: string } {
    return { seq: this.seq, hash: this.lastHash };
  }

  /**
   * Verifies the trail and opens it for appending. A crash in the middle of an append leaves a
   * partial last line: that entry was never acknowledged (the caller hears "done" only after the
   * whole line is fsynced), so it is no record. It is cut off, its bytes kept beside the trail
   * (nothing that was written is hidden), and an `audit.recovered` entry says so; otherwise the
   * next entry would be glued onto it and the trail would fail verification for ever.
   */
  async open(): Promise<VerifyResult> {
    mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const verified = verifyAuditLog(this.file);
    const torn = existsSync(this.file) ? tornTailOf(this.file) : undefined;
    this.seq = verified.entries;
    this.lastHash = verified.lastHash;
    // Only the owner reads the trail: it names users, addresses and what they did.
    this.handle = await open(this.file, 'a+', 0o600);
    // Larger than any entry: not an interrupted append but damage, left for `audit verify` to name.
    if (!torn || torn.bytes > MAX_LINE_BYTES) return verified;
    const fragment = Buffer.alloc(torn.bytes);
    await this.handle.read(fragment, 0, torn.bytes, torn.offset);
    const keptIn = `${this.file}.torn-${torn.offset}`;
    await writeFile(keptIn, fragment, { mode: 0o600, flush: true });
    await this.handle.truncate(torn.offset);
    await this.handle.datasync();
    await syncDirectory(path.dirname(this.file));
    await this.append({
      actor: 'system',
      action: 'audit.recovered',
      target: path.basename(this.file),
      details: {
        truncatedBytes: torn.bytes,
        atOffset: torn.offset,
        sha256: createHash('sha256').update(fragment).digest('hex'),
        keptIn: path.basename(keptIn),
        reason: 'partial last line left by an interrupted append (never acknowledged)',
      },
    });
    // Whatever else the verification found still stands; the torn tail itself is repaired.
    return verified.tornTail ? { ok: true, entries: this.seq, lastHash: this.lastHash } : verified;
  }

  append(input: AuditInput): Promise<AuditEntry> {
    const next = this.queue.then(async () => {
      if (!this.handle) throw new Error('audit log is not open');
      const body = {
        seq: this.seq + 1,
        at: new Date().toISOString(),
        actor: input.actor,
        ...(input.printedName ? { printedName: input.printedName } : {}),
        action: input.action,
        target: input.target,
        details: input.details ?? {},
      };
      const entry: AuditEntry = { ...body, prev: this.lastHash, hash: digest(this.lastHash, body) };
      await this.handle.write(`${JSON.stringify(entry)}\n`);
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
