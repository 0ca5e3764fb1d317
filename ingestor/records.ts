import { z } from 'zod';
import { readingSchema, rejectReasons } from '../core/reading.js';
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
  index: z.number().optional(),
  topic: z.string(),
  bytes: z.number(),
  /** The start of the raw payload, for whoever investigates. */
  raw: z.string(),
});

export type AcceptedBatch = z.infer<typeof acceptedBatchSchema>;
export type RejectionRecord = z.infer<typeof rejectionRecordSchema>;

export const RAW_PREVIEW_BYTES = 512;

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
    const fields = fieldSet({ temperature: r.temperature, humidity: r.humidity, battery: r.battery, lat: r.lat, lon: r.lon, door: r.door, seq: r.seq === undefined ? undefined : int(r.seq), receivedAt });
    lines.push(`${series} ${fields} ${nsOf(r.ts)}`);
  }
  return lines.join('\n');
}

/** A quarantined message, at its receive time (the fact log's sequence keeps one device's rejects of one ms apart). */
export function rejectionFact(record: RejectionRecord): Fact {
  return {
    measurement: REJECTS_MEASUREMENT,
    tags: { deviceId: record.deviceId || '(none)', reason: record.reason },
    fields: { message: record.message, topic: record.topic, bytes: int(record.bytes), payload: record.raw, index: record.index === undefined ? undefined : int(record.index), receivedAt: int(record.receivedAt) },
    at: record.receivedAt,
  };
}

/**
 * A device's status or event message (firmware, signal, reboots, button presses), kept as it
 * came; firmware and battery are lifted into fields of their own for dashboards.
 */
export function deviceMessageFact(placement: { deviceId: string; siteId: string; locationId: string }, channel: 'status' | 'events', body: Record<string, unknown>, raw: string, receivedAt: number): Fact {
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
