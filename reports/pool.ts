import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { compiledWorker } from '../core/compiled-worker.js';
import type { Config } from '../core/config/schema.js';
import type { Logger } from '../core/logger.js';
import { Refusal } from '../core/refusal.js';
import type { InfluxTarget } from '../storage/influx.js';
import { failureError, type BuiltReport, type ReportJob } from './jobs.js';
import type { WorkerReply, WorkerRequest } from './report-worker.js';
import type { RangeVersion } from './range-versions.js';
import type { HourMarksHandle } from './hour-marks.js';

/**
 * Reports are built off the main thread (issue 12, item 5): a year of readings decoded, analysed
 * and rendered on the thread that acknowledges devices held their PUBACKs for seconds. A small
 * pool of worker threads takes the jobs; a short queue waits for them; beyond it a request is
 * refused at once (429 with Retry-After) rather than piling up.
 */

/** Default worker count: half the cores (1 on 2 cores), at most 4; the main thread keeps the rest. */
export const defaultReportWorkers = () => Math.max(1, Math.min(4, Math.floor(availableParallelism() / 2)));

/** Every worker is busy and the queue is full: 429, and when to try again. */
export class ReportsBusyError extends Refusal<429> {
  constructor(
    readonly running: number,
    readonly queued: number,
    readonly retryAfterSeconds: number,
  ) {
    super(
      `${running} report(s) are being built and ${queued} are waiting, the most this service takes at once (reports.workers ${running}, reports.queue ${queued}); try again in ${retryAfterSeconds} s`,
      429,
      'reports_busy',
      { 'Retry-After': String(retryAfterSeconds) },
    );
    this.name = 'ReportsBusyError';
  }
}

/** A report that took longer than `reports.timeout`, or whose worker died (its worker is replaced), or a service stopping: 503. */
export class ReportFailedError extends Refusal<503> {
  constructor(message: string, code: 'report_timeout' | 'report_worker_failed' | 'shutting_down') {
    super(message, 503, code);
    this.name = 'ReportFailedError';
  }
}

export interface ReportLimits {
  /** Requests waiting for a worker beyond those being built. */
  queue: number;
  maxRows: number;
  timeoutMs: number;
}

interface Pending {
  job: ReportJob;
  resolve: (built: BuiltReport) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  configVersion: number;
  current?: { id: number; pending: Pending; started: number; timer: NodeJS.Timeout };
}

/** The pool as the configuration's `reports` section sets it up (read when asked, so a reload counts for the limits). */
export function configuredReportPool(deps: {
  config: () => Config;
  influx: InfluxTarget;
  log: Logger;
  ranges?: () => RangeVersion[];
  /** Where the workers keep whole hours of readings and their aggregates (bucket-cache.ts); absent: every report reads InfluxDB. */
  buckets?: string;
  /** The writer's marks (hour-marks.ts): absent where this process is not InfluxDB's only writer (a cluster). */
  marks?: HourMarksHandle;
}): ReportPool {
  const settings = () => deps.config().reports;
  return new ReportPool({
    size: settings().workers ?? defaultReportWorkers(),
    influx: deps.influx,
    config: deps.config,
    limits: () => ({ queue: settings().queue, maxRows: settings().maxRows, timeoutMs: settings().timeout }),
    log: deps.log,
    ...(deps.ranges ? { ranges: deps.ranges } : {}),
    ...(deps.buckets ? { buckets: deps.buckets } : {}),
    ...(deps.marks ? { marks: deps.marks } : {}),
  });
}

