import { open } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../core/logger.js';
import { InfluxError, type InfluxClient } from '../storage/influx.js';
import type { Spool, SpoolPosition } from './spool.js';
import { DEFERRED_MARK, receivedAtOf } from './records.js';
import { StoredReadingCheck, type ResolvedBatch } from './stored-readings.js';
import { sleep } from '../core/sleep.js';

/** A deferred line starts with the mark: first in the chunk, or right after a newline. */
const DEFERRED_BYTE = DEFERRED_MARK.charCodeAt(0);
const NEWLINE_DEFERRED = Buffer.from(`\n${DEFERRED_MARK}`);

export interface WriterStats {
  pointsWritten: number;
  pointsDropped: number;
  batchesWritten: number;
  failures: number;
  /** Seconds per successful /write, for the latency histogram. */
  latencies: number[];
  lastError?: string;
  lastSuccessAt?: number;
  /** Server receive time of the oldest record not yet confirmed, when known. */
  oldestPendingAt?: number;
  state: 'idle' | 'writing' | 'retrying' | 'stopped';
}

/**
 * Drains the spool into InfluxDB in large batches. A batch is confirmed (and its spool bytes
 * released) only after InfluxDB answered 204; anything else is retried with capped exponential
 * backoff, forever, because the spool is the only copy. Points InfluxDB refuses for good (a type
 * conflict, a malformed line) are the exception: they are isolated and kept in a dead-letter file.
 */
export class SpoolWriter {
  readonly stats: WriterStats = { pointsWritten: 0, pointsDropped: 0, batchesWritten: 0, failures: 0, latencies: [], state: 'idle' };
  private readonly abort = new AbortController();
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private position: SpoolPosition;
  private readonly stored: StoredReadingCheck;

  constructor(
    private readonly spool: Spool,
    private readonly influx: InfluxClient,
    private readonly log: Logger,
    private readonly options: {
      batchBytes?: number;
      lingerMs: number;
      retryMaxMs: number;
      deadLetterFile: string;
      ensureDatabase?: () => Promise<unknown>;
      /** Different readings found at stored device times (written as revisions, recorded), once their batch is written. */
      onConflicts?: (count: number) => void;
      /** The line-protocol bytes InfluxDB confirmed, before the spool forgets them (the report cache's marks, reports/hour-marks.ts); must not throw. */
      onWritten?: (bytes: Buffer) => void;
    },
  ) {
    this.stored = new StoredReadingCheck(influx);
    this.position = spool.start;
    spool.on('committed', () => this.wake?.());
  }

  start(): void {
    this.loop ??= this.supervise();
  }

