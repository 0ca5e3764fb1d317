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

/** The text of the upper part of the last integer printed by `integerText`: it changes once every 1,000 s of epoch ms. */
let upperOf = -1;
let upperText = '';

/**
 * `${n}` for an integer: epoch ms (13 digits) is not a small integer, and V8 prints it as a double,
 * ≈ 300 ns each; as two small integers (the digits above and the 6 below), the upper part's text
 * kept from the call before, ≈ 50 ns. Every reading's line has one (batched ingest, issue 15 item 3).
 */
export function integerText(n: number): string {
  if (!(n >= 1_000_000 && n <= Number.MAX_SAFE_INTEGER) || !Number.isInteger(n)) return `${n}`;
  const upper = Math.floor(n / 1_000_000);
  const lower = n - upper * 1_000_000;
  if (upper !== upperOf) {
    upperOf = upper;
    upperText = `${upper}`;
  }
  return `${upperText}${lower >= 100_000 ? '' : lower >= 10_000 ? '0' : lower >= 1000 ? '00' : lower >= 100 ? '000' : lower >= 10 ? '0000' : '00000'}${lower}`;
}

/** Most distinct values `numberText` keeps the text of before it starts again. */
const NUMBER_TEXTS_MAX = 4096;
const numberTexts = new Map<number, string>();

/**
 * `${v}` for a measured value, kept for the next reading with the same value: a fractional number
 * is printed as a double (≈ 150–300 ns), and a sensor's temperatures and humidities repeat (a
 * resolution of 0.1 or 0.01): a Map lookup is ≈ 20–40 ns. The same number always has the same
 * text (0 and −0 share a key and both print `0`), so the lines are byte for byte what they were.
 */
export function numberText(v: number): string {
  let text = numberTexts.get(v);
  if (text === undefined) {
    if (numberTexts.size >= NUMBER_TEXTS_MAX) numberTexts.clear();
    text = `${v}`;
    numberTexts.set(v, text);
  }
  return text;
}

/** Epoch ms as the ns timestamp of a point (what readings use: one point per device and device time). */
export const nsOf = (ms: number): string => `${integerText(ms)}000000`;

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
