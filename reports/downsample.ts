import type { ChartSeries } from './schema.js';
import type { SensorSeries } from './figures.js';

/**
 * At most 2 × `buckets` points per series: the lowest and the highest reading of each time
 * bucket, in time order, so a chart of 350k readings stays small and still shows every peak.
 */
export function downsample(series: SensorSeries, window: { start: number; end: number }, buckets = 600): ChartSeries {
  const { ts, temperature } = series;
  const points: Array<[number, number]> = [];
  if (ts.length <= buckets * 2) {
    for (let i = 0; i < ts.length; i++) points.push([ts[i]!, temperature[i]!]);
    return { deviceId: series.deviceId, locationId: series.locationId, points };
  }
  const width = Math.max(1, (window.end - window.start) / buckets);
  let bucket = -1;
  let low = -1;
  let high = -1;
  const flush = () => {
    if (low < 0) return;
    const first = Math.min(low, high);
    const second = Math.max(low, high);
    points.push([ts[first]!, temperature[first]!]);
    if (second !== first) points.push([ts[second]!, temperature[second]!]);
  };
  for (let i = 0; i < ts.length; i++) {
    const b = Math.floor((ts[i]! - window.start) / width);
    if (b !== bucket) {
      flush();
      bucket = b;
      low = high = i;
    } else {
      if (temperature[i]! < temperature[low]!) low = i;
      if (temperature[i]! > temperature[high]!) high = i;
    }
  }
  flush();
  return { deviceId: series.deviceId, locationId: series.locationId, points };
}
