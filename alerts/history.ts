import type { EvalReading } from './evaluator.js';

const ABSENT = Number.NaN;
const DOOR_ABSENT = -1;

/**
 * One device's readings in device-time order, in typed arrays: 33 bytes a reading and no object
 * per reading kept alive. At 10,000 readings/s the engine's history was most of what survived each
 * young-generation garbage collection (every validated reading object, kept up to 48 h), and the
 * copying of survivors was the longest pause on the ingest thread. Values are kept as float64, so
 * a replay sees exactly the numbers the live evaluation saw; `at(i)` makes a short-lived object.
 */
export class ReadingHistory {
  private tsCol: Float64Array;
  private temperatureCol: Float64Array;
  private humidityCol: Float64Array;
  private batteryCol: Float64Array;
  private doorCol: Int8Array;
  length = 0;

  constructor(capacity = 16) {
    this.tsCol = new Float64Array(capacity);
    this.temperatureCol = new Float64Array(capacity);
    this.humidityCol = new Float64Array(capacity);
    this.batteryCol = new Float64Array(capacity);
    this.doorCol = new Int8Array(capacity);
  }

  ts(i: number): number {
    return this.tsCol[i]!;
  }

  temperature(i: number): number {
    return this.temperatureCol[i]!;
  }

  /** Device time of the newest reading, or -Infinity when there is none. */
  newestTs(): number {
    return this.length ? this.tsCol[this.length - 1]! : Number.NEGATIVE_INFINITY;
  }

  at(i: number): EvalReading {
    const r: EvalReading = { ts: this.tsCol[i]!, temperature: this.temperatureCol[i]! };
    const humidity = this.humidityCol[i]!;
    if (!Number.isNaN(humidity)) r.humidity = humidity;
    const battery = this.batteryCol[i]!;
    if (!Number.isNaN(battery)) r.battery = battery;
    const door = this.doorCol[i]!;
    if (door !== DOOR_ABSENT) r.door = door === 1;
    return r;
  }

  push(r: EvalReading): void {
    if (this.length === this.tsCol.length) this.resize(this.length * 2);
    const i = this.length++;
    this.tsCol[i] = r.ts;
    this.temperatureCol[i] = r.temperature;
    this.humidityCol[i] = r.humidity ?? ABSENT;
    this.batteryCol[i] = r.battery ?? ABSENT;
    this.doorCol[i] = r.door === undefined ? DOOR_ABSENT : r.door ? 1 : 0;
  }

  /** Keeps the first `n` readings. */
  truncate(n: number): void {
    this.length = Math.min(this.length, n);
  }

  /** Drops the first `n` readings; shrinks the arrays when most of them is unused. */
  dropFront(n: number): void {
    if (n <= 0) return;
    const kept = this.length - n;
    for (const col of [this.tsCol, this.temperatureCol, this.humidityCol, this.batteryCol]) col.copyWithin(0, n, this.length);
    this.doorCol.copyWithin(0, n, this.length);
    this.length = kept;
    if (this.tsCol.length > 64 && kept < this.tsCol.length / 4) this.resize(Math.max(16, kept * 2));
  }

  /** Index of the first reading at or after `ts` (binary search). */
  lowerBound(ts: number): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.tsCol[mid]! < ts) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private resize(capacity: number): void {
    const grow = <T extends Float64Array | Int8Array>(col: T, make: (n: number) => T): T => {
      const next = make(capacity);
      next.set(col.subarray(0, this.length));
      return next;
    };
    this.tsCol = grow(this.tsCol, (n) => new Float64Array(n));
    this.temperatureCol = grow(this.temperatureCol, (n) => new Float64Array(n));
    this.humidityCol = grow(this.humidityCol, (n) => new Float64Array(n));
    this.batteryCol = grow(this.batteryCol, (n) => new Float64Array(n));
    this.doorCol = grow(this.doorCol, (n) => new Int8Array(n));
  }
}
