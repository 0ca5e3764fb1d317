import { describe, expect, it } from 'vitest';
import type { Reading } from '../core/reading.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { IngestPipeline } from '../ingestor/pipeline.js';
import { Spool } from '../ingestor/spool.js';
import { testLog } from './helpers/workspace.js';
import {
  FIELDS_MAX_BYTES,
  ReadingText,
  deferredLine,
  fingerprintOf,
  putNs,
  readingFields,
  readingLines,
  receivedAtField,
  revisionLine,
} from '../ingestor/records.js';
import { parseReadingLine, readDeferred } from '../ingestor/stored-readings.js';
import { escapeTag, fieldSet, int, integerText, nsOf, numberText, seriesKey, unescapeTag } from '../storage/line-protocol.js';

const placement = { deviceId: 'dev,1 a=b\\c', siteId: 'dc-shanghai', locationId: 'cold room 1', receivedAt: 1_764_000_000_123 };
const readings = [
  { ts: 1_764_000_000_000, temperature: 4.2 },
  { ts: 1_764_000_001_000, temperature: -0.5, humidity: 55.2, seq: 12 },
  { ts: 1_764_000_002_000, temperature: 1e-7, battery: 99, lat: 31.2304, lon: 121.4737, door: false, seq: 0 },
  { ts: 1_764_000_003_000, temperature: -100, humidity: 0, battery: 100, door: true, seq: Number.MAX_SAFE_INTEGER },
];

/** What readingLines wrote before its fast path: the generic builders of storage/line-protocol.ts. */
const generic = (r: (typeof readings)[number], revision?: number) =>
  `${seriesKey('readings', { deviceId: placement.deviceId, locationId: placement.locationId, siteId: placement.siteId, ...(revision ? { revision: String(revision) } : {}) })} ${fieldSet(
    {
      temperature: r.temperature,
      humidity: 'humidity' in r ? r.humidity : undefined,
      battery: 'battery' in r ? r.battery : undefined,
      lat: 'lat' in r ? r.lat : undefined,
      lon: 'lon' in r ? r.lon : undefined,
      door: 'door' in r ? r.door : undefined,
      seq: 'seq' in r && r.seq !== undefined ? int(r.seq) : undefined,
      receivedAt: int(placement.receivedAt),
    },
  )} ${nsOf(r.ts)}`;

