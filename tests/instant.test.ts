import { describe, expect, it } from 'vitest';
import { instantQuerySchema, instantSchema, parseInstant } from '../core/instant.js';

describe('one parser for points in time (core/instant.ts)', () => {
  it('takes epoch ms and ISO 8601 with a zone, in every form a device or client sends', () => {
    const at = Date.parse('2026-11-22T00:00:00Z');
    for (const value of [
      at,
      '2026-11-22T00:00:00Z',
      '2026-11-22T08:00:00+08:00',
      '2026-11-22T08:00:00+0800',
      '2026-11-22T08:00+08:00',
      '2026-11-22T08:00:00.000000000+08:00',
    ]) {
      expect(parseInstant(value), String(value)).toEqual({ ok: true, ms: at });
    }
    expect(instantQuerySchema.parse(String(at))).toBe(at);
    expect(instantSchema.parse('2026-11-22T08:00:00+08:00')).toBe(at);
  });

  it('refuses zoneless, impossible and unstorable times with words a person can act on', () => {
    const expected = /^must be epoch milliseconds or ISO 8601 with a zone \(2026-11-22T08:00:00\+08:00\), got "/;
    for (const value of ['2026-11-22T08:00:00', '2026-02-31T00:00:00Z', '2026-11-22T24:00:00Z', 'yesterday', '-5', '1700000000000']) {
      const result = parseInstant(value);
      expect(result.ok, value).toBe(false);
      if (!result.ok) expect(result.problem).toMatch(expected);
    }
    expect(parseInstant(1.5)).toEqual({ ok: false, problem: 'must be integer epoch milliseconds, got 1.5' });
    for (const value of [1e16, '9999-01-01T00:00:00Z'] as const)
      expect(parseInstant(value)).toMatchObject({ ok: false, problem: expect.stringMatching(/^is outside the time range InfluxDB can store/) });
    expect(parseInstant('99999999999999999999', { digits: true }).ok).toBe(false);
    expect(instantSchema.safeParse(true).success).toBe(false);
  });
});
