import type { Logger } from '../core/logger.js';
import type { IngestPipeline } from '../ingestor/pipeline.js';
import { DEVICE_MESSAGES_MEASUREMENT, READINGS_MEASUREMENT, REJECTS_MEASUREMENT } from '../storage/measurements.js';
import { rowsOf, type InfluxClient } from '../storage/influx.js';
import type { SparklineView as Sparkline } from './overview.js';
import { encodeSparkline } from './sparkline.js';

export interface LastReading {
  ts: number;
  temperature: number;
  humidity: number | null;
  battery: number | null;
  lat: number | null;
  lon: number | null;
  door: boolean | null;
  receivedAt: number | null;
}
export interface DeviceStatus {
  firmware: string | null;
  battery: number | null;
}
export interface RejectSummary {
  count: number;
  lastReason: string | null;
  lastMessage: string | null;
}

/** How long the sparklines and reject counts of one load serve the next ones (each is a query over every device). */
export const FLEET_TREND_TTL_MS = 30_000;
/**
 * Up to this age, older sparklines and reject counts are served at once while fresh ones are read
 * in the background (the board appends live readings to its sparklines itself).
 */
export const FLEET_TREND_STALE_MS = 10 * 60_000;
/** The sparkline span the board asks for by default (overview's `hours`), read at start. */
const DEFAULT_HOURS = 6;

/** How long after a reject its count is read from InfluxDB on every load (it reaches InfluxDB through the writer, a moment later). */
const REJECTS_SETTLE_MS = 10_000;

/**
 * One query's answer shared by concurrent and later loads while it is fresh. When InfluxDB
 * fails, the last answer (or none) is served and the board keeps its live readings: a storage
 * outage must not blank the screen operators watch (the system alarm tells them about it).
 */
class SharedQuery<T extends Map<string, unknown>> {
  private current: { at: number; value: Promise<T>; settled: boolean } | undefined;
  private lastGood: T | undefined;
  private lastGoodAt = 0;

  constructor(
    private readonly run: () => Promise<T>,
    private readonly what: string,
    private readonly now: () => number,
    private readonly log?: Logger,
  ) {}

  /**
   * The answer if it is younger than `ttlMs`. With `staleMs`, an older answer that is younger than
   * that is served at once while a fresh one is asked for in the background: a board load (2,000
   * sensors) never waits for the query once one answer is in.
   */
  get(ttlMs: number, staleMs = 0): Promise<T> {
    const now = this.now();
    const current = this.current;
    const stale = staleMs > 0 && this.lastGood !== undefined && now - this.lastGoodAt < staleMs ? this.lastGood : undefined;
    if (current && now - current.at < ttlMs && (current.settled || !stale)) return current.value;
    if (stale) {
      if (!current || current.settled) this.ask();
      return Promise.resolve(stale);
    }
    return this.ask();
  }

  private ask(): Promise<T> {
    const entry = {
      at: this.now(),
      settled: false,
      value: this.run().then(
        (value) => {
          this.lastGood = value;
          this.lastGoodAt = entry.at;
          entry.settled = true;
          return value;
        },
        (err: unknown) => {
          // Not kept: the next load asks InfluxDB again.
          if (this.current === entry) this.current = undefined;
          entry.settled = true;
          this.log?.warn({ err }, `board overview: ${this.what} could not be read from InfluxDB; showing the last ones read`);
          return this.lastGood ?? (new Map() as T);
        },
      ),
    };
    this.current = entry;
    return entry.value;
  }
}

const nullable = <T>(value: unknown): T | null => (value ?? null) as T | null;

/**
 * What the board's overview shows of each device, kept in memory (issue 15, item 4): a board
 * load with 2,000 devices used to run four queries over the whole fleet. The last reading and
 * the last status come from InfluxDB once, then follow the ingest pipeline; a newer device
 * time wins, so a reading seen both in the warm-up query and in the pipeline counts once.
 * Sparklines and 24-hour reject counts are sums over time, which a warm-up racing the writer
 * could count twice: they stay queries, shared by every load for `FLEET_TREND_TTL_MS`
 * (reject counts are read afresh for a few seconds after each reject, so a new one shows).
 */
