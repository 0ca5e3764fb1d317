import { parentPort } from 'node:worker_threads';
import type { Config } from '../core/config/schema.js';
import { lowerThisThreadPriority } from '../core/low-priority.js';
import type { Registry } from '../core/registry.js';
import type { InfluxTarget } from '../storage/influx.js';
import { BucketCache } from './bucket-cache.js';
import { HourMarks, type HourMarksHandle } from './hour-marks.js';
import { buildReport, describeFailure, registryOf, ReportInflux, type ReportJob } from './jobs.js';

/**
 * A report worker thread (see pool.ts): queries the readings itself, builds the report, renders
 * it and hands back the bytes. The main thread, which acknowledges devices' readings, only
 * sends the job and the answer.
 */
export interface WorkerRequest {
  id: number;
  job: ReportJob;
  influx: InfluxTarget;
  /** The bucket cache's directory (bucket-cache.ts). */
  buckets?: string;
  /** The writer's marks (hour-marks.ts), shared memory; absent in a cluster. */
  marks?: HourMarksHandle;
  /** The registry's config, sent when it changed since this worker's last job. */
  configVersion: number;
  config?: Config;
}

export type WorkerReply =
  | { id: number; ok: true; body: Uint8Array; contentType: string; extension: string }
  | { id: number; ok: false; failure: ReturnType<typeof describeFailure> };

// Yields the CPU to the main thread (devices' acknowledgements).
lowerThisThreadPriority();

let registry: { version: number; registry: Registry } | undefined;
let influx: { key: string; client: ReportInflux } | undefined;
let buckets: BucketCache | undefined;

parentPort?.on('message', (request: WorkerRequest) => {
  void (async () => {
    try {
      if (request.config) registry = { version: request.configVersion, registry: registryOf(request.config) };
      if (!registry || registry.version !== request.configVersion) throw new Error(`the worker has no registry version ${request.configVersion}`);
      const key = JSON.stringify(request.influx);
      if (influx?.key !== key) influx = { key, client: new ReportInflux(request.influx) };
      if (request.buckets && (buckets?.dir !== request.buckets || buckets.marks?.handle.run !== request.marks?.run))
        buckets = new BucketCache(request.buckets, request.marks ? new HourMarks(request.marks) : undefined);
      const built = await buildReport(request.job, { registry: registry.registry, influx: influx.client, ...(request.buckets ? { buckets: buckets! } : {}) });
      // A view of exactly the bytes, so the buffer can be handed over (transferred, not copied).
      const body = built.body.byteOffset === 0 && built.body.byteLength === built.body.buffer.byteLength ? built.body : new Uint8Array(built.body);
      const reply: WorkerReply = { id: request.id, ok: true, body, contentType: built.contentType, extension: built.extension };
      parentPort!.postMessage(reply, [body.buffer as ArrayBuffer]);
    } catch (err) {
      const reply: WorkerReply = { id: request.id, ok: false, failure: describeFailure(err) };
      parentPort!.postMessage(reply);
    }
  })();
});
