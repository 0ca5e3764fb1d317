import { appendFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../core/logger.js';
import { InfluxError, type InfluxClient } from '../storage/influx.js';
import type { Spool, SpoolPosition } from './spool.js';
import { receivedAtOf } from './records.js';
import { sleep } from '../core/sleep.js';

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
 * backoff, forever, because the spool is the only copy. InfluxDB's "partial write" 400s are the
 * exception: it stored the rest of the batch and will never accept the dropped points, so they
 * go to a dead-letter file and the batch counts as done.
 */
export class SpoolWriter {
  readonly stats: WriterStats = { pointsWritten: 0, pointsDropped: 0, batchesWritten: 0, failures: 0, latencies: [], state: 'idle' };
  private readonly abort = new AbortController();
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private position: SpoolPosition;

  constructor(
    private readonly spool: Spool,
    private readonly influx: InfluxClient,
    private readonly log: Logger,
    private readonly options: { batchBytes?: number; lingerMs: number; retryMaxMs: number; deadLetterFile: string },
  ) {
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
    let backoff = 100;
    const batchBytes = this.options.batchBytes ?? 2 * 1024 * 1024;
    let lastWriteAt = 0;
    while (!signal.aborted) {
      // Linger briefly when little is waiting: fewer, larger writes cost InfluxDB far less CPU
      // (and WAL fsyncs), which on a small machine is CPU the broker gets back.
      const sinceLastWrite = performance.now() - lastWriteAt;
      if (sinceLastWrite < this.options.lingerMs && this.spool.depth.bytes < batchBytes / 2) await sleep(this.options.lingerMs - sinceLastWrite, signal);
      const chunk = await this.spool.read(this.position, batchBytes);
      if (chunk.lines.length === 0) {
        this.stats.state = 'idle';
        this.stats.oldestPendingAt = undefined;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, 1000).unref();
        });
        this.wake = undefined;
        continue;
      }
      const body = chunk.lines.join('\n') + '\n';
      const points = chunk.lines.length;
      this.stats.oldestPendingAt = receivedAtOf(chunk.lines[0]!);
      for (;;) {
        if (signal.aborted) return;
        this.stats.state = 'writing';
        const started = performance.now();
        lastWriteAt = started;
        try {
          await this.influx.write(body);
          this.recordSuccess(points, started);
          backoff = 100;
          break;
        } catch (err) {
          if (err instanceof InfluxError && !err.retryable) {
            await this.deadLetter(err, body, points);
            break;
          }
          this.stats.failures++;
          this.stats.state = 'retrying';
          this.stats.lastError = (err as Error).message;
          this.log.warn({ err: (err as Error).message, retryInMs: backoff, pendingRecords: this.spool.depth.records }, 'InfluxDB write failed; will retry');
          await sleep(backoff, signal);
          backoff = Math.min(this.options.retryMaxMs, backoff * 2);
        }
      }
      await this.spool.confirm(chunk.next, points);
      this.position = chunk.next;
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

  private async deadLetter(err: InfluxError, body: string, points: number): Promise<void> {
    const dropped = Number(/dropped=(\d+)/.exec(err.message)?.[1] ?? points);
    this.stats.pointsDropped += dropped;
    this.stats.pointsWritten += Math.max(0, points - dropped);
    this.stats.lastError = err.message;
    this.log.error({ err: err.message, dropped }, 'InfluxDB refused points for good; batch written to the dead-letter file');
    await appendFile(this.options.deadLetterFile, JSON.stringify({ at: new Date().toISOString(), error: err.message, lines: body }) + '\n');
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
