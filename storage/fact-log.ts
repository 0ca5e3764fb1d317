import type { z } from 'zod';
import { quoteIdentifier, quoteString, rowsOf, type InfluxClient } from './influx.js';
import { nsWithSequence, point, type FieldValue } from './line-protocol.js';

/**
 * A time-stamped fact (an alert event, a custody event, a quarantined message…) as it is stored:
 * one point of `measurement`. Facts are only ever added, never changed or deleted.
 */
export interface Fact {
  measurement: string;
  /** Indexed values to find facts by (ids, kinds, places), in the order they are written. */
  tags: Record<string, string>;
  /** The rest, in the order they are written; undefined ones are left out. */
  fields: Record<string, FieldValue | undefined>;
  /** When it was recorded, epoch ms. */
  at: number;
}

/** The durable local log facts go through on their way to InfluxDB: the spool (fsync'ed, drained by the writer). */
export interface DurableLog {
  append(lines: string): Promise<void>;
}

/** The fact as a line: ns timestamp with `sequence` in the sub-ms digits, so facts of one ms stay apart. */
export const factLine = (fact: Fact, sequence: number): string => point(fact.measurement, fact.tags, fact.fields, nsWithSequence(fact.at, sequence));

/** What to read back, and how a stored row becomes what the schema validates. */
export interface ReplayQuery {
  measurement: string;
  /** The tags and fields to read; the point's time is `at`. */
  columns: readonly string[];
  /** Columns that hold JSON text, parsed before validation. */
  json?: readonly string[];
  /** The fact is this one column's JSON as a whole (rather than the row). */
  whole?: string;
  /** Only facts at or after this time (epoch ms). */
  sinceMs?: number;
  /** Only facts with these tag values (undefined ones are not filtered on). */
  tags?: Record<string, string | undefined>;
  /** A stored fact that does not validate is skipped and reported here; without it, replay throws. */
  onInvalid?: (problem: string, at: number) => void;
}

/**
 * Facts of one measurement from InfluxDB in time order, each validated by `schema` (the schema is
 * the single source of truth of what a fact is; the stored form is checked, never trusted).
 */
export async function replayFacts<S extends z.ZodType>(influx: InfluxClient, schema: S, query: ReplayQuery): Promise<Array<z.output<S>>> {
  const where: string[] = [];
  if (query.sinceMs !== undefined) where.push(`time >= ${query.sinceMs}ms`);
  for (const [tag, value] of Object.entries(query.tags ?? {})) if (value !== undefined) where.push(`${quoteIdentifier(tag)} = ${quoteString(value)}`);
  const statement = `SELECT ${query.columns.map(quoteIdentifier).join(', ')} FROM ${quoteIdentifier(query.measurement)}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY time ASC`;
  let read = parseFacts(schema, query, await influx.query(statement));
  // InfluxDB 1.x shows a point being written field by field: a query beside the write can get its
  // row with some fields still null (126 of 642 queries beside a steady write of 2 kB facts, here),
  // which the schema refuses. Such a point is whole a moment later: read once more before taking a
  // row for invalid (a board asking for an incident just signed answered HTTP 500 that way in CI).
  if (read.problems.length > 0) {
    await new Promise((resolve) => setTimeout(resolve, REREAD_AFTER_MS));
    read = parseFacts(schema, query, await influx.query(statement));
  }
  for (const { problem, at, err } of read.problems) {
    if (!query.onInvalid) throw err;
    query.onInvalid(problem, at);
  }
  return read.facts;
}

/** How long after a row that did not validate its point is read again: a write completes within it. */
const REREAD_AFTER_MS = 100;

/** The rows of a replay's answer as facts, and those that are not (JSON or the schema refused them). */
function parseFacts<S extends z.ZodType>(
  schema: S,
  query: ReplayQuery,
  series: Awaited<ReturnType<InfluxClient['query']>>,
): { facts: Array<z.output<S>>; problems: Array<{ problem: string; at: number; err: Error }> } {
  const json = new Set(query.json);
  const facts: Array<z.output<S>> = [];
  const problems: Array<{ problem: string; at: number; err: Error }> = [];
  for (const row of rowsOf(series[0])) {
    const at = row.time as number;
    let candidate: unknown;
    try {
      if (query.whole) candidate = JSON.parse(String(row[query.whole]));
      else {
        const fact: Record<string, unknown> = { at };
        for (const column of query.columns) {
          const value = row[column];
          if (value !== null && value !== undefined) fact[column] = json.has(column) ? JSON.parse(value as string) : value;
        }
        candidate = fact;
      }
    } catch (err) {
      problems.push({ problem: `not JSON: ${(err as Error).message}`, at, err: err as Error });
      continue;
    }
    const parsed = schema.safeParse(candidate);
    if (parsed.success) facts.push(parsed.data);
    else problems.push({ problem: parsed.error.message, at, err: parsed.error });
  }
  return { facts, problems };
}

/**
 * A generic fact log: `append` makes a fact durable through the spool (resolves after the fsync;
 * InfluxDB gets it when the writer drains, so an outage loses nothing), `replay` reads facts back
 * from InfluxDB validated by a zod schema. Alerts, incidents and shipments keep their facts here.
 */
export class FactLog {
  private sequence = 0;

  /** Without `influx` the log only appends (ingestion: rejects and device messages are read by queries, not replayed). */
  constructor(
    private readonly log: DurableLog,
    private readonly influx?: InfluxClient,
  ) {}

  append(fact: Fact): Promise<void> {
    return this.log.append(factLine(fact, this.sequence++));
  }

  replay<S extends z.ZodType>(schema: S, query: ReplayQuery): Promise<Array<z.output<S>>> {
    if (!this.influx) return Promise.reject(new Error(`cannot replay ${query.measurement}: this fact log was opened without InfluxDB`));
    return replayFacts(this.influx, schema, query);
  }
}
