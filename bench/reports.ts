import { loadConfig } from '../core/config/load.js';
import { Registry } from '../core/registry.js';
import { generateToken, hashToken } from '../core/secrets.js';
import { InfluxClient } from '../storage/influx.js';
import { ShipmentBook, type ShipmentRecord } from '../shipments/book.js';
import type { custodyEventKinds } from '../shipments/schema.js';
import { buildShipmentReport } from '../reports/shipment-report.js';
import { BucketCache } from '../reports/bucket-cache.js';
import { HourMarks } from '../reports/hour-marks.js';
import { renderReport } from '../reports/render/index.js';
import { SAMPLE_CONFIG } from '../cli/sample-config.js';
import { stringify } from 'yaml';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Session } from 'node:inspector/promises';

const DAY = 86_400_000;
const LEGS = ['dc-sh-cold-room-1', 'truck-hu-a12345-box', 'xdock-suzhou-cold-room', 'hospital-pudong-fridge'] as const;
const SENSORS_PER_LEG = 8;

export interface ReportFigures {
  readings: number;
  /** Anchor: InfluxDB answering the same readings' query, in the same run. */
  influxQueryMs: number;
  /** Built through the bucket cache (reports/bucket-cache.ts) once it holds the month: the median of the runs after the first. */
  jsonMs: number;
  pdfMs: number;
  /** The first report, with the cache empty: every reading read from InfluxDB and stored. */
  jsonColdMs: number;
  /** Without the cache (every reading from InfluxDB, as before issue 15). */
  jsonRawMs: number;
  /** Whole hours the last run took from the cache / read from InfluxDB. */
  cacheHits: number;
  cacheMisses: number;
  pdfBytes: number;
}

/**
 * A shipment of the sample's vaccines that enters each of `legs` in turn, `legLength` apart from
 * `start` (custody recorded at `start`, by `by`), and is delivered at the end of the last.
 */
type CustodyEvent = (typeof custodyEventKinds)[number];

