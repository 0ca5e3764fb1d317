/**
 * InfluxDB line protocol as every measurement we store is written: escaping, field types and
 * nanosecond timestamps. The spool keeps these lines exactly as they are sent to `/write`, so a
 * replay after a crash writes identical points (same series, same timestamp): idempotent.
 */

/** A tag value: backslash, comma, equals sign and space escaped (a newline would end the line). */
export const escapeTag = (value: string) => (/[\\,= \n]/.test(value) ? value.replace(/[\\,= ]/g, (c) => `\\${c}`).replace(/\n/g, '\\n') : value);

/** `escapeTag` undone, in one pass: a backslash and `n` is a newline, a backslash and any other character that character. */
export const unescapeTag = (value: string) => (value.includes('\\') ? value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c)) : value);

/** A string field value, quoted. */
export const escapeString = (value: string) => `"${value.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, '\\n')}"`;

/** An integer field (`12i`); a plain number is a float field. */
export class Int {
  constructor(readonly value: number) {}
}
export const int = (value: number) => new Int(value);

export type FieldValue = number | boolean | string | Int;

/** `measurement,tag=value,…` — tags in the order given (InfluxDB sorts them itself). */
export function seriesKey(measurement: string, tags: Readonly<Record<string, string>>): string {
  let key = measurement;
  for (const name in tags) key += `,${name}=${escapeTag(tags[name]!)}`;
  return key;
}

/** `field=value,…` in the order given; undefined values are left out. */
export function fieldSet(fields: Readonly<Record<string, FieldValue | undefined>>): string {
  let set = '';
  for (const name in fields) {
    const value = fields[name];
    if (value === undefined) continue;
    const text = typeof value === 'string' ? escapeString(value) : value instanceof Int ? `${value.value}i` : `${value}`;
    set += set ? `,${name}=${text}` : `${name}=${text}`;
  }
  return set;
}

/** Epoch ms as the ns timestamp of a point (what readings use: one point per device and device time). */
export const nsOf = (ms: number): string => `${ms}000000`;

/**
 * Epoch ms plus a sequence number in the sub-ms digits: facts of one series recorded in the same
 * millisecond (two events of one alert, two rejects of one device) stay two points.
 */
export const nsWithSequence = (ms: number, sequence: number): string => `${ms}${String(sequence % 1_000_000).padStart(6, '0')}`;

export function point(
  measurement: string,
  tags: Readonly<Record<string, string>>,
  fields: Readonly<Record<string, FieldValue | undefined>>,
  ns: string,
): string {
  return `${seriesKey(measurement, tags)} ${fieldSet(fields)} ${ns}`;
}
