import { z } from 'zod';

/**
 * Points in time as devices, API clients and the CLI send them: epoch milliseconds or ISO 8601
 * with an explicit zone (a zoneless time is ambiguous). The one parser: device timestamps
 * (core/reading.ts), times in request bodies (shipments/schema.ts) and in query strings (api/)
 * all go through `parseInstant`, so they accept and refuse the same things with the same words.
 */

/** InfluxDB keeps nanoseconds in a signed 64-bit integer: 1677-09-21 to 2262-04-11. */
export const STORABLE_MS = 9_223_372_036_854;

const ISO_WITH_ZONE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](?:[01]\d|2[0-3]):?[0-5]\d)$/;

const EXPECTED = 'epoch milliseconds or ISO 8601 with a zone (2026-11-22T08:00:00+08:00)';

export type InstantResult = { ok: true; ms: number } | { ok: false; problem: string };

/** A calendar date and time that exists (no 31 February, no 24:00). */
function realDateTime(year: number, month: number, day: number, hour: number, minute: number, second: number): boolean {
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return false;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return day >= 1 && day <= daysInMonth;
}

/**
 * Epoch ms from a number (integer milliseconds) or a string (ISO 8601 with a zone; with
 * `digits`, also a run of digits, as query strings carry epoch ms). Refuses what InfluxDB cannot
 * store. The problem reads after a field name: "ts: must be …".
 */
export function parseInstant(value: number | string, options: { digits?: boolean } = {}): InstantResult {
  let ms: number;
  if (typeof value === 'number' || (options.digits && /^\d+$/.test(value))) {
    ms = Number(value);
    if (!Number.isInteger(ms)) return { ok: false, problem: `must be integer epoch milliseconds, got ${value}` };
  } else {
    const parts = ISO_WITH_ZONE.exec(value);
    const [year, month, day, hour, minute, second] = (parts?.slice(1, 7) ?? []).map((p) => Number(p ?? 0));
    if (!parts || !realDateTime(year!, month!, day!, hour!, minute!, second!))
      return { ok: false, problem: `must be ${EXPECTED}, got ${JSON.stringify(value.slice(0, 64))}` };
    ms = Date.parse(value);
  }
  if (!(Math.abs(ms) <= STORABLE_MS)) return { ok: false, problem: 'is outside the time range InfluxDB can store (1677-09-21 to 2262-04-11)' };
  return { ok: true, ms };
}

const instantIssue = (value: number | string, options: { digits?: boolean }, ctx: z.core.$RefinementCtx) => {
  const result = parseInstant(value, options);
  if (result.ok) return result.ms;
  ctx.addIssue({ code: 'custom', message: result.problem });
  return z.NEVER;
};

/** A time in a JSON body or payload: a number (epoch ms) or an ISO 8601 string with a zone. */
export const instantSchema = z.union([z.number(), z.string()]).transform((value, ctx) => instantIssue(value, {}, ctx));

/** A time in a query string or on the command line: epoch ms digits or ISO 8601 with a zone. */
export const instantQuerySchema = z.string().transform((value, ctx) => instantIssue(value, { digits: true }, ctx));

/** A query's from/to: `to` left out is now, `from` left out is `span` ms before it; from must be before to. */
export const period = <T extends { from?: number; to?: number }>(query: z.ZodType<T>, span = 0) =>
  query
    .transform(({ from, to = Date.now(), ...rest }) => ({ ...rest, from: from ?? to - span, to }))
    .refine((q) => q.from < q.to, { message: 'from must be before to', path: ['from'] });