export function shipmentThroughLegs(
  id: string,
  legs: ReadonlyArray<{ locationId: string; event: Exclude<CustodyEvent, 'delivered'> }>,
  start: number,
  legLength: number,
  by: string,
): ShipmentRecord {
  const book = new ShipmentBook();
  book.apply({
    type: 'created',
    shipment: {
      id,
      product: 'Vaccine',
      profileId: 'vaccines-2-8',
      batch: 'B1',
      quantity: 10,
      unit: 'cases',
      shipper: 'DC',
      consignee: 'Hospital',
      createdAt: start,
      createdBy: by,
    },
  });
  const custody = (n: number, event: CustodyEvent, at: number, locationId?: string) =>
    book.apply({
      type: 'custody',
      shipmentId: id,
      custody: { id: `${id}-C${n}`, event, ...(locationId ? { locationId } : {}), at, recordedAt: start, by, source: 'api' },
    });
  legs.forEach(({ locationId, event }, leg) => custody(leg + 1, event, start + leg * legLength, locationId));
  custody(legs.length + 1, 'delivered', start + legs.length * legLength);
  return book.get(id)!;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/**
 * A 30-day, 4-leg shipment with 8 sensors at each place reporting once a minute (≈ 350k
 * readings), written straight into InfluxDB; then the full-chain report is built as JSON and
 * as PDF (in process, the same code the API runs); the median of a few runs each.
 */
export async function reportBenchmark(influxUrl: string, progress: (line: string) => void, runs = 3): Promise<ReportFigures> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cc-bench-report-'));
  try {
    const devices = LEGS.flatMap((location, leg) =>
      Array.from({ length: SENSORS_PER_LEG }, (_, i) => ({ id: `leg${leg}-s${i}`, location, interval: '60s', tokenHash: hashToken(generateToken('dev')) })),
    );
    const yaml = SAMPLE_CONFIG.replace(
      '  # A receiver that monitors',
      '  - id: xdock-suzhou\n    name: Suzhou cross-dock\n    kind: warehouse\n    locations:\n      - { id: xdock-suzhou-cold-room, name: Cross-dock cold room, kind: cold_room, profile: vaccines-2-8 }\n  # A receiver that monitors',
    ).replace('devices: []', stringify({ devices }).trimEnd());
    const file = path.join(dir, 'coldchain.yaml');
    writeFileSync(file, yaml);
    const registry = new Registry(loadConfig(file).config);
    const influx = new InfluxClient({ url: influxUrl, database: 'bench_report' }, 120_000);
    await influx.ensureDatabase(1830 * DAY);

    const start = Math.floor((Date.now() - 31 * DAY) / 60_000) * 60_000;
    const legLength = (30 * DAY) / LEGS.length;
    let written = 0;
    for (const [leg, location] of LEGS.entries()) {
      const site = registry.location(location)!.site.id;
      for (let s = 0; s < SENSORS_PER_LEG; s++) {
        const lines: string[] = [];
        for (let t = start + leg * legLength, seq = 0; t < start + (leg + 1) * legLength; t += 60_000, seq++) {
          // A daily cycle plus a short door-opening peak every 6 h: realistic, and a few excursions.
          const temperature = 5 + 1.2 * Math.sin((2 * Math.PI * (t - start)) / DAY) + (seq % 360 < 12 ? 2.4 : 0) + s * 0.05;
          lines.push(
            `readings,deviceId=leg${leg}-s${s},locationId=${location},siteId=${site} temperature=${temperature.toFixed(2)},humidity=${(50 + s).toFixed(1)},seq=${seq}i ${t}000000`,
          );
        }
        for (let i = 0; i < lines.length; i += 20_000) await influx.write(lines.slice(i, i + 20_000).join('\n'));
        written += lines.length;
      }
      progress(`report benchmark: leg ${leg + 1}/${LEGS.length} written (${written} readings)`);
    }

    const record = shipmentThroughLegs(
      'SH-BENCH-30D',
      LEGS.map((locationId, leg) => ({ locationId, event: (['stored', 'loaded', 'unloaded', 'stored'] as const)[leg]! })),
      start,
      legLength,
      'bench',
    );

    // As in the service (its only InfluxDB writer): the writer's marks (none here: every reading was written above, before the first report).
    const buckets = new BucketCache(path.join(dir, 'report-buckets'), HourMarks.create());
    const rawStarted = performance.now();
    JSON.stringify(await buildShipmentReport({ record, registry, influx, alerts: [], verification: null }));
    const jsonRawMs = performance.now() - rawStarted;
    const coldStarted = performance.now();
    JSON.stringify(await buildShipmentReport({ record, registry, influx, alerts: [], verification: null, buckets }));
    const jsonColdMs = performance.now() - coldStarted;
    progress(`report benchmark: JSON without the bucket cache ${jsonRawMs.toFixed(0)} ms, first with it (filling it) ${jsonColdMs.toFixed(0)} ms`);
    const queryTimes: number[] = [];
    const jsonTimes: number[] = [];
    const pdfTimes: number[] = [];
    let readings = 0;
    let pdfBytes = 0;
    // BENCH_REPORT_PROFILE=<file>: a CPU profile of the warm JSON reports alone (where their time goes).
    const profileFile = process.env.BENCH_REPORT_PROFILE;
    const inspector = profileFile ? new Session() : undefined;
    if (inspector) {
      inspector.connect();
      await inspector.post('Profiler.enable');
      await inspector.post('Profiler.setSamplingInterval', { interval: 200 });
    }
    for (let run = 0; run < runs; run++) {
      let t = performance.now();
      const series = await Promise.all(
        LEGS.map((location, leg) =>
          influx.query(
            `SELECT "temperature", "humidity", "seq" FROM "readings" WHERE "locationId" = '${location}' AND time >= ${start + leg * legLength}ms AND time < ${start + (leg + 1) * legLength}ms GROUP BY "deviceId"`,
          ),
        ),
      );
      queryTimes.push(performance.now() - t);
      readings = series.flat().reduce((sum, s) => sum + s.values.length, 0);

      if (inspector) await inspector.post('Profiler.start');
      t = performance.now();
      const report = await buildShipmentReport({ record, registry, influx, alerts: [], verification: null, buckets });
      JSON.stringify(report);
      jsonTimes.push(performance.now() - t);
      if (inspector) {
        const { profile } = await inspector.post('Profiler.stop');
        writeFileSync(`${profileFile}.${run + 1}.cpuprofile`, JSON.stringify(profile));
      }

      t = performance.now();
      const pdfReport = await buildShipmentReport({
        record,
        registry,
        influx,
        alerts: [],
        verification: { url: 'http://127.0.0.1:8080/verify/bench', expiresAt: Date.now() + DAY },
        buckets,
      });
      const pdf = await renderReport(pdfReport, 'pdf', { lang: 'zh-CN', timeZone: 'Asia/Shanghai' });
      pdfTimes.push(performance.now() - t);
      pdfBytes = pdf.body.length;
      progress(
        `report benchmark run ${run + 1}/${runs}: ${readings} readings, query ${queryTimes.at(-1)!.toFixed(0)} ms, JSON ${jsonTimes.at(-1)!.toFixed(0)} ms, PDF ${pdfTimes.at(-1)!.toFixed(0)} ms`,
      );
    }
    inspector?.disconnect();
    await influx.query('DROP DATABASE "bench_report"', { database: null, method: 'POST' });
    return {
      readings,
      influxQueryMs: median(queryTimes),
      jsonMs: median(jsonTimes),
      pdfMs: median(pdfTimes),
      pdfBytes,
      jsonColdMs,
      jsonRawMs,
      cacheHits: buckets.last.hits,
      cacheMisses: buckets.last.misses,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
