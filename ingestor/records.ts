import { z } from 'zod';
import { readingSchema, rejectReasons } from '../core/reading.js';
import type { Rejection } from './decode.js';
import type { Fact } from '../storage/fact-log.js';
import { fieldSet, int, nsOf, seriesKey } from '../storage/line-protocol.js';
import { DEVICE_MESSAGES_MEASUREMENT, READINGS_MEASUREMENT, REJECTS_MEASUREMENT } from '../storage/measurements.js';

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
  /** Position in a batch of the first refused reading; absent when the whole message was refused. */
  index: z.number().optional(),
  /** How many readings of a batch were refused (all summarised in this one record); absent for a whole message. */
  refused: z.number().optional(),
  topic: z.string(),
  bytes: z.number(),
  /** The start of the raw payload, for whoever investigates. */
  raw: z.string(),
});

export type AcceptedBatch = z.infer<typeof acceptedBatchSchema>;
export type RejectionRecord = z.infer<typeof rejectionRecordSchema>;

export const RAW_PREVIEW_BYTES = 512;
/** Status and event messages are stored as they came, up to this size (larger ones are quarantined). */
export const MAX_DEVICE_MESSAGE_BYTES = 8 * 1024;
/** A reject's message is at most this long, however many readings of the batch it summarises. */
export const REJECT_MESSAGE_CHARS = 1024;
/** Per reason, the first this many refused positions are named. */
const INDEXES_NAMED = 5;

const clip = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

/**
 * One message's refusals as the one reject record it gets (issue 12, item 8: a record per bad
 * reading, each with its own copy of the payload, let 50 KB sent become 20 MB stored). A single
 * refusal is kept as it is; several are summarised per reason, most frequent first: the count,
 * the first positions and the first message of each. The record's reason is the most frequent
 * one (the first seen on a tie), its index the first refused position.
 */
export function summariseRejections(rejections: readonly Rejection[]): Rejection & { refused?: number } {
  const first = rejections[0]!;
  if (rejections.length === 1) return { ...first, message: clip(first.message, REJECT_MESSAGE_CHARS), ...(first.index !== undefined ? { refused: 1 } : {}) };
  const byReason = new Map<string, { count: number; indexes: number[]; message: string }>();
  for (const r of rejections) {
    const entry = byReason.get(r.reason) ?? { count: 0, indexes: [], message: r.message };
    entry.count++;
    if (r.index !== undefined && entry.indexes.length < INDEXES_NAMED) entry.indexes.push(r.index);
    byReason.set(r.reason, entry);
  }
  const ordered = [...byReason].sort((a, b) => b[1].count - a[1].count);
  const parts = ordered.map(([reason, { count, indexes, message }]) => {
    const at = indexes.length ? ` at [${indexes.join(', ')}${count > indexes.length ? ', …' : ''}]` : '';
    return `${reason} ×${count}${at}, first: ${clip(message, 200)}`;
  });
  const index = rejections.find((r) => r.index !== undefined)?.index;
  return {
    reason: ordered[0]![0] as Rejection['reason'],
    message: clip(`${rejections.length} readings refused: ${parts.join('; ')}`, REJECT_MESSAGE_CHARS),
    ...(index !== undefined ? { index } : {}),
    refused: rejections.length,
  };
}

// Measurement names live in storage/; api/ and reports/ still import these three from here.
export { DEVICE_MESSAGES_MEASUREMENT, READINGS_MEASUREMENT, REJECTS_MEASUREMENT } from '../storage/measurements.js';

/**
 * The spool stores InfluxDB line protocol, one point per line, exactly as it will be written:
 * the writer then only concatenates, and a replay after a crash rewrites identical points
 * (same series, same timestamp), which is what makes redelivery idempotent.
 * Readings carry device time; one point per device and device time.
 */
export function readingLines(batch: AcceptedBatch): string {
  const series = seriesKey(READINGS_MEASUREMENT, { deviceId: batch.deviceId, locationId: batch.locationId, siteId: batch.siteId });
  const receivedAt = int(batch.receivedAt);
  const lines: string[] = [];
  for (const r of batch.readings) {
    const fields = fieldSet({
      temperature: r.temperature,
      humidity: r.humidity,
      battery: r.battery,
      lat: r.lat,
      lon: r.lon,
      door: r.door,
      seq: r.seq === undefined ? undefined : int(r.seq),
      receivedAt,
    });
    lines.push(`${series} ${fields} ${nsOf(r.ts)}`);
  }
  return lines.join('\n');
}

/** A quarantined message, at its receive time (the fact log's sequence keeps one device's rejects of one ms apart). */
export function rejectionFact(record: RejectionRecord): Fact {
  return {
    measurement: REJECTS_MEASUREMENT,
    tags: { deviceId: record.deviceId || '(none)', reason: record.reason },
    fields: {
      message: record.message,
      topic: record.topic,
      bytes: int(record.bytes),
      payload: record.raw,
      index: record.index === undefined ? undefined : int(record.index),
      refused: record.refused === undefined ? undefined : int(record.refused),
      receivedAt: int(record.receivedAt),
    },
    at: record.receivedAt,
  };
}

/**
 * A device's status or event message (firmware, signal, reboots, button presses), kept as it
 * came; firmware and battery are lifted into fields of their own for dashboards.
 */
export function deviceMessageFact(
  placement: { deviceId: string; siteId: string; locationId: string },
  channel: 'status' | 'events',
  body: Record<string, unknown>,
  raw: string,
  receivedAt: number,
): Fact {
  return {
    measurement: DEVICE_MESSAGES_MEASUREMENT,
    tags: { deviceId: placement.deviceId, locationId: placement.locationId, siteId: placement.siteId, channel },
    fields: {
      payload: raw,
      firmware: typeof body.firmware === 'string' ? body.firmware : undefined,
      battery: typeof body.battery === 'number' && Number.isFinite(body.battery) ? body.battery : undefined,
      receivedAt: int(receivedAt),
    },
    at: receivedAt,
  };
}

/** Server receive time of a spooled point, for the "oldest pending" figure. */
export function receivedAtOf(line: string): number | undefined {
  const match = /receivedAt=(\d+)i/.exec(line);
  return match ? Number(match[1]) : undefined;
}
