import { existsSync, mkdtempSync, readFileSync, readlinkSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { Spool } from '../ingestor/spool.js';
import { SpoolWriter } from '../ingestor/writer.js';
import { InfluxClient } from '../storage/influx.js';
import { readingCount, testLog, waitFor } from './helpers/workspace.js';
import { influxProxy } from './helpers/influx-proxy.js';

const DAY_MS = 86_400_000;

interface Rig {
  spool: Spool;
  writer: SpoolWriter;
  influx: InfluxClient;
  deadLetterFile: string;
}

/** A real spool in a temp dir drained by a writer into a database of its own (not created here). */
async function rig(influxUrl: string, options: { ensureDatabase?: boolean } = {}): Promise<Rig> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cc-writer-'));
  const spool = new Spool(path.join(dir, 'spool'), 32 * 1024 * 1024, testLog);
  await spool.open();
  const influx = new InfluxClient({ url: influxUrl, database: `w_${randomUUID().replace(/-/g, '').slice(0, 12)}` });
  const deadLetterFile = path.join(dir, 'dead-letter.ndjson');
  const writer = new SpoolWriter(spool, influx, testLog, {
    lingerMs: 0,
    retryMaxMs: 200,
    deadLetterFile,
    ...(options.ensureDatabase ? { ensureDatabase: () => influx.ensureDatabase(1830 * DAY_MS) } : {}),
  });
  return { spool, writer, influx, deadLetterFile };
}

const line = (device: string, i: number, at = Date.now() - 3_600_000) =>
  `readings,deviceId=${device} temperature=${(4 + (i % 10) / 10).toFixed(1)},seq=${i}i ${(at + i * 1000) * 1e6}`;

const countOf = readingCount;

describe('the spool writer against a real InfluxDB', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const started = (r: Rig) => {
    r.writer.start();
    cleanups.push(async () => {
      await r.writer.stop();
      await r.spool.close();
    });
    return r;
  };

  it('creates the database it finds missing (InfluxDB was away when the service started) and delivers', async () => {
    const { spool, influx } = started(await rig(inject('influxUrl'), { ensureDatabase: true }));
    await spool.append(Array.from({ length: 50 }, (_, i) => line('late-db', i)).join('\n'), 50);
    await waitFor(
      () => countOf(influx, 'late-db'),
      (n) => n === 50,
      15_000,
      'the 50 points',
    );
    const policies = await influx.query(`SHOW RETENTION POLICIES ON "${influx.target.database}"`, { database: null });
    expect(policies[0]!.values.find((row) => row[0] === 'coldchain_retention')?.[4]).toBe(true);
    await waitFor(
      async () => spool.depth.records,
      (n) => n === 0,
      5000,
      'an empty spool',
    );
  });

  it('without ensureDatabase (influx.createDatabase: false) keeps the points spooled and retrying, creating nothing', async () => {
    const { spool, writer, influx } = started(await rig(inject('influxUrl')));
    await spool.append(line('no-create', 0), 1);
    await waitFor(
      async () => writer.stats.failures,
      (n) => n >= 3,
      10_000,
      'a few retries',
    );
    expect(writer.stats.lastError).toMatch(/HTTP 404: database not found/);
    expect(spool.depth.records).toBe(1);
    const databases = await influx.query('SHOW DATABASES', { database: null });
    expect((databases[0]?.values ?? []).flat()).not.toContain(influx.target.database);
  });

  it('behind a proxy with a body limit, splits batches down to the one malformed line, which alone is dead-lettered', async () => {
    const limit = 2048;
    // A 413 to /write bodies over the limit, as nginx's client_max_body_size does.
    const proxy = await influxProxy({ refuse: (body, url) => (url.startsWith('/write') && body.length > limit ? 413 : undefined) });
    cleanups.push(() => void proxy.server.close());
    const r = await rig(proxy.url);
    await r.influx.ensureDatabase(1830 * DAY_MS);
    const good = Array.from({ length: 300 }, (_, i) => line('split-1', i));
    const malformed = 'readings,deviceId=split-1 temperature=';
    // The malformed line sits among good ones, in the middle of a batch far over the proxy's limit.
    await r.spool.append([...good.slice(0, 150), malformed, ...good.slice(150)].join('\n'), 301);
    started(r);
    await waitFor(
      () => countOf(r.influx, 'split-1'),
      (n) => n === 300,
      20_000,
      'all 300 good points',
    );
    await waitFor(
      async () => r.spool.depth.records,
      (n) => n === 0,
      5000,
      'an empty spool',
    );
    expect(Math.max(...proxy.writes)).toBeGreaterThan(limit);
    const entries = readFileSync(r.deadLetterFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { error: string; lines: string });
    expect(entries).toHaveLength(1);
    expect(entries[0]!.lines).toBe(malformed);
    expect(entries[0]!.error).toMatch(/^write failed: HTTP 400: unable to parse/);
    expect(r.writer.stats.pointsDropped).toBe(1);
  });

  it("has the dead-letter line and the new file's name fsync'ed before it confirms the spool past that line", async () => {
    const r = await rig(inject('influxUrl'));
    await r.influx.ensureDatabase(1830 * DAY_MS);
    // Record, in order, every fsync of a file handle (by the path it refers to) and every confirm.
    const events: string[] = [];
    const probe = await open(`${r.deadLetterFile}.probe`, 'w');
    const proto = Object.getPrototypeOf(probe) as FileHandle;
    await probe.close();
    const realSync = proto.sync;
    proto.sync = function (this: FileHandle) {
      events.push(`sync ${readlinkSync(`/proc/self/fd/${this.fd}`)}`);
      return realSync.call(this);
    };
    cleanups.push(() => void (proto.sync = realSync));
    const realConfirm = r.spool.confirm.bind(r.spool);
    r.spool.confirm = (position, records) => {
      events.push(`confirm ${records}`);
      return realConfirm(position, records);
    };
    await r.spool.append(['readings,deviceId=dl-1 temperature=', line('dl-1', 1)].join('\n'), 2);
    started(r);
    await waitFor(async () => events.some((e) => e.startsWith('confirm')), Boolean, 15_000, 'the spool to be confirmed');
    expect(existsSync(r.deadLetterFile)).toBe(true);
    const confirmAt = events.findIndex((e) => e.startsWith('confirm'));
    expect(events.slice(0, confirmAt)).toEqual([`sync ${r.deadLetterFile}`, `sync ${path.dirname(r.deadLetterFile)}`]);
  });
});
