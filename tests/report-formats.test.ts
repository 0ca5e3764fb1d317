import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gspRecordSchema, shipmentReportSchema, type GspRecord, type ShipmentReport } from '../reports/schema.js';
import { renderReport } from '../reports/render/index.js';
import { csvCell } from '../reports/render/csv.js';
import { run } from './helpers/workspace.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 20, 0, 0);
const dir = mkdtempSync(path.join(tmpdir(), 'cc-render-'));

const place = (locationId: string, vehicle = false) => ({
  locationId,
  locationName: vehicle ? 'Cargo box' : 'Cold room 1',
  locationKind: vehicle ? ('vehicle_compartment' as const) : ('cold_room' as const),
  siteId: vehicle ? 'truck-hu-a12345' : 'dc-shanghai',
  siteName: vehicle ? 'Reefer truck 沪A12345' : 'Shanghai DC',
  siteKind: vehicle ? ('vehicle' as const) : ('warehouse' as const),
  ...(vehicle ? { vehicleType: 'refrigerated truck', plate: '沪A12345' } : {}),
  profileId: 'vaccines-2-8',
  range: { min: 2, max: 8 },
});

const figures = (readings: number, excursion: boolean) => ({
  readings,
  durationMs: 180 * MIN,
  min: { value: -18.5, at: T0 + 10 * MIN },
  max: { value: excursion ? 10.4 : 6.1, at: T0 + 70 * MIN },
  mean: 5.12,
  mkt: 5.87,
  timeOutOfRangeMs: excursion ? 40 * MIN : 0,
  timeAboveMs: excursion ? 40 * MIN : 0,
  timeBelowMs: 0,
  excursions: excursion
    ? [
        {
          band: 'above' as const,
          limit: 8,
          start: T0 + 60 * MIN,
          end: T0 + 100 * MIN,
          durationMs: 40 * MIN,
          peak: 10.4,
          peakAt: T0 + 70 * MIN,
          degreeMinutes: 71.5,
          ongoing: false,
          deviceIds: ['truck-a'],
          locationId: 'truck-box',
        },
      ]
    : [],
  humidity: { min: { value: 40, at: T0 }, max: { value: 60, at: T0 }, mean: 51.3, timeOutOfRangeMs: 0 },
  completeness: { expected: 360, present: 340, missingBySequence: 20, percent: 94.44 },
  gaps: [{ deviceId: 'truck-a', locationId: 'truck-box', start: T0 + 120 * MIN, end: T0 + 141 * MIN, durationMs: 21 * MIN, missingReadings: 20 }],
});

/** A GSP record of the truck's box from T0, read every 5 min (every 2 min out of range); `fields` add to it or replace. */
const truckGspRecord = (fields: Record<string, unknown>): GspRecord =>
  gspRecordSchema.parse({
    reportType: 'gsp_record',
    generatedAt: T0,
    place: place('truck-box', true),
    from: T0,
    normalIntervalMs: 5 * MIN,
    outOfRangeIntervalMs: 2 * MIN,
    ...fields,
  });

