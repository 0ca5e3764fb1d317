import type { Registry } from '../core/registry.js';
import { quoteString, type InfluxClient } from '../storage/influx.js';
import { READINGS_MEASUREMENT } from '../ingestor/records.js';
import type { SensorSeries } from './figures.js';

/** Long windows are read a month at a time: InfluxDB 1.x builds each answer whole in memory, and a year at once is a burst on every core. */
export const READ_CHUNK_MS = 31 * 86_400_000;

/**
 * The readings of every sensor that measured a place in a window, as stored (placement is
 * tagged at ingest, so a device moved since still counts where it was), with when each arrived
 * (`receivedAt`, for late-data marks). Intervals come from the
 * registry; for a device no longer registered, from the median spacing of its readings.
 */
export async function readPlace(
  influx: InfluxClient,
  registry: Registry,
  locationId: string,
  window: { start: number; end: number },
  budget?: RowBudget,
): Promise<SensorSeries[]> {
  const columns = new Map<string, { ts: number[]; temperature: number[]; humidity: number[]; seq: number[]; receivedAt: number[] }>();
  for (let start = Math.floor(window.start); start < window.end; start += READ_CHUNK_MS) {
    const end = Math.min(Math.ceil(window.end), start + READ_CHUNK_MS);
    // With a budget, no series may bring more rows than are left (one more tells it would overflow).
    const limit = budget ? ` LIMIT ${budget.left + 1}` : '';
    const series = await influx.query(
      `SELECT "temperature", "humidity", "seq", "receivedAt" FROM "${READINGS_MEASUREMENT}" WHERE "locationId" = ${quoteString(locationId)} AND time >= ${start}ms AND time < ${end}ms GROUP BY "deviceId"${limit}`,
    );
    budget?.take(series.reduce((n, s) => n + s.values.length, 0));
    for (const s of series) {
      const deviceId = s.tags?.deviceId ?? '';
      let c = columns.get(deviceId);
      if (!c) columns.set(deviceId, (c = { ts: [], temperature: [], humidity: [], seq: [], receivedAt: [] }));
      for (const row of s.values) {
        if (row[1] === null || row[1] === undefined) continue;
        c.ts.push(row[0] as number);
        c.temperature.push(row[1] as number);
        c.humidity.push(row[2] === null ? Number.NaN : (row[2] as number));
        c.seq.push(row[3] === null ? Number.NaN : (row[3] as number));
        // Readings written before the service kept arrival times have none: never late.
        c.receivedAt.push(row[4] === null || row[4] === undefined ? Number.NaN : (row[4] as number));
      }
    }
  }
  const result: SensorSeries[] = [];
  for (const [deviceId, c] of columns) {
    const device = registry.device(deviceId)?.device;
    result.push({ deviceId, locationId, ...(device?.name ? { name: device.name } : {}), intervalMs: device?.interval ?? medianSpacing(c.ts), ...c });
  }
  return result.sort((a, b) => a.deviceId.localeCompare(b.deviceId));
}

function medianSpacing(ts: number[]): number {
  if (ts.length < 2) return 60_000;
  const steps = ts
    .slice(1)
    .map((t, i) => t - ts[i]!)
    .sort((a, b) => a - b);
  return Math.max(1000, steps[Math.floor(steps.length / 2)]!);
}

/** A report asked for more readings than one report may hold (`reports.maxRows`). */
export class ReportTooLargeError extends Error {
  constructor(
    readonly rows: number,
    readonly maxRows: number,
  ) {
    super(
      `this report would read more than ${maxRows.toLocaleString('en')} readings (the limit, reports.maxRows; at least ${rows.toLocaleString('en')} are stored for it): ask for a shorter period`,
    );
    this.name = 'ReportTooLargeError';
  }
}

/** How many readings one report may still read; every query of the report takes from it. */
export class RowBudget {
  private used = 0;
  constructor(readonly maxRows: number) {}
  get left(): number {
    return Math.max(0, this.maxRows - this.used);
  }
  take(rows: number): void {
    this.used += rows;
    if (this.used > this.maxRows) throw new ReportTooLargeError(this.used, this.maxRows);
  }
}