describe('reading lines', () => {
  it('are byte for byte what the generic line protocol builders give (a replay must write identical points)', () => {
    expect(readingLines({ ...placement, readings })).toBe(readings.map((r) => generic(r)).join('\n'));
    for (const r of readings) expect(readingFields(r, placement.receivedAt)).toBe(generic(r).split(' ').slice(-2, -1)[0]!.replace(/^.*? /, ''));
    expect(revisionLine(placement, readings[1]!, 2)).toBe(generic(readings[1]!, 2));
  });

  it('are built on the PUBACK path from one text per value: the same fields and the same fingerprint', () => {
    const text = new ReadingText();
    let seed = 11;
    const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const maybe = <T>(value: T) => (random() < 0.5 ? value : undefined);
    const many = Array.from({ length: 2000 }, (_, i) => {
      const r: Record<string, number | boolean> = { ts: 1_764_000_000_000 + i, temperature: Math.round((random() * 250 - 100) * 1000) / 1000 };
      const optional = {
        humidity: maybe(Math.round(random() * 1000) / 10),
        battery: maybe(Math.round(random() * 100)),
        lat: maybe(random() * 180 - 90),
        lon: maybe(random() * 360 - 180),
        door: maybe(random() < 0.5),
        seq: maybe(Math.floor(random() * 1e9)),
      };
      for (const [name, value] of Object.entries(optional)) if (value !== undefined) r[name] = value;
      return r as unknown as Reading & { ts: number };
    });
    const bytes = Buffer.alloc(FIELDS_MAX_BYTES + 8, 0xff);
    // A sequence number's digits are worked out in place up to 2^31 - 1, printed by JavaScript above.
    const edges = [9, 10, 99, 100, 2 ** 31 - 1, 2 ** 31, 2 ** 32 + 5].map(
      (seq, i) => ({ ts: 1_764_000_100_000 + i, temperature: 3.5, seq }) as Reading & { ts: number },
    );
    for (const r of [...readings, ...many, ...edges]) {
      expect(`${text.fields(r)}${receivedAtField(placement.receivedAt)}`).toBe(readingFields(r, placement.receivedAt));
      // Independent of ReadingText: the generic builders' fields (what a replay must write again).
      expect(`${text.fields(r)}${receivedAtField(placement.receivedAt)}`).toBe(
        generic(r as (typeof readings)[number])
          .split(' ')
          .slice(-2, -1)[0]!,
      );
      // The bytes written in place on the PUBACK path: the same characters, nothing past them.
      const end = text.write(r, bytes.fill(0xff), 3);
      expect(bytes.toString('latin1', 3, end)).toBe(text.fields(r));
      expect(end - 3).toBeLessThanOrEqual(FIELDS_MAX_BYTES);
      expect(bytes[end]).toBe(0xff);
      expect(text.fingerprint).toBe(fingerprintOf(r));
      // The fingerprint's stored form (conflict records keep it): FNV-1a over the values joined by `|`.
      const values = `${r.temperature}|${r.humidity}|${r.battery}|${r.lat}|${r.lon}|${r.door}|${r.seq}`;
      let reference = 0x811c9dc5;
      for (let i = 0; i < values.length; i++) reference = Math.imul(reference ^ values.charCodeAt(i), 0x01000193);
      expect(text.fingerprint).toBe(reference >>> 0);
    }
  });

  it("write a point's time in place as nsOf prints it, for epoch ms of every size", () => {
    let seed = 5;
    const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const times = [0, 1, -1, 999_999_999_999, 1e12, 1e12 + 1, 1_764_000_000_000, 9_999_999_999_999, 1e13, 8.64e15, -8.64e15, 1_000_000, 1_764_000_000_000.5];
    for (let i = 0; i < 5000; i++) times.push(Math.floor(random() * 1e13), Math.floor(1e12 + random() * 9e12), Math.floor((random() - 0.5) * 2e15));
    const bytes = Buffer.alloc(64, 0xff);
    for (const ms of times) {
      const end = putNs(bytes.fill(0xff), 2, ms);
      expect(bytes.toString('latin1', 2, end), String(ms)).toBe(nsOf(ms));
      expect(bytes[end]).toBe(0xff);
    }
  });

  it('are spooled by the pipeline byte for byte as readingLines writes them, redeliveries left out and conflicts as revisions', async () => {
    const spool = new Spool(mkdtempSync(path.join(tmpdir(), 'cc-lines-')), 1 << 20, testLog);
    await spool.open();
    const pipeline = new IngestPipeline(spool, { maxPayloadBytes: 1 << 20, maxBatchReadings: 10_000, maxFutureSkewMs: 300_000, maxPastAgeMs: 30 * 86_400_000 });
    pipeline.recent.useStoredNewest(new Map(), Date.now() - 30 * 86_400_000);
    const where = { deviceId: 'dev é,1', siteId: 'dc-shanghai', locationId: 'cold room 1' };
    const t0 = Date.now() - 3_600_000;
    let seed = 3;
    const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const reading = (i: number) => ({
      ts: t0 + i * 1000,
      temperature: Math.round((random() * 20 - 5) * 100) / 100,
      ...(random() < 0.5 ? { humidity: Math.round(random() * 1000) / 10 } : {}),
      ...(random() < 0.3 ? { door: random() < 0.5 } : {}),
      seq: i,
    });
    const first = Array.from({ length: 300 }, (_, i) => reading(i));
    // Half of them again (redeliveries), one changed (a conflict), and new ones.
    const changed = { ...first[7]!, temperature: first[7]!.temperature + 1 };
    const second = [...first.slice(0, 150), changed, ...Array.from({ length: 100 }, (_, i) => reading(300 + i))];
    const topic = 'cc/v1/dev/telemetry';
    const one = await pipeline.ingestTelemetry(where, topic, Buffer.from(JSON.stringify(first)));
    const two = await pipeline.ingestTelemetry(where, topic, Buffer.from(JSON.stringify(second)));
    expect([one.accepted, two.accepted]).toEqual([300, 251]);
    const chunk = await spool.read(spool.start, 1 << 20);
    const lines = chunk.lines.filter((line) => line.startsWith('readings,'));
    const receivedAt = (line: string) => Number(/receivedAt=(\d+)i/.exec(line)![1]);
    const at = [receivedAt(lines[0]!), receivedAt(lines[300]!)];
    expect(lines).toEqual([
      ...readingLines({ ...where, receivedAt: at[0]!, readings: first }).split('\n'),
      ...readingLines({ ...where, receivedAt: at[1]!, readings: second.slice(151) }).split('\n'),
      revisionLine({ ...where, receivedAt: at[1]! }, changed, 1),
    ]);
    expect(chunk.records).toBe(lines.length + 1); // and the conflict's record
    await spool.close();
    // A closed (or failed) spool refuses such a message once, to its sender: its new readings' lines
    // and its revision each asked the spool, and the first refusal went unheard, which ends the process.
    const third = [reading(400), { ...first[8]!, temperature: first[8]!.temperature + 1 }];
    await expect(pipeline.ingestTelemetry(where, topic, Buffer.from(JSON.stringify(third)))).rejects.toThrow(/spool is closed/);
  });

  it('read back to the same device, placement and values', () => {
    for (const r of readings) {
      const back = parseReadingLine(readingLines({ ...placement, readings: [r] }))!;
      expect(back).toEqual({ ...placement, revision: 0, reading: r });
    }
  });
});