const hostile = '=HYPERLINK("http://evil.example","click")';
const report: ShipmentReport = shipmentReportSchema.parse({
  reportType: 'shipment',
  shipmentId: 'SH-FMT-1',
  generatedAt: T0 + 300 * MIN,
  shipment: {
    id: 'SH-FMT-1',
    product: hostile,
    profileId: 'vaccines-2-8',
    batch: '+1-LOT',
    expiry: '2027-10-31',
    quantity: 40,
    unit: 'cases',
    shipper: '@SUM(A1)',
    consignee: '-2+3 <script>alert(1)</script>',
    createdAt: T0,
    createdBy: 'test-admin',
  },
  custody: [
    { id: 'SH-FMT-1-C1', event: 'stored', locationId: 'cold-room', at: T0, by: 'Wang Wei', source: 'api' },
    { id: 'SH-FMT-1-C2', event: 'loaded', locationId: 'truck-box', at: T0 + 30 * MIN, by: 'truck-a', source: 'mqtt' },
  ],
  segments: [
    {
      index: 0,
      openedBy: 'stored',
      start: T0,
      end: T0 + 30 * MIN,
      open: false,
      place: place('cold-room'),
      sensors: [{ deviceId: 'room-a', intervalMs: MIN, readings: 30, min: null, max: null, mean: 5, mkt: 5 }],
      figures: figures(30, false),
    },
    {
      index: 1,
      openedBy: 'loaded',
      start: T0 + 30 * MIN,
      end: T0 + 180 * MIN,
      open: false,
      place: place('truck-box', true),
      sensors: [{ deviceId: 'truck-a', intervalMs: MIN, readings: 150, min: null, max: null, mean: 5, mkt: 6 }],
      figures: figures(150, true),
    },
  ],
  overall: figures(180, true),
  mktActivationEnergyKJ: 83.144,
  alarms: [
    {
      id: 'al-1',
      kind: 'temperature_high',
      severity: 'critical',
      state: 'acknowledged',
      deviceId: 'truck-a',
      locationId: 'truck-box',
      occurredAt: T0 + 60 * MIN,
      clearedAt: T0 + 100 * MIN,
      peak: 10.4,
      threshold: 8,
      late: true,
      acknowledged: { by: 'olga', printedName: 'Olga Operator', at: T0 + 65 * MIN, meaning: 'acknowledged', comment: 'reefer restarted' },
      closed: null,
    },
  ],
  verdict: 'excursion',
  needsReview: true,
  reviewReasons: ['1 excursion(s) outside 2–8 °C'],
  disposition: {
    decision: 'quarantined',
    by: 'quinn',
    printedName: 'Quinn QA',
    at: T0 + 200 * MIN,
    meaning: 'quarantined pending stability review',
    comment: 'ask the manufacturer',
  },
  digest: { algorithm: 'sha256', value: 'ab'.repeat(32), readings: 180 },
  chart: [
    { deviceId: 'room-a', locationId: 'cold-room', points: Array.from({ length: 30 }, (_, i) => [T0 + i * MIN, 5 + Math.sin(i / 5)] as [number, number]) },
    {
      deviceId: 'truck-a',
      locationId: 'truck-box',
      points: Array.from({ length: 150 }, (_, i) => [T0 + (30 + i) * MIN, i >= 30 && i < 70 ? 10.2 : 5.5] as [number, number]),
    },
  ],
  verification: { url: 'http://127.0.0.1:8080/verify/AAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB', expiresAt: T0 + 7 * 1440 * MIN },
});

async function pdfText(file: string): Promise<string> {
  const { code, stdout, stderr } = await run('pdftotext', ['-layout', file, '-']);
  expect(code, stderr).toBe(0);
  return stdout;
}

/** Fraction of non-white pixels of page 1 (pdftoppm's PGM output is trivial to read). */
async function inkOnFirstPage(file: string): Promise<number> {
  const out = path.join(dir, `${path.basename(file)}-page`);
  const { code, stderr } = await run('pdftoppm', ['-r', '40', '-gray', '-f', '1', '-l', '1', file, out]);
  expect(code, stderr).toBe(0);
  const pgm = readFileSync(`${out}-1.pgm`);
  // Header: "P5\n<w> <h>\n255\n", then one byte per pixel.
  const header = /^P5\s+(\d+)\s+(\d+)\s+(\d+)\s/.exec(pgm.subarray(0, 40).toString('latin1'))!;
  const pixels = pgm.subarray(header[0].length);
  let ink = 0;
  for (const p of pixels) if (p < 200) ink++;
  return ink / pixels.length;
}

