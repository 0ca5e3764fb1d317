import type { Registry } from '../core/registry.js';
import { quoteString, type InfluxClient } from '../storage/influx.js';
import { READINGS_MEASUREMENT } from '../ingestor/records.js';
import type { SensorSeries } from './figures.js';

/**
 * The readings of every sensor that measured a place in a window, as stored (placement is
 * tagged at ingest, so a device moved since still counts where it was). Intervals come from the
 * registry; for a device no longer registered, from the median spacing of its readings.
 */
export async function readPlace(influx: InfluxClient, registry: Registry, locationId: string, window: { start: number; end: number }): Promise<SensorSeries[]> {
  const series = await influx.query(
    `SELECT "temperature", "humidity", "seq" FROM "${READINGS_MEASUREMENT}" WHERE "locationId" = ${quoteString(locationId)} AND time >= ${Math.floor(window.start)}ms AND time < ${Math.ceil(window.end)}ms GROUP BY "deviceId"`,
  );
  const result: SensorSeries[] = [];
  for (const s of series) {
    const deviceId = s.tags?.deviceId ?? '';
    const n = s.values.length;
    const ts = new Array<number>(n);
    const temperature = new Array<number>(n);
    const humidity = new Array<number>(n);
    const seq = new Array<number>(n);
    let kept = 0;
    for (const row of s.values) {
      if (row[1] === null || row[1] === undefined) continue;
      ts[kept] = row[0] as number;
      temperature[kept] = row[1] as number;
      humidity[kept] = row[2] === null ? Number.NaN : (row[2] as number);
      seq[kept] = row[3] === null ? Number.NaN : (row[3] as number);
      kept++;
    }
    ts.length = temperature.length = humidity.length = seq.length = kept;
    const device = registry.device(deviceId)?.device;
    result.push({ deviceId, locationId, ...(device?.name ? { name: device.name } : {}), intervalMs: device?.interval ?? medianSpacing(ts), ts, temperature, humidity, seq });
  }
  return result.sort((a, b) => a.deviceId.localeCompare(b.deviceId));
}

function medianSpacing(ts: number[]): number {
  if (ts.length < 2) return 60_000;
  const steps = ts.slice(1).map((t, i) => t - ts[i]!).sort((a, b) => a - b);
  return Math.max(1000, steps[Math.floor(steps.length / 2)]!);
}
