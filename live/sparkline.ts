import type { SparklineView } from './overview.js';

/**
 * A sparkline as the overview sends it (issue 15, item 4): the first bucket's time, the bucket
 * width and one value per bucket (null where no reading fell), rounded to 0.1 °C as the tile shows
 * its reading. As [epoch ms, value] pairs the 2,000 sparklines of a fleet were ≈ 2.9 MB of the
 * overview's 3.5 MB, parsed on the board's main thread before the first tile could be drawn.
 * No zod here: the board imports this module, and its bundle must stay free of the server's.
 */
export function encodeSparkline(points: ReadonlyArray<readonly [number, number]>, stepMs: number): SparklineView {
  const first = points[0];
  if (!first) return { from: 0, stepMs, values: [] };
  const from = first[0];
  const values: Array<number | null> = [];
  for (const [ts, value] of points) {
    const i = Math.round((ts - from) / stepMs);
    while (values.length < i) values.push(null);
    values[i] = Math.round(value * 10) / 10;
  }
  return { from, stepMs, values };
}

/** A sparkline's points as two columns, epoch ms and value: two arrays a sensor, not one per point (2,000 sensors × 72 on the board). */
export interface SparkSeries {
  ts: number[];
  values: number[];
}

/** The points of an overview's sparkline in time order (buckets without a value left out). */
export function decodeSparkline(sparkline: SparklineView): SparkSeries {
  const series: SparkSeries = { ts: [], values: [] };
  const { from, stepMs, values } = sparkline;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value === null || value === undefined) continue;
    series.ts.push(from + i * stepMs);
    series.values.push(value);
  }
  return series;
}
