import { createHash } from 'node:crypto';
import type { SensorSeries } from './figures.js';

/**
 * SHA-256 over the readings a report used, so a report regenerated later (or by someone else
 * from the same InfluxDB) can be compared: one line per reading, `deviceId TAB epochMs TAB
 * temperature TAB humidity` (humidity empty when absent; numbers as JavaScript prints them),
 * sensors in the order the report lists them, readings in time order.
 */
/** The canonical lines of readings `from`..`to` − 1 of a series. */
export function digestLines(series: Pick<SensorSeries, 'deviceId' | 'ts' | 'temperature' | 'humidity'>, from: number, to: number): string {
  const { deviceId, ts, temperature, humidity } = series;
  let text = '';
  for (let i = from; i < to; i++) {
    const h = humidity[i]!;
    text += `${deviceId}\t${ts[i]}\t${temperature[i]}\t${Number.isNaN(h) ? '' : h}\n`;
  }
  return text;
}

export class ReadingsDigest {
  private readonly hash = createHash('sha256');
  private count = 0;

  add(series: SensorSeries, from = 0, to = series.ts.length): void {
    for (let i = from; i < to; i += 1024) this.hash.update(digestLines(series, i, Math.min(to, i + 1024)));
    this.count += to - from;
  }

  /** Lines made earlier by `digestLines` (a cached hour's, bucket-cache.ts): the same bytes, not formatted again. */
  addLines(text: string, readings: number): void {
    this.hash.update(text);
    this.count += readings;
  }

  result(): { algorithm: 'sha256'; value: string; readings: number } {
    return { algorithm: 'sha256', value: this.hash.digest('hex'), readings: this.count };
  }
}