describe('number texts on the PUBACK path', () => {
  it('are what JavaScript prints, for integers of every size and sign and for values seen again or not', () => {
    let seed = 7;
    const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const integers = [
      0,
      1,
      9,
      999_999,
      1_000_000,
      1_000_001,
      1_000_010,
      1_764_000_000_000,
      1_764_000_100_000,
      1_764_000_099_999,
      Number.MAX_SAFE_INTEGER,
      -1,
      -1_764_000_000_000,
      2 ** 53 + 2,
      1e21,
      1.5,
      -0,
    ];
    for (let i = 0; i < 20_000; i++) {
      const magnitude = 10 ** Math.floor(random() * 17);
      integers.push(Math.floor(random() * magnitude), 1_764_000_000_000 + Math.floor(random() * 10_000_000), -Math.floor(random() * magnitude));
    }
    for (const n of integers) {
      expect(integerText(n)).toBe(`${n}`);
      expect(nsOf(n)).toBe(`${n}000000`);
    }
    // More distinct values than the cache keeps, repeated, and the awkward ones.
    const values = [0, -0, 1e-7, -1e-7, 0.1 + 0.2, 1e21, 123456789.125, -100, 150, Number.MIN_VALUE];
    for (let i = 0; i < 10_000; i++) values.push(Math.round(random() * 2500) / 10 - 100, random() * 360 - 180, Math.round(random() * 100));
    for (const v of [...values, ...values]) expect(numberText(v)).toBe(`${v}`);
  });
});

describe('deferred spool lines', () => {
  const topic = 'cc/v1/dev,1 "x"/telemetry';

  it('carry the reading line as it is sent, with the device, device time and topic read back without JSON of the reading', () => {
    for (const r of readings) {
      const line = deferredLine(placement, topic, r);
      expect(line.startsWith('?')).toBe(true);
      expect(readDeferred(line)).toEqual({ deviceId: placement.deviceId, ts: r.ts, topic, line: readingLines({ ...placement, readings: [r] }) });
    }
  });

  it('written by an earlier version (JSON) are still read', () => {
    const r = readings[2]!;
    const legacy = `?${JSON.stringify({ ...placement, topic, reading: r })}`;
    expect(readDeferred(legacy)).toEqual({ deviceId: placement.deviceId, ts: r.ts, topic, line: readingLines({ ...placement, readings: [r] }) });
  });

  it('that are damaged are not taken for readings', () => {
    const line = deferredLine(placement, topic, readings[0]!);
    for (const bad of [
      '?',
      '?"unterminated',
      `${line.slice(0, 20)}`,
      '?{"deviceId":1}',
      `?"t" weather,deviceId=x t=1 1000000`,
      `${line.slice(0, line.lastIndexOf(' '))} soon`,
    ])
      expect(readDeferred(bad)).toBeUndefined();
  });
});

describe('tag values', () => {
  it('read back as they were escaped, a literal backslash before an n included', () => {
    for (const value of ['cold room 1', 'a,b=c d', 'line\nbreak', 'back\\slash', 'literal \\n not a newline', '\\', 'x\\\\n\n']) {
      expect(unescapeTag(escapeTag(value))).toBe(value);
    }
  });
});
