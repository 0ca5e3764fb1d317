import { EventEmitter } from 'node:events';
import { mkdirSync, readdirSync, statSync, readFileSync, existsSync } from 'node:fs';
import { open, rename, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { fsyncDir } from '../core/durable.js';
import type { Logger } from '../core/logger.js';

/** Where the writer has got to: everything before (segment, offset) is confirmed by InfluxDB. */
export interface SpoolPosition {
  segment: number;
  offset: number;
}

/**
 * Committed records as read from a segment: the bytes end with a newline and are what the writer
 * sends to InfluxDB as they are; `lines` (decoded and split) only for whoever needs strings.
 */
export class SpoolChunk {
  constructor(
    readonly bytes: Buffer,
    readonly records: number,
    readonly next: SpoolPosition,
  ) {}

  get lines(): string[] {
    return this.bytes.length === 0 ? [] : this.bytes.toString('utf8', 0, this.bytes.length - 1).split('\n');
  }
}

const NO_BYTES = Buffer.alloc(0);

/** A commit group's buffer starts this large and doubles as needed. */
const GROUP_BUFFER_BYTES = 64 * 1024;
/** A buffer larger than this (a burst) is not kept for the next group. */
const SPARE_BUFFER_MAX_BYTES = 4 * 1024 * 1024;

interface CommitGroup {
  /** Each append encoded here as it comes, newline-terminated: what write(2) gets, with no join or copy. */
  buffer: Buffer;
  used: number;
  records: number;
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
}

const SEGMENT_SUFFIX = '.seg';
const segmentName = (id: number) => `${String(id).padStart(12, '0')}${SEGMENT_SUFFIX}`;

function newGroup(buffer: Buffer): CommitGroup {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A failed fsync rejects every waiter; the promise itself must not crash the process when unobserved.
  promise.catch(() => undefined);
  return { buffer, used: 0, records: 0, promise, resolve, reject };
}

/**
 * A durable append-only log of newline-delimited records (InfluxDB line protocol) in numbered
 * segment files.
 *
 * `append` resolves only after the bytes are written and fdatasync'ed (group commit: every
 * append that arrives while one fsync runs joins the next one), which is what lets the broker
 * send PUBACK as a promise that the reading survives a crash. The writer reads committed bytes
 * back and calls `confirm` once InfluxDB has them; whole confirmed segments are deleted.
 */
export class Spool extends EventEmitter {
  private active!: { id: number; handle: FileHandle; size: number };
  private readonly sealedSizes = new Map<number, number>();
  /** The buffer of the last group written, reused by the next group but one (no allocation per commit). */
  private spare: Buffer | undefined;
  private group = newGroup(Buffer.allocUnsafe(GROUP_BUFFER_BYTES));
  /** The commit group being written and fsync'ed, if any. */
  private writing: Promise<void> | undefined;
  private flushing = false;
  private flushScheduled = false;
  private closed = false;
  private cursor: SpoolPosition = { segment: 0, offset: 0 };
  private pendingRecords = 0;
  private failure: Error | undefined;

  constructor(
    readonly dir: string,
    private readonly segmentBytes: number,
    private readonly log: Logger,
  ) {
    super();
  }

  async open(): Promise<void> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const ids = readdirSync(this.dir)
      .filter((f) => f.endsWith(SEGMENT_SUFFIX))
      .map((f) => Number.parseInt(f, 10))
      .filter(Number.isFinite)
      .sort((a, b) => a - b);
    this.cursor = this.readCursor(ids[0] ?? 1);
    if (!ids.includes(this.cursor.segment)) {
      // The cursor's segment is gone (removed by hand): never skip into a new file's bytes.
      const next = ids.find((id) => id > this.cursor.segment) ?? (ids.at(-1) ?? this.cursor.segment) + 1;
      if (this.cursor.offset > 0) this.log.warn({ cursor: this.cursor, next }, 'spool cursor points at a missing segment; resuming at the next one');
      this.cursor = { segment: next, offset: 0 };
    }
    for (const id of ids) {
      if (id < this.cursor.segment) {
        await unlink(path.join(this.dir, segmentName(id)));
        continue;
      }
      const file = path.join(this.dir, segmentName(id));
      const size = statSync(file).size;
      this.sealedSizes.set(id, size);
      this.pendingRecords += this.countLines(file, id === this.cursor.segment ? this.cursor.offset : 0);
    }
    // Appends always go to a fresh segment, so a torn tail from a crash stays in a sealed one
    // where the reader skips it; those bytes were never fsync'ed, hence never acknowledged.
    const nextId = (ids.at(-1) ?? this.cursor.segment - 1) + 1;
    await this.openSegment(Math.max(nextId, this.cursor.segment));
    if (this.pendingRecords > 0) this.log.info({ records: this.pendingRecords, segments: this.sealedSizes.size }, 'spool recovered unconfirmed records');
  }

  private readCursor(firstSegment: number): SpoolPosition {
    const file = path.join(this.dir, 'cursor.json');
    if (!existsSync(file)) return { segment: firstSegment, offset: 0 };
    try {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as SpoolPosition;
      if (Number.isInteger(parsed.segment) && Number.isInteger(parsed.offset)) return parsed;
    } catch {
      // fall through: a damaged cursor only means resending confirmed readings, which is idempotent
    }
    this.log.warn({ file }, 'spool cursor unreadable; replaying from the oldest segment');
    return { segment: firstSegment, offset: 0 };
  }

  private countLines(file: string, from: number): number {
    const bytes = readFileSync(file);
    let count = 0;
    for (let i = bytes.indexOf(10, from); i !== -1; i = bytes.indexOf(10, i + 1)) count++;
    return count;
  }

  private async openSegment(id: number): Promise<void> {
    const handle = await open(path.join(this.dir, segmentName(id)), 'a', 0o600);
    fsyncDir(this.dir);
    this.active = { id, handle, size: 0 };
  }

  /** Resolves once `text` (`lines` newline-separated records, no trailing newline) is on disk. */
  append(text: string, lines = 1): Promise<void> {
    if (this.closed) return Promise.reject(new Error('spool is closed'));
    if (this.failure) return Promise.reject(this.failure);
    const group = this.group;
    // Encoded now, into the group's buffer: no string kept per append, nothing joined at flush.
    let room = group.buffer.length - group.used;
    if (text.length * 3 + 1 > room) {
      const need = Buffer.byteLength(text, 'utf8') + 1;
      if (need > room) {
        const grown = Buffer.allocUnsafe(Math.max(group.buffer.length * 2, group.used + need));
        group.buffer.copy(grown, 0, 0, group.used);
        group.buffer = grown;
        room = grown.length - group.used;
      }
    }
    group.used += group.buffer.write(text, group.used, room, 'utf8');
    group.buffer[group.used++] = 10;
    group.records += lines;
    if (!this.flushing && !this.flushScheduled) {
      this.flushScheduled = true;
      // setImmediate lets every publish parsed from the same socket reads join this commit.
      setImmediate(() => void this.flush());
    }
    return group.promise;
  }

  /**
   * The commit group's buffer with room for `maxBytes` after `written`, for records written into it
   * in place (newline-terminated, as `append` stores them), then `commitWritten`: no string made,
   * flattened and encoded per append. Nothing else may append in between (both within one call).
   */
  reserve(maxBytes: number): Buffer {
    const group = this.group;
    if (group.buffer.length - group.used < maxBytes) {
      const grown = Buffer.allocUnsafe(Math.max(group.buffer.length * 2, group.used + maxBytes));
      group.buffer.copy(grown, 0, 0, group.used);
      group.buffer = grown;
    }
    return group.buffer;
  }

  /** Where records written into `reserve`'s buffer start. */
  get written(): number {
    return this.group.used;
  }

  /** Takes the `records` written into `reserve`'s buffer up to `end`; resolves once they are on disk, as `append` does. */
  commitWritten(end: number, records: number): Promise<void> {
    if (this.closed) return Promise.reject(new Error('spool is closed'));
    if (this.failure) return Promise.reject(this.failure);
    const group = this.group;
    if (end < group.used || end > group.buffer.length) throw new Error(`spool: records written up to ${end}, outside the reserved room`);
    group.used = end;
    group.records += records;
    if (!this.flushing && !this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => void this.flush());
    }
    return group.promise;
  }

  /** Resolves once everything appended so far is on disk (a message that adds nothing waits for what it repeats). */
  durable(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('spool is closed'));
    if (this.failure) return Promise.reject(this.failure);
    if (this.group.used > 0) return this.group.promise;
    return this.writing ?? Promise.resolve();
  }

  private async flush(): Promise<void> {
    this.flushScheduled = false;
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.group.used > 0) {
        const group = this.group;
        this.group = newGroup(this.takeSpare());
        this.writing = group.promise;
        try {
          const data = group.buffer.subarray(0, group.used);
          // write(2) may write less than asked (a nearly full disk): loop, or fail, never ack a short write.
          for (let written = 0; written < data.length; ) {
            const { bytesWritten } = await this.active.handle.write(data, written, data.length - written, null);
            if (bytesWritten <= 0) throw new Error('short write to the spool');
            written += bytesWritten;
          }
          await this.active.handle.datasync();
          this.active.size += data.length;
          this.pendingRecords += group.records;
          if (group.buffer.length <= SPARE_BUFFER_MAX_BYTES) this.spare = group.buffer;
          group.resolve();
          if (this.writing === group.promise) this.writing = undefined;
          this.emit('committed');
          if (this.active.size >= this.segmentBytes) await this.rotate();
        } catch (err) {
          // A disk that cannot fsync cannot promise durability: refuse further appends, loudly.
          this.failure = new Error(`spool write failed: ${(err as Error).message}`);
          this.log.fatal({ err }, 'spool write failed; readings are no longer acknowledged');
          group.reject(this.failure);
          this.group.reject(this.failure);
          this.emit('failed', this.failure);
          return;
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  private takeSpare(): Buffer {
    const spare = this.spare;
    this.spare = undefined;
    return spare ?? Buffer.allocUnsafe(GROUP_BUFFER_BYTES);
  }

  private async rotate(): Promise<void> {
    const sealed = this.active;
    // Readers see either the old segment as active or the new one, never a closed handle.
    await this.openSegment(sealed.id + 1);
    this.sealedSizes.set(sealed.id, sealed.size);
    await sealed.handle.close();
  }

  /** Reads committed records from `from`, at most about `maxBytes`. */
  async read(from: SpoolPosition, maxBytes: number): Promise<SpoolChunk> {
    let position = { ...from };
    for (;;) {
      const isActive = position.segment === this.active.id;
      const size = isActive ? this.active.size : this.sealedSizes.get(position.segment);
      if (size === undefined) {
        // Segment gone or never existed: skip ahead to the next one we know.
        const later = [...this.sealedSizes.keys(), this.active.id].filter((id) => id > position.segment).sort((a, b) => a - b)[0];
        if (later === undefined) return new SpoolChunk(NO_BYTES, 0, position);
        position = { segment: later, offset: 0 };
        continue;
      }
      if (position.offset >= size) {
        if (isActive) return new SpoolChunk(NO_BYTES, 0, position);
        position = { segment: position.segment + 1, offset: 0 };
        continue;
      }
      const length = Math.min(maxBytes, size - position.offset);
      // A handle of its own: the append handle may be closed by a rotation while we read.
      const handle = await open(path.join(this.dir, segmentName(position.segment)), 'r');
      try {
        const buffer = Buffer.allocUnsafe(length);
        const { bytesRead } = await handle.read(buffer, 0, length, position.offset);
        const lastNewline = buffer.lastIndexOf(10, bytesRead - 1);
        if (lastNewline === -1) {
          if (bytesRead < size - position.offset) {
            // One record larger than maxBytes: read it whole rather than stall.
            return this.read(position, maxBytes * 2);
          }
          this.log.warn({ segment: position.segment, offset: position.offset, bytes: bytesRead }, 'skipping torn tail of a spool segment (never acknowledged)');
          position = { segment: position.segment, offset: size };
          continue;
        }
        // Handed on as bytes: the writer sends them as they are; only the records are counted here.
        let records = 0;
        for (let i = buffer.indexOf(10); i !== -1 && i <= lastNewline; i = buffer.indexOf(10, i + 1)) records++;
        return new SpoolChunk(buffer.subarray(0, lastNewline + 1), records, { segment: position.segment, offset: position.offset + lastNewline + 1 });
      } finally {
        await handle.close();
      }
    }
  }

  get start(): SpoolPosition {
    return { ...this.cursor };
  }

  /** Records up to `position` are in InfluxDB: persist the cursor and drop finished segments. */
  async confirm(position: SpoolPosition, records: number): Promise<void> {
    this.cursor = { ...position };
    this.pendingRecords = Math.max(0, this.pendingRecords - records);
    const file = path.join(this.dir, 'cursor.json');
    await writeFile(`${file}.tmp`, JSON.stringify(this.cursor), { flush: true });
    await rename(`${file}.tmp`, file);
    for (const id of [...this.sealedSizes.keys()]) {
      if (id < position.segment) {
        this.sealedSizes.delete(id);
        await unlink(path.join(this.dir, segmentName(id))).catch(() => undefined);
      }
    }
  }

  get depth(): { records: number; bytes: number } {
    let bytes = this.active.size;
    for (const size of this.sealedSizes.values()) bytes += size;
    return { records: this.pendingRecords, bytes: Math.max(0, bytes - this.cursor.offset) };
  }

  get healthy(): boolean {
    return !this.failure && !this.closed;
  }

  /** Waits for in-flight commits, then closes the active segment. */
  async close(): Promise<void> {
    if (this.closed) return;
    while (this.flushing || this.flushScheduled || this.group.used > 0) {
      if (!this.flushing && !this.flushScheduled) await this.flush();
      else await new Promise((r) => setImmediate(r));
    }
    this.closed = true;
    await this.active.handle.close();
  }
}
