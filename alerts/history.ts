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
  /** Where the first reading is in the columns: dropping the oldest moves it, not the readings (see dropFront). */
  private head = 0;
  length = 0;

  constructor(capacity = 16) {
    this.tsCol = new Float64Array(capacity);
    this.temperatureCol = new Float64Array(capacity);
    this.humidityCol = new Float64Array(capacity);
    this.batteryCol = new Float64Array(capacity);
    this.doorCol = new Int8Array(capacity);
  }

  ts(i: number): number {
    return this.tsCol[this.head + i]!;
  }

  temperature(i: number): number {
    return this.temperatureCol[this.head + i]!;
  }

  /** Device time of the newest reading, or -Infinity when there is none. */
  newestTs(): number {
    return this.length ? this.tsCol[this.head + this.length - 1]! : Number.NEGATIVE_INFINITY;
  }

  at(index: number): EvalReading {
    const i = this.head + index;
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
    if (this.head + this.length === this.tsCol.length) {
      // At the end of the columns: move the readings to the front when a quarter or more is dropped space, else grow.
      if (this.head > 0 && this.head >= this.tsCol.length / 4) this.compact();
      else this.resize(this.length * 2);
    }
    const i = this.head + this.length++;
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

  /**
   * Drops the first `n` readings; shrinks the arrays when most of them is unused. The rest stay
   * where they are until the columns are full (`push`): a device at the per-device cap dropped 64
   * readings every 64 and moved all 8,192 others each time.
   */
  dropFront(n: number): void {
    if (n <= 0) return;
    const kept = this.length - n;
    this.head += n;
    this.length = kept;
    if (this.tsCol.length > 64 && kept < this.tsCol.length / 4) this.resize(Math.max(16, kept * 2));
  }

  private compact(): void {
    const from = this.head;
    const to = from + this.length;
    for (const col of [this.tsCol, this.temperatureCol, this.humidityCol, this.batteryCol]) col.copyWithin(0, from, to);
    this.doorCol.copyWithin(0, from, to);
    this.head = 0;
  }

  /** Index of the first reading at or after `ts` (binary search). */
  lowerBound(ts: number): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.tsCol[this.head + mid]! < ts) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private resize(capacity: number): void {
    const grow = <T extends Float64Array | Int8Array>(col: T, make: (n: number) => T): T => {
      const next = make(capacity);
      next.set(col.subarray(this.head, this.head + this.length));
      return next;
    };
    this.tsCol = grow(this.tsCol, (n) => new Float64Array(n));
    this.temperatureCol = grow(this.temperatureCol, (n) => new Float64Array(n));
    this.humidityCol = grow(this.humidityCol, (n) => new Float64Array(n));
    this.batteryCol = grow(this.batteryCol, (n) => new Float64Array(n));
    this.doorCol = grow(this.doorCol, (n) => new Int8Array(n));
    this.head = 0;
  }
}