export class FleetCache {
  private readonly last = new Map<string, LastReading>();
  private readonly status = new Map<string, DeviceStatus>();
  private warm: Promise<void> | undefined;
  private readonly sparks = new Map<number, SharedQuery<Map<string, Sparkline>>>();
  private readonly rejects: SharedQuery<Map<string, RejectSummary>>;
  /** Until then reject counts are read afresh: a reject was just spooled and may not be in InfluxDB yet. */
  private rejectsDirtyUntil = 0;
  private lastRejectAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly influx: InfluxClient,
    pipeline: IngestPipeline,
    private readonly log?: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.rejects = new SharedQuery(() => rejectCounts(this.influx), 'reject counts', now, log);
    // Subscribed before the warm-up query runs, so nothing accepted in between is missed.
    pipeline.on('accepted', (batch) => {
      let newest = batch.readings[0];
      for (const r of batch.readings) if (newest && r.ts > newest.ts) newest = r;
      if (!newest) return;
      this.offerReading(batch.deviceId, {
        ts: newest.ts,
        temperature: newest.temperature,
        humidity: newest.humidity ?? null,
        battery: newest.battery ?? null,
        lat: newest.lat ?? null,
        lon: newest.lon ?? null,
        door: newest.door ?? null,
        receivedAt: batch.receivedAt,
      });
    });
    pipeline.on('rejected', () => {
      this.lastRejectAt = this.now();
      this.rejectsDirtyUntil = this.now() + REJECTS_SETTLE_MS;
    });
    pipeline.on('deviceMessage', (message) => {
      const current = this.status.get(message.deviceId) ?? { firmware: null, battery: null };
      const { firmware, battery } = message.body;
      this.status.set(message.deviceId, {
        firmware: typeof firmware === 'string' ? firmware : current.firmware,
        battery: typeof battery === 'number' ? battery : current.battery,
      });
    });
  }

  private offerReading(deviceId: string, reading: LastReading): void {
    const current = this.last.get(deviceId);
    if (!current || reading.ts >= current.ts) this.last.set(deviceId, reading);
  }

  /**
   * Last reading and status per device. The first call reads them from InfluxDB; while it cannot,
   * what came through the pipeline since the start is served and the next call tries again.
   */
  async devices(): Promise<{ last: ReadonlyMap<string, LastReading>; status: ReadonlyMap<string, DeviceStatus> }> {
    this.warm ??= this.warmUp().catch((err: unknown) => {
      this.warm = undefined;
      this.log?.warn({ err }, 'board overview: last readings could not be read from InfluxDB; showing those received since the start');
    });
    await this.warm;
    return { last: this.last, status: this.status };
  }

  /** Sparklines over `hours`, shared by the loads of `FLEET_TREND_TTL_MS` (the board appends live readings itself). */
  sparklines(hours: number): Promise<Map<string, Sparkline>> {
    let shared = this.sparks.get(hours);
    if (!shared) {
      shared = new SharedQuery(() => sparklines(this.influx, hours), 'sparklines', this.now, this.log);
      this.sparks.set(hours, shared);
    }
    return shared.get(FLEET_TREND_TTL_MS, FLEET_TREND_STALE_MS);
  }

  /** Rejects of the last 24 h per device: shared like the sparklines, but read afresh for a while after each new reject. */
  rejectCounts(): Promise<Map<string, RejectSummary>> {
    // A reject just spooled must show on the next load: then the load waits for a fresh count, and
    // older counts are served while fresh ones are read only when no reject came since they could be.
    const now = this.now();
    if (now < this.rejectsDirtyUntil) return this.rejects.get(0);
    return this.rejects.get(FLEET_TREND_TTL_MS, now - this.lastRejectAt < FLEET_TREND_STALE_MS ? 0 : FLEET_TREND_STALE_MS);
  }

  /**
   * Reads what the first board load needs (last readings, statuses, the default sparklines, reject
   * counts) now, at start, so that the first sign-in does not wait for four queries over the fleet.
   * Failures are logged and asked again by the next load, as they would be then.
   */
  prime(): void {
    void this.devices();
    void this.sparklines(DEFAULT_HOURS);
    void this.rejectCounts();
  }

  private async warmUp(): Promise<void> {
    const started = this.now();
    const [readings, statuses] = await Promise.all([
      this.influx.query(
        `SELECT "temperature", "humidity", "battery", "lat", "lon", "door", "receivedAt" FROM "${READINGS_MEASUREMENT}" WHERE time > now() - 30d GROUP BY "deviceId" ORDER BY time DESC LIMIT 1`,
      ),
      this.influx.query(`SELECT last("firmware") AS "firmware", last("battery") AS "battery" FROM "${DEVICE_MESSAGES_MEASUREMENT}" GROUP BY "deviceId"`),
    ]);
    for (const s of readings) {
      const row = rowsOf(s)[0];
      const deviceId = s.tags?.deviceId;
      if (!deviceId || row?.time === undefined) continue;
      this.offerReading(deviceId, {
        ts: row.time as number,
        temperature: row.temperature as number,
        humidity: nullable(row.humidity),
        battery: nullable(row.battery),
        lat: nullable(row.lat),
        lon: nullable(row.lon),
        door: nullable(row.door),
        receivedAt: nullable(row.receivedAt),
      });
    }
    for (const s of statuses) {
      const deviceId = s.tags?.deviceId;
      if (!deviceId) continue;
      // What came through the pipeline since subscribing is newer than what the query saw.
      const since = this.status.get(deviceId);
      this.status.set(deviceId, {
        firmware: since?.firmware ?? nullable(s.values[0]?.[1]),
        battery: since?.battery ?? nullable(s.values[0]?.[2]),
      });
    }
    this.log?.debug({ devices: this.last.size, ms: this.now() - started }, 'board overview cache warmed from InfluxDB');
  }
}