export class ReportPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;
  /** Moving average of how long a report takes, for Retry-After. */
  private averageMs = 5_000;
  private readonly configVersions = new WeakMap<Config, number>();
  private versions = 0;

  constructor(
    private readonly options: {
      size: number;
      influx: InfluxTarget;
      config: () => Config;
      limits: () => ReportLimits;
      log: Logger;
      /** The profiles' recorded range versions, sent with every job (a few entries). */
      ranges?: () => RangeVersion[];
      /** The bucket cache's directory (bucket-cache.ts), shared by the workers. */
      buckets?: string;
      /** Shared memory, not copied: the workers see the writer's marks as they are made. */
      marks?: HourMarksHandle;
    },
  ) {}

  get size(): number {
    return this.options.size;
  }

  get stats() {
    return { workers: this.slots.length, running: this.slots.filter((s) => s.current).length, queued: this.queue.length };
  }

  /** Builds a report in a worker; refuses at once (ReportsBusyError) when every worker is busy and the queue is full. */
  run(job: Omit<ReportJob, 'maxRows'>): Promise<BuiltReport> {
    if (this.closed) return Promise.reject(new ReportFailedError('the service is shutting down', 'shutting_down'));
    const limits = this.options.limits();
    const running = this.slots.filter((s) => s.current).length;
    const idle = running < this.options.size;
    if (!idle && this.queue.length >= limits.queue) {
      const ahead = running + this.queue.length;
      const retryAfter = Math.min(300, Math.max(1, Math.ceil((this.averageMs * ahead) / this.options.size / 1000)));
      return Promise.reject(new ReportsBusyError(running, this.queue.length, retryAfter));
    }
    return new Promise<BuiltReport>((resolve, reject) => {
      this.queue.push({ job: { ...job, maxRows: limits.maxRows, ...(this.options.ranges ? { ranges: this.options.ranges() } : {}) }, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length) {
      let slot = this.slots.find((s) => !s.current);
      if (!slot && this.slots.length < this.options.size) {
        try {
          slot = this.spawn();
        } catch (err) {
          for (const pending of this.queue.splice(0)) pending.reject(err as Error);
          return;
        }
      }
      if (!slot) return;
      this.start(slot, this.queue.shift()!);
    }
  }

  private spawn(): Slot {
    // A runaway report runs out of its own heap, not the service's.
    const worker = compiledWorker('reports/report-worker', 'report worker', { resourceLimits: { maxOldGenerationSizeMb: 1024 } });
    worker.unref();
    const slot: Slot = { worker, configVersion: -1 };
    worker.on('message', (reply: WorkerReply) => this.finish(slot, reply));
    worker.on('error', (err) => this.lose(slot, `the report worker failed: ${err.message}`));
    worker.on('exit', (code) => this.lose(slot, `the report worker stopped (exit code ${code})`));
    this.slots.push(slot);
    return slot;
  }

  private versionOf(config: Config): number {
    let version = this.configVersions.get(config);
    if (version === undefined) this.configVersions.set(config, (version = ++this.versions));
    return version;
  }

  private start(slot: Slot, pending: Pending): void {
    const id = this.nextId++;
    const config = this.options.config();
    const configVersion = this.versionOf(config);
    const request: WorkerRequest = {
      id,
      job: pending.job,
      influx: this.options.influx,
      ...(this.options.buckets ? { buckets: this.options.buckets } : {}),
      ...(this.options.marks ? { marks: this.options.marks } : {}),
      configVersion,
      ...(slot.configVersion === configVersion ? {} : { config }),
    };
    const { timeoutMs } = this.options.limits();
    const timer = setTimeout(() => {
      this.options.log.warn({ timeoutMs, subject: pending.job.subject.kind }, 'a report took too long; its worker is replaced');
      this.lose(slot, `the report took longer than ${timeoutMs / 1000} s (reports.timeout); ask for a shorter period or try again later`, 'report_timeout');
    }, timeoutMs);
    timer.unref();
    slot.current = { id, pending, started: performance.now(), timer };
    slot.configVersion = configVersion;
    try {
      slot.worker.postMessage(request);
    } catch (err) {
      this.lose(slot, `the report could not be handed to its worker: ${(err as Error).message}`);
    }
  }

  private finish(slot: Slot, reply: WorkerReply): void {
    const current = slot.current;
    if (!current || current.id !== reply.id) return;
    clearTimeout(current.timer);
    slot.current = undefined;
    this.averageMs = 0.7 * this.averageMs + 0.3 * (performance.now() - current.started);
    if (reply.ok)
      current.pending.resolve({
        body: Buffer.from(reply.body.buffer, reply.body.byteOffset, reply.body.byteLength),
        contentType: reply.contentType,
        extension: reply.extension,
      });
    else current.pending.reject(failureError(reply.failure));
    this.dispatch();
  }

  /** A worker that died or timed out: its job fails, the worker is gone, the next job gets a new one. */
  private lose(slot: Slot, message: string, code: 'report_timeout' | 'report_worker_failed' = 'report_worker_failed'): void {
    const index = this.slots.indexOf(slot);
    if (index < 0) return;
    this.slots.splice(index, 1);
    const current = slot.current;
    slot.current = undefined;
    if (current) {
      clearTimeout(current.timer);
      current.pending.reject(new ReportFailedError(message, code));
      if (code !== 'report_timeout') this.options.log.error({ reason: message }, 'report worker lost');
    }
    void slot.worker.terminate().catch(() => undefined);
    if (!this.closed) this.dispatch();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const pending of this.queue.splice(0)) pending.reject(new ReportFailedError('the service is shutting down', 'shutting_down'));
    const slots = this.slots.splice(0);
    for (const slot of slots) {
      if (slot.current) {
        clearTimeout(slot.current.timer);
        slot.current.pending.reject(new ReportFailedError('the service is shutting down', 'shutting_down'));
      }
    }
    await Promise.all(slots.map((s) => s.worker.terminate().catch(() => undefined)));
  }
}
