import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { RunningService } from '../app/service.js';
import { editConfig } from '../core/config/edit.js';
import { InfluxError } from '../storage/influx.js';
import { ReportInflux } from '../reports/jobs.js';
import type { GspRecord } from '../reports/schema.js';
import { p99, pubackMeter } from './helpers/latency.js';
import { compactionsSettled, connectDevice, influxFor, waitFor, makeWorkspace, startTestService, unlimitedRate, type Workspace } from './helpers/workspace.js';

/*
 * Issue 12, item 5: a one-year GSP record built on the main thread held device PUBACKs for up to
 * 10.5 s, and three in parallel answered 500. Reports are now built in a worker pool (here 1
 * worker, 2 waiting), a 4th concurrent request is refused with 429, and storage timeouts are 503.
 */

const MIN = 60_000;
const YEAR_MS = 365 * 86_400_000;

describe('reports under load: worker pool, caps, 429 when busy, 503 on storage timeouts', () => {
  let ws: Workspace;
  let service: RunningService;
  let base: string;
  const yearEnd = Math.floor(Date.now() / MIN) * MIN - 2 * 86_400_000;
  const yearStart = yearEnd - YEAR_MS;

  beforeAll(async () => {
    ws = makeWorkspace({
      devices: ['rep-dev', { id: 'year-dev', location: 'dc-sh-ambient-a', interval: '60s' }],
      // The device publishes back to back: its 50/s rate limit would pace the PUBACKs measured here.
      yamlPatch: (y) => unlimitedRate(y).replace(/(reports:\n(?: {2}.*\n)*? {2}lang: en\n)/, '$1  workers: 1\n  queue: 2\n'),
    });
    service = await startTestService(ws);
    base = `http://127.0.0.1:${service.httpPort}`;
    // A year of one-minute readings of one sensor (525,600), written straight to InfluxDB.
    const influx = influxFor(ws);
    const series = 'readings,deviceId=year-dev,locationId=dc-sh-ambient-a,siteId=dc-shanghai';
    const chunk = 50_000;
    for (let t = yearStart; t < yearEnd; t += chunk * MIN) {
      const lines: string[] = [];
      for (let i = 0; i < chunk && t + i * MIN < yearEnd; i++) {
        const at = t + i * MIN;
        lines.push(`${series} temperature=${(20 + 3 * Math.sin(at / 86_400_000)).toFixed(2)},humidity=45,seq=${(at - yearStart) / MIN}i ${at}000000`);
      }
      await influx.write(lines.join('\n'));
    }
    // Every point of the year queryable, and no compaction of the fresh files under way (see compactionsSettled).
    await waitFor(
      async () => (await influx.query(`SELECT count("temperature") FROM "readings" WHERE "deviceId" = 'year-dev'`))[0]?.values[0]?.[1],
      (n) => n === YEAR_MS / MIN,
      60_000,
      "the year's readings stored",
    );
    await compactionsSettled(ws);
  }, 240_000);
  afterAll(async () => {
    await service?.stop();
  });

  const record = (format: string) =>
    fetch(`${base}/api/v1/locations/dc-sh-ambient-a/record?from=${yearStart}&to=${yearEnd}&format=${format}`, {
      headers: { Authorization: `Bearer ${ws.apiTokens.viewer}` },
    });

  it('three one-year GSP records keep device PUBACK p99 within 2x idle; a 4th concurrent request gets 429 with Retry-After', async () => {
    const device = await connectDevice(service.mqttPort!, 'rep-dev', ws.deviceTokens['rep-dev']!);
    const publish = pubackMeter(device, 'rep-dev', Date.now() - 3_600_000);
    await publish(20); // warm-up
    const rounds: string[] = [];
    let within = false;
    // As in security-auth: a shared 2-core machine puts spikes into any window, so each round
    // compares with an idle window taken just before it, and one round of three within 2x passes.
    // Before the fix, the main thread decoded and analysed the year itself: PUBACKs waited seconds.
    for (let round = 1; round <= 3 && !within; round++) {
      const idle = await publish(200);
      const idleP99 = Math.max(5, p99(idle));
      const started = performance.now();
      // The main thread's own stalls, apart from the machine's: what the worker pool removes.
      const loopDelay = monitorEventLoopDelay({ resolution: 5 });
      loopDelay.enable();
      const formats = ['json', 'csv', 'html'];
      const requests = formats.map((f) => record(f));
      let done = 0;
      const all = Promise.all(requests.map((r) => r.finally(() => done++)));
      // The three are accepted (1 building, 2 waiting); the fourth is refused at once.
      await waitFor(
        async () => service.reports.stats,
        ({ running, queued }) => running === 1 && queued === 2,
        30_000,
        'one report building and two waiting',
      );
      const fourth = await record('json');
      expect(fourth.status).toBe(429);
      const retryAfter = Number(fourth.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      const refusal = (await fourth.json()) as { error: string; message: string };
      expect(refusal.error).toBe('reports_busy');
      expect(refusal.message).toMatch(/1 report\(s\) are being built and 2 are waiting.*reports\.workers 1, reports\.queue 2.*try again in \d+ s/);

      const loaded: number[] = [];
      while ((done < 3 || loaded.length < 150) && loaded.length < 5000) loaded.push(...(await publish(10)));
      const responses = await all;
      loopDelay.disable();
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      expect(responses.map((r) => r.status)).toEqual([200, 200, 200]);
      const json = (await responses[0]!.json()) as GspRecord;
      expect(json.digest.readings).toBe(YEAR_MS / MIN);
      expect(json.rows.length).toBeGreaterThan(17_000); // a row per 30 min
      expect(await responses[1]!.text()).toContain('year-dev');
      expect(responses[2]!.headers.get('content-type')).toMatch(/text\/html/);
      await responses[2]!.arrayBuffer();
      rounds.push(
        `round ${round}: idle p99 ${p99(idle).toFixed(1)} ms, with 3 one-year records p99 ${p99(loaded).toFixed(1)} ms, max ${Math.max(...loaded).toFixed(1)} ms (${loaded.length} PUBACKs over ${seconds} s), event-loop delay p99 ${(loopDelay.percentile(99) / 1e6).toFixed(1)} ms max ${(loopDelay.max / 1e6).toFixed(1)} ms; 4th request 429, Retry-After ${retryAfter} s`,
      );
      if (p99(loaded) <= 2 * idleP99) within = true;
    }
    device.end(true);
    console.log(`device PUBACK while three one-year GSP records (${YEAR_MS / MIN} readings each) are built:\n  ${rounds.join('\n  ')}`);
    expect(within, rounds.join('\n')).toBe(true);
  }, 300_000);

  it('refuses a record longer than 366 days, and one with more readings than reports.maxRows, naming the limit', async () => {
    const tooLong = await fetch(`${base}/api/v1/locations/dc-sh-ambient-a/record?from=${yearStart - 5 * 86_400_000}&to=${yearEnd}`, {
      headers: { Authorization: `Bearer ${ws.apiTokens.viewer}` },
    });
    expect(tooLong.status).toBe(400);
    expect(((await tooLong.json()) as { message: string }).message).toBe('query.to: a record covers at most 366 days; ask for several');

    // Report settings are read at start: restart with a lower limit (the year stays in InfluxDB).
    await service.stop();
    editConfig(ws.configFile, (doc) => doc.setIn(['reports', 'maxRows'], 100_000));
    service = await startTestService(ws);
    base = `http://127.0.0.1:${service.httpPort}`;
    const response = await record('json');
    const refused = { status: response.status, body: (await response.json()) as { error: string; message: string } };
    expect(refused.status).toBe(422);
    expect(refused.body.error).toBe('report_too_large');
    expect(refused.body.message).toMatch(/more than 100,000 readings \(the limit, reports\.maxRows.*ask for a shorter period/);
    // A month is within the limit.
    const month = await fetch(`${base}/api/v1/locations/dc-sh-ambient-a/record?from=${yearEnd - 30 * 86_400_000}&to=${yearEnd}`, {
      headers: { Authorization: `Bearer ${ws.apiTokens.viewer}` },
    });
    expect(month.status).toBe(200);
    expect(((await month.json()) as GspRecord).digest.readings).toBe(30 * 24 * 60);
  });

  it('an InfluxDB that stops sending in the middle of a body is a timeout error (503 with its reason), not a 500', async () => {
    // Headers at once, then the body stalls: what a loaded influxd did to three parallel year records.
    const stalled: Server = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"results":[{"statement_id":0,"series":[');
    });
    await new Promise<void>((r) => stalled.listen(0, '127.0.0.1', r));
    try {
      const influx = new ReportInflux({ url: `http://127.0.0.1:${(stalled.address() as AddressInfo).port}`, database: 'x' }, 500);
      const err = await influx.query('SELECT * FROM readings').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InfluxError);
      expect(err).toMatchObject({ kind: 'timeout', message: "InfluxDB did not finish sending the report's readings within 500 ms" });
    } finally {
      stalled.closeAllConnections();
      stalled.close();
    }
  });
});
