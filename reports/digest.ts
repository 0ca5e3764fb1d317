import { createHash } from 'node:crypto';
import type { SensorSeries } from './figures.js';

/**
 * SHA-256 over the readings a report used, so a report regenerated later (or by someone else
 * from the same InfluxDB) can be compared: one line per reading, `deviceId TAB epochMs TAB
 * temperature TAB humidity` (humidity empty when absent; numbers as JavaScript prints them),
 * sensors in the order the report lists them, readings in time order.
 */
export class ReadingsDigest {
  private readonly hash = createHash('sha256');
  private count = 0;

  add(series: SensorSeries): void {
    const { deviceId, ts, temperature, humidity } = series;
    let chunk = '';
    for (let i = 0; i < ts.length; i++) {
      const h = humidity[i]!;
      chunk += `${deviceId}\t${ts[i]}\t${temperature[i]}\t${Number.isNaN(h) ? '' : h}\n`;
      if (chunk.length > 65_536) {
        this.hash.update(chunk);
        chunk = '';
      }
    }
    this.hash.update(chunk);
    this.count += ts.length;
  }

  result(): { algorithm: 'sha256'; value: string; readings: number } {
    return { algorithm: 'sha256', value: this.hash.digest('hex'), readings: this.count };
  }
}