  /** A failure reading the spool (a disk error, a file removed by hand) must not end draining for good. */
  private async supervise(): Promise<void> {
    while (!this.abort.signal.aborted) {
      try {
        await this.run();
      } catch (err) {
        this.stats.lastError = (err as Error).message;
        this.log.error({ err }, 'spool writer failed; restarting in 1 s from the last confirmed position');
        this.position = this.spool.start;
        await sleep(1000, this.abort.signal);
      }
    }
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    const batchBytes = this.options.batchBytes ?? 2 * 1024 * 1024;
    let lastWriteAt = 0;
    while (!signal.aborted) {
      // Linger briefly when little is waiting: fewer, larger writes cost InfluxDB far less CPU
      // (and WAL fsyncs), which on a small machine is CPU the broker gets back.
      const sinceLastWrite = performance.now() - lastWriteAt;
      if (sinceLastWrite < this.options.lingerMs && this.spool.depth.bytes < batchBytes / 2) await sleep(this.options.lingerMs - sinceLastWrite, signal);
      const chunk = await this.spool.read(this.position, batchBytes);
      if (chunk.records === 0) {
        this.stats.state = 'idle';
        this.stats.oldestPendingAt = undefined;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, 1000).unref();
        });
        this.wake = undefined;
        continue;
      }
      const bytes = chunk.bytes;
      this.stats.oldestPendingAt = receivedAtOf(bytes.toString('utf8', 0, bytes.indexOf(10)));
      lastWriteAt = performance.now();
      // Readings the pipeline could not check in memory are decided against what InfluxDB holds (one
      // query a batch); only such a batch is decoded into lines. Any other is sent as the bytes read.
      const deferred = bytes[0] === DEFERRED_BYTE || bytes.includes(NEWLINE_DEFERRED);
      const resolved = deferred ? await this.resolve(chunk.lines, signal) : { lines: bytes, conflicts: 0 };
      if (!resolved) return;
      const delivered =
        resolved.lines.length === 0 || (await this.deliver(resolved.lines, signal, Array.isArray(resolved.lines) ? resolved.lines.length : chunk.records));
      if (!delivered) return;
      // The report cache's marks read what was sent: the bytes as read, or a decided batch's lines (rare) encoded again.
      if (this.options.onWritten) this.options.onWritten(Array.isArray(resolved.lines) ? Buffer.from(resolved.lines.join('\n')) : bytes);
      if (resolved.conflicts > 0) this.options.onConflicts?.(resolved.conflicts);
      await this.spool.confirm(chunk.next, chunk.records);
      this.position = chunk.next;
    }
  }

  /** The batch with its deferred readings decided; retried like a write while InfluxDB cannot answer. Undefined when stopped meanwhile. */
  private async resolve(lines: string[], signal: AbortSignal): Promise<ResolvedBatch | undefined> {
    let backoff = 100;
    for (;;) {
      if (signal.aborted) return undefined;
      try {
        return await this.stored.resolve(lines);
      } catch (err) {
        // A refused lookup is a bug of ours, not of the data: thrown, so the writer restarts from the cursor (and says so).
        if (err instanceof InfluxError && !err.retryable) throw err;
        this.stats.failures++;
        this.stats.state = 'retrying';
        this.stats.lastError = (err as Error).message;
        this.log.warn({ err: (err as Error).message, retryInMs: backoff }, 'InfluxDB lookup of stored readings failed; will retry');
        await sleep(backoff, signal);
        backoff = Math.min(this.options.retryMaxMs, backoff * 2);
      }
    }
  }

  /**
   * Writes lines until InfluxDB has taken them or refused them for good. Refusals (a partial
   * write, a 413 from a proxy's body limit, a 400) split the batch in halves, down to single
   * lines: points are idempotent, so rewriting the good ones costs nothing, and only a line
   * refused on its own goes to the dead-letter file. False when stopped meanwhile. `batch` is lines,
   * or the spool's bytes as read (`records` lines, newline-terminated), sent without being decoded.
   */
  private async deliver(batch: string[] | Buffer, signal: AbortSignal, records: number): Promise<boolean> {
    let backoff = 100;
    for (;;) {
      if (signal.aborted) return false;
      this.stats.state = 'writing';
      const started = performance.now();
      try {
        await this.influx.write(Array.isArray(batch) ? `${batch.join('\n')}\n` : batch);
        this.recordSuccess(records, started);
        return true;
      } catch (err) {
        if (err instanceof InfluxError && !err.retryable) {
          // Lines are made only now, to find the ones refused (bytes as read end with a newline).
          const lines = Array.isArray(batch) ? batch : batch.toString('utf8', 0, batch.length - 1).split('\n');
          if (lines.length === 1) {
            await this.deadLetter(err, lines[0]!);
            return true;
          }
          const half = Math.ceil(lines.length / 2);
          this.log.warn({ err: err.message, lines: lines.length }, 'InfluxDB refused a batch; writing it in halves to find the lines it refuses');
          return (await this.deliver(lines.slice(0, half), signal, half)) && this.deliver(lines.slice(half), signal, lines.length - half);
        }
        this.stats.failures++;
        this.stats.state = 'retrying';
        this.stats.lastError = (err as Error).message;
        if (err instanceof InfluxError && err.kind === 'not_found' && this.options.ensureDatabase) {
          // InfluxDB was not there when the service started, or the database was dropped since.
          await this.options.ensureDatabase().then(
            () => this.log.info('created the InfluxDB database and retention policy'),
            (e: Error) => this.log.warn({ err: e.message }, 'could not create the InfluxDB database yet'),
          );
        }
        this.log.warn({ err: (err as Error).message, retryInMs: backoff, pendingRecords: this.spool.depth.records }, 'InfluxDB write failed; will retry');
        await sleep(backoff, signal);
        backoff = Math.min(this.options.retryMaxMs, backoff * 2);
      }
    }
  }

  private recordSuccess(points: number, started: number): void {
    const seconds = (performance.now() - started) / 1000;
    this.stats.pointsWritten += points;
    this.stats.batchesWritten++;
    this.stats.lastSuccessAt = Date.now();
    if (this.stats.latencies.length < 10_000) this.stats.latencies.push(seconds);
    this.stats.lastError = undefined;
  }

  /** The line is on disk (fsync'ed, and the file's name too when this created it) before the spool may forget it. */
  private async deadLetter(err: InfluxError, line: string): Promise<void> {
    this.stats.pointsDropped++;
    this.stats.lastError = err.message;
    this.log.error({ err: err.message, line: line.slice(0, 300) }, 'InfluxDB refused a point for good; it is kept in the dead-letter file');
    const file = await open(this.options.deadLetterFile, 'a');
    let created: boolean;
    try {
      created = (await file.stat()).size === 0;
      await file.appendFile(`${JSON.stringify({ at: new Date().toISOString(), error: err.message, lines: line })}\n`);
      await file.sync();
    } finally {
      await file.close();
    }
    if (created) {
      // A new file's directory entry is not covered by the file's own fsync.
      const dir = await open(path.dirname(this.options.deadLetterFile), 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    }
  }

  /** Takes the collected latencies (for the metrics histogram). */
  drainLatencies(): number[] {
    return this.stats.latencies.splice(0);
  }

  get caughtUp(): boolean {
    return this.spool.depth.records === 0;
  }

  /** Waits until the spool is empty or `timeoutMs` passes; true when empty. */
  async flush(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.caughtUp && Date.now() < deadline) {
      this.wake?.();
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.caughtUp;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.wake?.();
    await this.loop;
    this.stats.state = 'stopped';
  }
}

export const deadLetterPath = (dataDir: string) => path.join(dataDir, 'dead-letter.ndjson');
