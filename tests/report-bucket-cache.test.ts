import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { parseConfigText } from '../core/config/load.js';
import { Registry } from '../core/registry.js';
import { generateToken, hashToken } from '../core/secrets.js';
import { SAMPLE_CONFIG } from '../cli/sample-config.js';
import { InfluxClient } from '../storage/influx.js';
import { buildShipmentReport } from '../reports/shipment-report.js';
import { BucketCache } from '../reports/bucket-cache.js';
import { BUCKET_MS } from '../reports/buckets.js';
import { shipmentThroughLegs } from '../bench/reports.js';
import { HourMarks } from '../reports/hour-marks.js';
import { Spool } from '../ingestor/spool.js';
import { SpoolWriter } from '../ingestor/writer.js';
import { testLog, waitFor } from './helpers/workspace.js';

/**
 * Issue 15, item 2, against a real influxd: a shipment report built through the bucket cache is
 * the report built from every reading (the same JSON, digest included), cold, warm, after a late
 * reading and a conflicting revision land in cached hours, after a point is overwritten in place, after a restart (a new cache on the
 * same directory) and with a damaged cache file.
 */

const MIN = 60_000;
const LEGS = ['dc-sh-cold-room-1', 'truck-hu-a12345-box'] as const;
const dir = mkdtempSync(path.join(tmpdir(), 'cc-test-buckets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('shipment report through the bucket cache (issue 15, item 2)', () => {
  it('gives the uncached report to the last digit, and reads again exactly the hours late data landed in', async () => {
    const devices = LEGS.flatMap((location, leg) =>
      [0, 1].map((i) => ({ id: `bc${leg}-s${i}`, location, interval: '60s', tokenHash: hashToken(generateToken('dev')) })),
    );
    const yaml = SAMPLE_CONFIG.replace('devices: []', stringify({ devices }).trimEnd());
    const registry = new Registry(parseConfigText(yaml, path.join(dir, 'coldchain.yaml')));
    const influx = new InfluxClient({ url: inject('influxUrl'), database: `t_buckets_${Date.now()}` });
    await influx.ensureDatabase(1830 * 86_400_000);

    // Two legs of 20 h 17 min each, starting mid-hour: partial hours at every edge.
    const start = Math.floor(Date.UTC(2026, 5, 1, 8) / BUCKET_MS) * BUCKET_MS + 23 * MIN + 11_000;
    const legLength = 20 * BUCKET_MS + 17 * MIN;
    const site = (location: string) => registry.location(location)!.site.id;
    const line = (deviceId: string, location: string, t: number, temperature: number, seq: number, receivedAt: number, revision?: number) =>
      `readings,deviceId=${deviceId},locationId=${location},${revision ? `revision=${revision},` : ''}siteId=${site(location)} temperature=${temperature},humidity=55.5,seq=${seq}i,receivedAt=${receivedAt}i ${t}000000`;
    const lines: string[] = [];
    let state = 7;
    const noise = () => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return state / 2147483648;
    };
    for (const [leg, location] of LEGS.entries())
      for (const i of [0, 1])
        for (let t = start + leg * legLength, seq = 0; t < start + (leg + 1) * legLength; t += MIN + Math.floor(noise() * 2000), seq++) {
          if (noise() < 0.01) continue; // a lost reading
          const temperature = Math.round((5 + 3.5 * Math.sin(t / (3 * BUCKET_MS)) + noise()) * 100) / 100;
          lines.push(line(`bc${leg}-s${i}`, location, t, temperature, seq, t + 2000));
        }
    await influx.write(lines.join('\n'));

    const record = shipmentThroughLegs(
      'SH-BUCKETS',
      LEGS.map((locationId, leg) => ({ locationId, event: leg ? 'loaded' : 'stored' })),
      start,
      legLength,
      't',
    );
    const now = start + 3 * legLength;
    const build = (buckets?: BucketCache) =>
      buildShipmentReport({ record, registry, influx, alerts: [], verification: null, now, ...(buckets ? { buckets } : {}) });

    const cacheDir = path.join(dir, 'report-buckets');
    const cache = new BucketCache(cacheDir);
    const raw = await build();
    expect(raw.overall.readings).toBeGreaterThan(4500);
    expect(raw.overall.excursions.length).toBeGreaterThan(0);
    // Cold: every whole hour read from InfluxDB and stored.
    expect(await build(cache)).toEqual(raw);
    expect(cache.last.hits).toBe(0);
    const wholeHours = cache.last.misses;
    expect(wholeHours).toBe(2 * 2 * 19);
    // Warm: every whole hour from the cache, the report the same.
    expect(await build(cache)).toEqual(raw);
    expect(cache.last).toEqual({ hits: wholeHours, misses: 0 });

    // A late reading out of range and a conflicting revision, each in a different cached hour.
    const lateAt = start + 5 * BUCKET_MS + 30 * MIN + 500;
    const revisedAt = Number(lines[700]!.split(' ').at(-1)!.slice(0, -6));
    await influx.write(
      [line('bc0-s0', LEGS[0], lateAt, 12.5, 9999, now - MIN), line(lines[700]!.split(',')[1]!.slice(9), LEGS[0], revisedAt, 1.25, 700, now - MIN, 1)].join(
        '\n',
      ),
    );
    const after = await build();
    expect(after.overall.readings).toBe(raw.overall.readings + 2);
    expect(after.digest.value).not.toBe(raw.digest.value);
    expect(after.overall.completeness.late).toBe(raw.overall.completeness.late + 2);
    expect(await build(cache)).toEqual(after);
    expect(cache.last).toEqual({ hits: wholeHours - 2, misses: 2 });

    // A restart: a new cache on the same directory finds every hour again.
    const restarted = new BucketCache(cacheDir);
    expect(await build(restarted)).toEqual(after);
    expect(restarted.last).toEqual({ hits: wholeHours, misses: 0 });

    // A point overwritten in place in InfluxDB (same series, same time, other values): its hour is read again.
    await influx.write(lines[1500]!.replace(/temperature=[^,]+/, 'temperature=2.22'));
    const overwritten = await build();
    expect(overwritten.digest.value).not.toBe(after.digest.value);
    expect(await build(restarted)).toEqual(overwritten);
    expect(restarted.last).toEqual({ hits: wholeHours - 1, misses: 1 });

    // A damaged file is a miss, never a wrong figure.
    const place = path.join(cacheDir, readdirSync(cacheDir)[0]!);
    const sensor = path.join(place, readdirSync(place)[0]!);
    writeFileSync(path.join(sensor, readdirSync(sensor)[0]!), '{"v":1,"hours":{');
    expect(await build(restarted)).toEqual(overwritten);
    expect(restarted.last.misses).toBeGreaterThan(0);
  });

  it('trusts hours the writer has not marked (no fingerprint query), and reads again the hours late readings were written into', async () => {
    const devices = LEGS.map((location, leg) => ({ id: `hm${leg}`, location, interval: '60s', tokenHash: hashToken(generateToken('dev')) }));
    const registry = new Registry(parseConfigText(SAMPLE_CONFIG.replace('devices: []', stringify({ devices }).trimEnd()), path.join(dir, 'marks.yaml')));
    const database = `t_marks_${Date.now()}`;
    // Every query the reports make, to see which asked InfluxDB for fingerprints (observed, not replaced).
    const queries: string[] = [];
    const influx = new (class extends InfluxClient {
      override query(influxql: string, options?: Parameters<InfluxClient['query']>[1]) {
        queries.push(influxql);
        return super.query(influxql, options);
      }
    })({ url: inject('influxUrl'), database });
    await influx.ensureDatabase(1830 * 86_400_000);
    const fingerprintQueries = () => queries.filter((q) => q.includes('count("temperature")')).length;

    const start = Math.floor(Date.UTC(2026, 6, 1, 8) / BUCKET_MS) * BUCKET_MS + 7 * MIN;
    const legLength = 6 * BUCKET_MS;
    const site = (location: string) => registry.location(location)!.site.id;
    const line = (leg: number, t: number, temperature: number, seq: number, receivedAt: number) =>
      `readings,deviceId=hm${leg},locationId=${LEGS[leg]},siteId=${site(LEGS[leg]!)} temperature=${temperature},humidity=50,seq=${seq}i,receivedAt=${receivedAt}i ${t}000000`;
    const lines: string[] = [];
    for (const leg of [0, 1])
      for (let t = start + leg * legLength, seq = 0; t < start + (leg + 1) * legLength; t += MIN, seq++)
        lines.push(line(leg, t, 5 + (seq % 7) / 10, seq, t + 1000));
    await influx.write(lines.join('\n'));
    const record = shipmentThroughLegs(
      'SH-MARKS',
      LEGS.map((locationId, leg) => ({ locationId, event: leg ? 'loaded' : 'stored' })),
      start,
      legLength,
      't',
    );
    const now = start + 3 * legLength;
    const build = (buckets?: BucketCache) =>
      buildShipmentReport({ record, registry, influx, alerts: [], verification: null, now, ...(buckets ? { buckets } : {}) });

    // The service's wiring: one table of marks, the writer's hook marking what InfluxDB confirmed.
    const marks = HourMarks.create();
    const spool = new Spool(path.join(dir, 'marks-spool'), 32 * 1024 * 1024, testLog);
    await spool.open();
    const writer = new SpoolWriter(spool, influx, testLog, {
      lingerMs: 0,
      retryMaxMs: 200,
      deadLetterFile: path.join(dir, 'marks-dead-letter.ndjson'),
      onWritten: (written) => marks.markWritten(written),
    });
    writer.start();
    try {
      const cacheDir = path.join(dir, 'marks-buckets');
      const cache = new BucketCache(cacheDir, marks);
      const raw = await build();
      // Cold: fingerprints asked, every whole hour read and stored (5 per leg: the first and last are partial).
      expect(await build(cache)).toEqual(raw);
      expect(cache.last).toEqual({ hits: 0, misses: 10 });
      // Warm: not one fingerprint query.
      const asked = fingerprintQueries();
      expect(await build(cache)).toEqual(raw);
      expect(cache.last).toEqual({ hits: 10, misses: 0 });
      expect(fingerprintQueries()).toBe(asked);

      // Late readings into a cached hour, through the spool and the writer: the next report shows them.
      const lateAt = start + 2 * BUCKET_MS + 30 * MIN + 500;
      const generation = marks.stamp().gen;
      await spool.append([line(0, lateAt, 11.5, 9999, now - MIN), line(0, lateAt + 1000, 11.6, 10000, now - MIN)].join('\n'), 2);
      await waitFor(
        async () => marks.stamp().gen,
        (gen) => gen > generation,
        15_000,
        'the writer to mark the late readings',
      );
      const after = await build();
      expect(after.overall.readings).toBe(raw.overall.readings + 2);
      expect(after.overall.completeness.late).toBe(raw.overall.completeness.late + 2);
      expect(await build(cache)).toEqual(after);
      // Only the marked hour was asked about and read again.
      expect(cache.last).toEqual({ hits: 9, misses: 1 });
      expect(fingerprintQueries()).toBe(asked + 1);
      expect(await build(cache)).toEqual(after);
      expect(fingerprintQueries()).toBe(asked + 1);

      // A restart (a new table of marks): every hour is checked against InfluxDB once, then trusted again.
      const restarted = new BucketCache(cacheDir, HourMarks.create());
      expect(await build(restarted)).toEqual(after);
      expect(restarted.last).toEqual({ hits: 10, misses: 0 });
      expect(fingerprintQueries()).toBe(asked + 3);
      expect(await build(restarted)).toEqual(after);
      expect(fingerprintQueries()).toBe(asked + 3);

      // A report whose digest is compared with a signed one asks InfluxDB every time (trustMarks: false).
      const session = restarted.session({ trustMarks: false });
      expect(session.trusted(LEGS[0], start - 7 * MIN + BUCKET_MS)).toBeUndefined();
      expect(restarted.session().trusted(LEGS[0], start - 7 * MIN + BUCKET_MS)).toEqual(expect.any(Object));
    } finally {
      await writer.stop();
      await spool.close();
    }
  });
});
