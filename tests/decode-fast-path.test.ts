import { describe, expect, it } from 'vitest';
import { readingSchema } from '../core/reading.js';
import { decodeTelemetry, wellFormedReading } from '../ingestor/decode.js';

/** Values each key takes in the combinations below: well-formed ones, edge cases, and wrong ones. */
const VALUES: Record<string, unknown[]> = {
  ts: [1_764_000_000_000, 0, -1, 1.5, 9_223_372_036_854, 9_223_372_036_855, '2026-11-22T08:00:00+08:00', '1764000000000', null, Number.NaN],
  temperature: [4.2, -100, 150, -100.01, 150.5, -0, Number.POSITIVE_INFINITY, '4.2', null, true],
  humidity: [undefined, 0, 100, 55.5, -1, 101, '55'],
  battery: [undefined, 0, 100, 100.1, null],
  lat: [undefined, -90, 90, 31.2, 90.5],
  lon: [undefined, -180, 180, 121.4, -181],
  door: [undefined, true, false, 0, 'open'],
  seq: [undefined, 0, 12, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2, -1, 1.5, '3'],
};

/** A deterministic sample of combinations (every value of each key appears, mixed with the others). */
function* items(): Generator<Record<string, unknown>> {
  const keys = Object.keys(VALUES);
  for (let n = 0; n < 6000; n++) {
    const item: Record<string, unknown> = {};
    keys.forEach((key, k) => {
      const values = VALUES[key]!;
      // Well-formed values come first in each list: weighted, so that some combinations are valid throughout.
      const pick = (n * (k + 7) + Math.floor(n / (k + 2))) % (values.length + 3);
      const value = values[pick < values.length ? pick : pick % 2];
      if (value !== undefined) item[key] = value;
    });
    yield item;
  }
  yield { ts: 1_764_000_000_000, temperature: 4, extra: 1 };
  yield { ts: 1_764_000_000_000 };
  yield JSON.parse('{"ts":1764000000000,"temperature":4,"__proto__":{"x":1}}');
  yield { temperature: 4, ts: 1_764_000_000_000, seq: 3, humidity: 50 };
}

describe('well-formed readings skip zod', () => {
  it('only when zod accepts them, with the same reading, keys in the same order', () => {
    let fast = 0;
    let total = 0;
    for (const item of items()) {
      total++;
      const quick = wellFormedReading(item);
      const parsed = readingSchema.safeParse(item);
      if (quick === undefined) continue;
      fast++;
      expect(parsed.success, JSON.stringify(item)).toBe(true);
      expect(quick).toStrictEqual(parsed.data);
      expect(JSON.stringify(quick)).toBe(JSON.stringify(parsed.data));
    }
    // Some hundreds of the combinations are well-formed: the fast path must actually take them.
    expect(fast).toBeGreaterThan(total / 20);
  });

  it('and what it leaves to zod is still refused with zod`s precise words', () => {
    const limits = { maxPayloadBytes: 262_144, maxBatchReadings: 5000, maxFutureSkewMs: 300_000, maxPastAgeMs: 30 * 86_400_000 };
    const now = Date.now();
    const decoded = decodeTelemetry(
      Buffer.from(JSON.stringify([{ ts: now, temperature: 4.5, seq: 1 }, { ts: now, temperature: 400 }, { ts: now, temperature: 4, seq: -1 }, { ts: now }])),
      now,
      limits,
    );
    expect(decoded.readings).toEqual([{ ts: now, temperature: 4.5, seq: 1 }]);
    expect(decoded.rejections.map((r) => [r.reason, r.index, r.message])).toEqual([
      ['impossible_value', 1, '[1].temperature: temperature above the physical limit of 150 °C'],
      ['invalid_reading', 2, expect.stringMatching(/^\[2\]\.seq: /)],
      ['invalid_reading', 3, '[3].temperature: required field missing'],
    ]);
  });
});
