import { z } from 'zod';
import { readingSchema, rejectReasons } from '../core/reading.js';

/**
 * What the spool holds, one JSON object a line. Short keys: these are written for every
 * message on the hot path. Placement (site, location) is captured at ingest time so a device
 * moved later does not rewrite history, and so that a redelivered record maps to the same point.
 */
export const acceptedRecordSchema = z.object({
  k: z.literal('r'),
  /** device id */
  d: z.string(),
  /** site id */
  s: z.string(),
  /** location id */
  l: z.string(),
  /** received at (server time, epoch ms) */
  at: z.number(),
  r: z.array(readingSchema.extend({ ts: z.number() })),
});

export const rejectedRecordSchema = z.object({
  k: z.literal('x'),
  d: z.string(),
  at: z.number(),
  reason: z.enum(rejectReasons),
  message: z.string(),
  index: z.number().optional(),
  topic: z.string(),
  bytes: z.number(),
  /** The start of the raw payload, for whoever investigates. */
  raw: z.string(),
});

export const spoolRecordSchema = z.discriminatedUnion('k', [acceptedRecordSchema, rejectedRecordSchema]);
export type AcceptedRecord = z.infer<typeof acceptedRecordSchema>;
export type RejectedRecord = z.infer<typeof rejectedRecordSchema>;
export type SpoolRecord = z.infer<typeof spoolRecordSchema>;

export const READINGS_MEASUREMENT = 'readings';
export const REJECTS_MEASUREMENT = 'rejects';
export const RAW_PREVIEW_BYTES = 512;

const escapeTag = (value: string) => value.replace(/[\\,= ]/g, (c) => `\\${c}`).replace(/\n/g, '\\n');
const escapeString = (value: string) => `"${value.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, '\\n')}"`;

/** Line protocol for one spool record. Timestamps in ns; device time for readings. */
export function toLineProtocol(record: SpoolRecord, sequence: number): string {
  if (record.k === 'r') {
    const tags = `${READINGS_MEASUREMENT},deviceId=${escapeTag(record.d)},locationId=${escapeTag(record.l)},siteId=${escapeTag(record.s)}`;
    let out = '';
    for (const reading of record.r) {
      let fields = `temperature=${reading.temperature}`;
      if (reading.humidity !== undefined) fields += `,humidity=${reading.humidity}`;
      if (reading.battery !== undefined) fields += `,battery=${reading.battery}`;
      if (reading.lat !== undefined) fields += `,lat=${reading.lat}`;
      if (reading.lon !== undefined) fields += `,lon=${reading.lon}`;
      if (reading.door !== undefined) fields += `,door=${reading.door}`;
      if (reading.seq !== undefined) fields += `,seq=${reading.seq}i`;
      fields += `,receivedAt=${record.at}i`;
      out += `${tags} ${fields} ${reading.ts}000000\n`;
    }
    return out;
  }
  // Several rejects can share a millisecond; the sub-millisecond digits keep them apart.
  const ns = `${record.at}${String(sequence % 1_000_000).padStart(6, '0')}`;
  let fields = `message=${escapeString(record.message)},topic=${escapeString(record.topic)},bytes=${record.bytes}i,payload=${escapeString(record.raw)}`;
  if (record.index !== undefined) fields += `,index=${record.index}i`;
  return `${REJECTS_MEASUREMENT},deviceId=${escapeTag(record.d || '(none)')},reason=${record.reason} ${fields} ${ns}\n`;
}

export function pointsIn(record: SpoolRecord): number {
  return record.k === 'r' ? record.r.length : 1;
}
