import { z } from 'zod';
import { readingSchema, rejectReasons } from '../core/reading.js';

/**
 * What ingestion hands to in-process consumers (rules engine, live board) once it is durable.
 * Placement (site, location) is captured at ingest time so moving a device later does not
 * rewrite history.
 */
export const acceptedBatchSchema = z.object({
  deviceId: z.string(),
  siteId: z.string(),
  locationId: z.string(),
  /** Server receive time, epoch ms. */
  receivedAt: z.number(),
  readings: z.array(readingSchema.extend({ ts: z.number() })),
});

export const rejectionRecordSchema = z.object({
  deviceId: z.string(),
  receivedAt: z.number(),
  reason: z.enum(rejectReasons),
  message: z.string(),
  index: z.number().optional(),
  topic: z.string(),
  bytes: z.number(),
  /** The start of the raw payload, for whoever investigates. */
  raw: z.string(),
});

export type AcceptedBatch = z.infer<typeof acceptedBatchSchema>;
export type RejectionRecord = z.infer<typeof rejectionRecordSchema>;

export const READINGS_MEASUREMENT = 'readings';
export const REJECTS_MEASUREMENT = 'rejects';
export const RAW_PREVIEW_BYTES = 512;

/** Line-protocol escaping, shared by every measurement we write. */
export const escapeTag = (value: string) => (/[\\,= \n]/.test(value) ? value.replace(/[\\,= ]/g, (c) => `\\${c}`).replace(/\n/g, '\\n') : value);
export const escapeString = (value: string) => `"${value.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, '\\n')}"`;

/**
 * The spool stores InfluxDB line protocol, one point per line, exactly as it will be written:
 * the writer then only concatenates, and a replay after a crash rewrites identical points
 * (same series, same timestamp), which is what makes redelivery idempotent.
 * Timestamps are in ns; readings carry device time.
 */
export function readingLines(batch: AcceptedBatch): string {
  const tags = `${READINGS_MEASUREMENT},deviceId=${escapeTag(batch.deviceId)},locationId=${escapeTag(batch.locationId)},siteId=${escapeTag(batch.siteId)}`;
  const lines: string[] = [];
  for (const reading of batch.readings) {
    let fields = `temperature=${reading.temperature}`;
    if (reading.humidity !== undefined) fields += `,humidity=${reading.humidity}`;
    if (reading.battery !== undefined) fields += `,battery=${reading.battery}`;
    if (reading.lat !== undefined) fields += `,lat=${reading.lat}`;
    if (reading.lon !== undefined) fields += `,lon=${reading.lon}`;
    if (reading.door !== undefined) fields += `,door=${reading.door}`;
    if (reading.seq !== undefined) fields += `,seq=${reading.seq}i`;
    lines.push(`${tags} ${fields},receivedAt=${batch.receivedAt}i ${reading.ts}000000`);
  }
  return lines.join('\n');
}

/** `sequence` keeps rejects of one device in the same millisecond apart (sub-ms digits). */
export function rejectionLine(record: RejectionRecord, sequence: number): string {
  const ns = `${record.receivedAt}${String(sequence % 1_000_000).padStart(6, '0')}`;
  let fields = `message=${escapeString(record.message)},topic=${escapeString(record.topic)},bytes=${record.bytes}i,payload=${escapeString(record.raw)}`;
  if (record.index !== undefined) fields += `,index=${record.index}i`;
  return `${REJECTS_MEASUREMENT},deviceId=${escapeTag(record.deviceId || '(none)')},reason=${record.reason} ${fields},receivedAt=${record.receivedAt}i ${ns}`;
}

export const DEVICE_MESSAGES_MEASUREMENT = 'device_messages';

/**
 * A device's status or event message (firmware, signal, reboots, button presses), kept as it
 * came; firmware and battery are lifted into fields of their own for dashboards.
 */
export function deviceMessageLine(placement: { deviceId: string; siteId: string; locationId: string }, channel: 'status' | 'events', body: Record<string, unknown>, raw: string, receivedAt: number, sequence: number): string {
  let fields = `payload=${escapeString(raw)}`;
  if (typeof body.firmware === 'string') fields += `,firmware=${escapeString(body.firmware)}`;
  if (typeof body.battery === 'number' && Number.isFinite(body.battery)) fields += `,battery=${body.battery}`;
  return `${DEVICE_MESSAGES_MEASUREMENT},deviceId=${escapeTag(placement.deviceId)},locationId=${escapeTag(placement.locationId)},siteId=${escapeTag(placement.siteId)},channel=${channel} ${fields},receivedAt=${receivedAt}i ${receivedAt}${String(sequence % 1_000_000).padStart(6, '0')}`;
}

/** Server receive time of a spooled point, for the "oldest pending" figure. */
export function receivedAtOf(line: string): number | undefined {
  const match = /receivedAt=(\d+)i/.exec(line);
  return match ? Number(match[1]) : undefined;
}