describe('report formats', () => {
  it('writes a PDF that renders and shows the key figures, in English and in Chinese', async () => {
    for (const lang of ['en', 'zh-CN'] as const) {
      const { body, contentType } = await renderReport(report, 'pdf', { lang, timeZone: 'Asia/Shanghai' });
      expect(contentType).toBe('application/pdf');
      const file = path.join(dir, `shipment-${lang}.pdf`);
      writeFileSync(file, body);
      const ink = await inkOnFirstPage(file);
      expect(ink).toBeGreaterThan(0.02);
      const text = await pdfText(file);
      for (const figure of [
        'SH-FMT-1',
        '5.87',
        '10.4',
        '-18.5',
        '94.44',
        'Quinn QA',
        'truck-a',
        report.verification!.url,
        '2026-11-20 08:00:00',
        'ab'.repeat(8),
      ])
        expect(text, `${lang}: ${figure}`).toContain(figure);
      if (lang === 'zh-CN') {
        for (const label of ['全程冷链温度记录', '平均动力学温度', '存在超标', '隔离', '电子签名', '沪A12345']) expect(text).toContain(label);
      } else {
        for (const label of ['Full-chain cold-chain temperature record', 'Mean kinetic temperature', 'Excursion — needs QA review', 'Quarantined'])
          expect(text).toContain(label);
      }
    }
  });

  it('defuses formula injection in CSV and keeps numbers numeric', async () => {
    const csv = (await renderReport(report, 'csv', { lang: 'en' })).body;
    expect([...csv.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = csv.toString('utf8');
    expect(text).toContain(`"'=HYPERLINK(""http://evil.example"",""click"")"`);
    expect(text).toContain(`"'@SUM(A1)"`);
    expect(text).toContain(`"'+1-LOT"`);
    expect(text).toContain(`"'-2+3 <script>alert(1)</script>"`);
    expect(text).not.toMatch(/(^|,)[=+@]/m);
    expect(csvCell(-18.5)).toBe('-18.5');
    expect(csvCell('-18.5')).toBe(`"'-18.5"`);
    expect(csvCell('plain')).toBe('plain');
    expect(text).toMatch(/^Mean kinetic temperature \(MKT\) \(°C\),5\.87\r$/m);
  });

  it('escapes every string in HTML and shows the verdict and signature', async () => {
    const html = (await renderReport(report, 'html', { lang: 'zh-CN', timeZone: 'Asia/Shanghai' })).body.toString('utf8');
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    expect(html).toContain('lang="zh-CN"');
    expect(html).toContain('class="verdict bad"');
    expect(html).toContain('Quinn QA');
    expect(html).toMatch(/<svg[^>]*viewBox/);
  });

  it('paginates a month of GSP records over many pages, fast enough', async () => {
    const rows = Array.from({ length: 12_000 }, (_, i) => ({
      at: T0 + i * 5 * MIN,
      deviceId: `truck-${i % 2 ? 'a' : 'b'}`,
      temperature: i % 500 < 20 ? 9.1 : 4.2,
      humidity: i % 3 ? 55 : null,
      outOfRange: i % 500 < 20,
      intervalMs: i % 500 < 20 ? 2 * MIN : 5 * MIN,
    }));
    const record = truckGspRecord({
      to: T0 + 60_000 * MIN,
      sensors: [{ deviceId: 'truck-a' }, { deviceId: 'truck-b' }],
      rows,
      completeness: { expected: 12_000, present: 12_000, missingBySequence: 0, percent: 100 },
      digest: { algorithm: 'sha256', value: 'cd'.repeat(32), readings: 12_000 },
    });
    const started = performance.now();
    const { body } = await renderReport(record, 'pdf', { lang: 'zh-CN', timeZone: 'Asia/Shanghai' });
    process.stderr.write(`GSP record PDF, 12,000 rows: ${(performance.now() - started).toFixed(0)} ms, ${body.length} bytes\n`);
    const file = path.join(dir, 'gsp.pdf');
    writeFileSync(file, body);
    const info = await run('pdfinfo', [file]);
    const pages = Number(/Pages:\s+(\d+)/.exec(info.stdout)?.[1]);
    expect(pages).toBeGreaterThan(100);
    const text = await pdfText(file);
    expect(text).toContain('温湿度记录');
    expect(text).toContain('refrigerated truck 沪A12345');
    expect(text).toContain(`第 ${pages} 页，共 ${pages} 页`);
    const csv = (await renderReport(record, 'csv', { lang: 'en' })).body.toString('utf8');
    expect(csv.split('\r\n').filter((l) => /^\d{4}-\d{2}-\d{2},/.test(l))).toHaveLength(12_000);
  });

  it('marks late readings with their arrival time and a legend, in every format and both languages', async () => {
    const arrived = T0 + 20 * 60 * MIN;
    const lateRun = {
      deviceId: 'truck-a',
      locationId: 'truck-box',
      start: T0 + 10 * MIN,
      end: T0 + 14 * MIN,
      readings: 5,
      late: true,
      receivedAt: arrived,
      lastReceivedAt: arrived,
      maxDelayMs: arrived - (T0 + 10 * MIN),
    };
    const rows = Array.from({ length: 6 }, (_, i) => ({
      at: T0 + i * 5 * MIN,
      deviceId: 'truck-a',
      temperature: 4.2,
      humidity: null,
      outOfRange: false,
      intervalMs: 5 * MIN,
      ...(i === 2 ? { late: true, receivedAt: arrived } : {}),
    }));
    const record = truckGspRecord({
      to: T0 + 30 * MIN,
      sensors: [{ deviceId: 'truck-a' }],
      rows,
      completeness: { expected: 30, present: 30, missingBySequence: 0, percent: 100, late: 5, latestArrivalDelayMs: lateRun.maxDelayMs },
      lateData: [lateRun],
      digest: { algorithm: 'sha256', value: 'cd'.repeat(32), readings: 30 },
    });
    const csv = (await renderReport(record, 'csv', { lang: 'en', timeZone: 'UTC' })).body.toString('utf8');
    expect(csv).toContain(',Arrived late (received at)\r\n');
    expect(csv).toContain(',LATE 2026-11-20 20:00:00\r\n');
    expect(csv.match(/,LATE 2026/g)).toHaveLength(1);
    expect(csv).toContain('5 readings arrived late, up to 19 h 50 min after they were taken');
    expect(csv).toContain('LATE: the reading arrived more than max(2 × the device interval, 15 min) after it was taken');
    const zh = (await renderReport(record, 'html', { lang: 'zh-CN', timeZone: 'UTC' })).body.toString('utf8');
    expect(zh).toContain('迟到 2026-11-20 20:00:00');
    expect(zh).toContain('5 条读数迟到上传，最长在采集后 19小时 50分 才收到');
    expect(zh).toContain('class="note"');
    for (const lang of ['en', 'zh-CN'] as const) {
      const file = path.join(dir, `late-${lang}.pdf`);
      writeFileSync(file, (await renderReport(record, 'pdf', { lang, timeZone: 'UTC' })).body);
      const text = (await pdfText(file)).replace(/\s+/g, ' ');
      for (const expected of lang === 'en'
        ? ['LATE 2026-11-20 20:00:00', 'LATE: the reading arrived', 'Late data']
        : ['迟到 2026-11-20 20:00:00', '迟到：读数在采集后', '迟到数据'])
        expect(text, `${lang}: ${expected}`).toContain(expected);
    }
    // The shipment report: the late table and the count in completeness; none when nothing came late.
    const withLate = shipmentReportSchema.parse({
      ...report,
      overall: { ...report.overall, completeness: record.completeness, lateData: [lateRun] },
    });
    const shipmentCsv = (await renderReport(withLate, 'csv', { lang: 'en', timeZone: 'UTC' })).body.toString('utf8');
    expect(shipmentCsv).toContain('Late data (arrived long after it was taken)');
    expect(shipmentCsv).toContain('truck-a (LATE),truck-box,2026-11-20 00:10:00,2026-11-20 00:14:00,5,2026-11-20 20:00:00,19 h 50 min');
    const plain = (await renderReport(report, 'csv', { lang: 'en', timeZone: 'UTC' })).body.toString('utf8');
    for (const mark of ['Late data', 'LATE', 'arrived late']) expect(plain).not.toContain(mark);
  });
});
