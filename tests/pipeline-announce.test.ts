import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { IngestPipeline } from '../ingestor/pipeline.js';
import type { AcceptedBatch } from '../ingestor/records.js';
import { Spool } from '../ingestor/spool.js';
import { testLog } from './helpers/workspace.js';

const limits = { maxPayloadBytes: 1 << 20, maxBatchReadings: 10_000, maxFutureSkewMs: 300_000, maxPastAgeMs: 30 * 86_400_000 };
const placement = (deviceId: string) => ({ deviceId, siteId: 'dc-shanghai', locationId: 'dc-sh-cold-room-1' });
const body = (readings: Array<{ ts: number; temperature: number }>) => Buffer.from(JSON.stringify(readings.length === 1 ? readings[0] : readings));

/**
 * Issue 15, item 1: a live reading made durable by the same fsync as a store-and-forward backlog is
 * announced (to the rules engine) before the backlog, and each device's own messages stay in order.
 */
describe('ingest pipeline announcements', () => {
  it('announces single readings before a large batch of the same fsync, per device in order', async () => {
    const spool = new Spool(mkdtempSync(path.join(tmpdir(), 'cc-announce-')), 1 << 20, testLog);
    await spool.open();
    const pipeline = new IngestPipeline(spool, limits);
    const seen: Array<[string, number]> = [];
    pipeline.on('accepted', (b: AcceptedBatch) => seen.push([b.deviceId, b.readings.length]));
    const t0 = Date.now() - 3_600_000;
    const backlog = Array.from({ length: 2000 }, (_, i) => ({ ts: t0 + i * 1000, temperature: 5 }));
    const one = (i: number) => [{ ts: t0 + 3_000_000 + i, temperature: 9.2 }];
    await Promise.all([
      pipeline.ingestTelemetry(placement('truck-1'), 'cc/v1/truck-1/telemetry', body(backlog)),
      // After its own backlog: must wait for it.
      pipeline.ingestTelemetry(placement('truck-1'), 'cc/v1/truck-1/telemetry', body(one(0))),
      pipeline.ingestTelemetry(placement('room-1'), 'cc/v1/room-1/telemetry', body(one(1))),
      pipeline.ingestTelemetry(placement('room-2'), 'cc/v1/room-2/telemetry', body(one(2))),
    ]);
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual([
      ['room-1', 1],
      ['room-2', 1],
      ['truck-1', 2000],
      ['truck-1', 1],
    ]);
    await spool.close();
  });

  it('announces a live reading within the call that ingests it, a large batch only at the end of the turn', async () => {
    const spool = new Spool(mkdtempSync(path.join(tmpdir(), 'cc-announce-')), 1 << 20, testLog);
    await spool.open();
    const pipeline = new IngestPipeline(spool, limits);
    const seen: Array<[string, number]> = [];
    pipeline.on('accepted', (b: AcceptedBatch) => seen.push([b.deviceId, b.readings.length]));
    const t0 = Date.now() - 3_600_000;
    const backlog = Array.from({ length: 20 }, (_, i) => ({ ts: t0 + i * 1000, temperature: 5 }));
    const live = pipeline.ingestTelemetry(placement('room-1'), 'cc/v1/room-1/telemetry', body([{ ts: t0, temperature: 9.2 }]));
    // Nothing awaited yet: the crossing does not wait for other sockets' data read in the same turn.
    expect(seen).toEqual([['room-1', 1]]);
    const batch = pipeline.ingestTelemetry(placement('truck-1'), 'cc/v1/truck-1/telemetry', body(backlog));
    expect(seen).toEqual([['room-1', 1]]);
    await Promise.all([live, batch]);
    expect(seen).toEqual([
      ['room-1', 1],
      ['truck-1', 20],
    ]);
    await spool.close();
  });

  it('announces a reading while its commit group is being fsynced, not after (the crossing does not wait for the disk)', async () => {
    const spool = new Spool(mkdtempSync(path.join(tmpdir(), 'cc-announce-')), 1 << 20, testLog);
    await spool.open();
    const pipeline = new IngestPipeline(spool, limits);
    let durable = false;
    const announced = new Promise<boolean>((resolve) => pipeline.once('accepted', () => resolve(durable)));
    const ingested = pipeline.ingestTelemetry(placement('room-1'), 'cc/v1/room-1/telemetry', body([{ ts: Date.now(), temperature: 9.2 }]));
    void ingested.then(() => {
      durable = true;
    });
    // The write and fsync complete on a later turn of the event loop than the announcement.
    expect(await announced).toBe(false);
    await ingested;
    expect(spool.depth.records).toBe(1);
    await spool.close();
  });
});