/** A sparkline's bucket over `hours`: about 72 points, whole minutes. */
export const sparklineStepMs = (hours: number) => Math.max(1, Math.round((hours * 60) / 72)) * 60_000;

async function sparklines(influx: InfluxClient, hours: number): Promise<Map<string, Sparkline>> {
  const step = sparklineStepMs(hours);
  const series = await influx.query(
    `SELECT mean("temperature") FROM "${READINGS_MEASUREMENT}" WHERE time > now() - ${hours}h GROUP BY time(${step / 60_000}m), "deviceId" fill(none)`,
  );
  return new Map(series.map((s) => [s.tags?.deviceId ?? '', encodeSparkline(s.values as Array<[number, number]>, step)]));
}

async function rejectCounts(influx: InfluxClient): Promise<Map<string, RejectSummary>> {
  const [counts, last] = await Promise.all([
    influx.query(`SELECT count("bytes") FROM "${REJECTS_MEASUREMENT}" WHERE time > now() - 24h GROUP BY "deviceId"`),
    influx.query(`SELECT "reason", "message" FROM "${REJECTS_MEASUREMENT}" WHERE time > now() - 24h GROUP BY "deviceId" ORDER BY time DESC LIMIT 1`),
  ]);
  const lastBy = new Map(last.map((s) => [s.tags?.deviceId ?? '', s.values[0]]));
  return new Map(
    counts.map((s) => [
      s.tags?.deviceId ?? '',
      {
        count: Number(s.values[0]?.[1] ?? 0),
        lastReason: (lastBy.get(s.tags?.deviceId ?? '')?.[1] as string) ?? null,
        lastMessage: (lastBy.get(s.tags?.deviceId ?? '')?.[2] as string) ?? null,
      },
    ]),
  );
}
