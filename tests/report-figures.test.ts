import { describe, expect, it } from 'vitest';
import {
  analyseSensor,
  meanKineticTemperature,
  placeFigures,
  combineFigures,
  LATE_MIN_DELAY_MS,
  lateThresholdMs,
  type SensorSeries,
} from '../reports/figures.js';

const MIN = 60_000;

/** USP <1160> as printed, in kelvin, without any of the implementation's rearrangements. */
function referenceMkt(temperaturesC: number[], weights: number[], deltaHkJ = 83.144): number {
  const hOverR = (deltaHkJ * 1000) / 8.3144;
  let numerator = 0;
  let total = 0;
  temperaturesC.forEach((t, i) => {
    numerator += weights[i]! * Math.exp(-hOverR / (t + 273.15));
    total += weights[i]!;
  });
  return hOverR / -Math.log(numerator / total) - 273.15;
}

function series(
  deviceId: string,
  points: Array<[minute: number, temperature: number, seq?: number]>,
  intervalMs = 10 * MIN,
  humidity?: number[],
): SensorSeries {
  return {
    deviceId,
    locationId: 'room-1',
    intervalMs,
    ts: points.map(([m]) => m * MIN),
    temperature: points.map(([, t]) => t),
    humidity: points.map((_, i) => humidity?.[i] ?? Number.NaN),
    seq: points.map(([, , s], i) => s ?? i),
  };
}

const band = { min: 2, max: 8 };

/** One sensor's analysis without humidity, at the vaccines' activation energy (83.144 kJ/mol), by default against 2–8 °C. */
const analyse = (sensor: SensorSeries, window: { start: number; end: number }, range = band) => analyseSensor(sensor, window, range, undefined, 83.144);

describe('mean kinetic temperature', () => {
  it('equals the temperature of an isothermal series', () => {
    const temps = Array.from({ length: 288 }, () => 5);
    expect(
      meanKineticTemperature(
        temps,
        temps.map(() => 1),
      ),
    ).toBeCloseTo(5, 9);
    const analysis = analyse(
      series(
        's',
        temps.map((t, i) => [i * 5, t]),
      ),
      { start: 0, end: 288 * 5 * MIN },
    );
    expect(analysis.figures.mkt).toBeCloseTo(5, 9);
    expect(analysis.figures.mean).toBeCloseTo(5, 9);
  });

  it('matches the USP formula for equal intervals, and lies above the arithmetic mean', () => {
    const temps = [2, 4, 6, 8, 25, -3, 7.5];
    const expected = referenceMkt(
      temps,
      temps.map(() => 1),
    );
    const analysis = analyse(
      series(
        's',
        temps.map((t, i) => [i * 10, t]),
      ),
      { start: 0, end: temps.length * 10 * MIN },
      { min: -5, max: 30 },
    );
    expect(analysis.figures.mkt).toBeCloseTo(expected, 9);
    expect(expected).toBeGreaterThan(temps.reduce((a, b) => a + b) / temps.length);
  });

  it('weights readings by the time each stands for when intervals are uneven', () => {
    // 5 °C for 10 min, 15 °C for 30 min, 5 °C for 10 min (window ends at 50 min); interval 20 min, so no gap caps apply.
    const analysis = analyse(
      series(
        's',
        [
          [0, 5],
          [10, 15],
          [40, 5],
        ],
        20 * MIN,
      ),
      { start: 0, end: 50 * MIN },
      { min: 0, max: 20 },
    );
    expect(analysis.figures.mkt).toBeCloseTo(referenceMkt([5, 15, 5], [10, 30, 10]), 9);
    expect(analysis.figures.mean).toBeCloseTo((5 * 10 + 15 * 30 + 5 * 10) / 50, 9);
    // Equal weights would give a different (lower) value: the weighting is really applied.
    expect(referenceMkt([5, 15, 5], [1, 1, 1])).toBeLessThan(analysis.figures.mkt! - 1);
  });

  it('uses the activation energy of the product', () => {
    const temps = [2, 12, 4];
    const low = meanKineticTemperature(temps, [1, 1, 1], 60);
    expect(low).toBeCloseTo(referenceMkt(temps, [1, 1, 1], 60), 9);
    expect(low).not.toBeCloseTo(referenceMkt(temps, [1, 1, 1], 83.144), 3);
  });
});

describe('time out of range and excursions', () => {
  it('counts from the first reading out to the first reading back in, per band, with degree-minutes', () => {
    const analysis = analyse(
      series('s', [
        [0, 5],
        [10, 9],
        [20, 10],
        [30, 7],
        [40, 1],
        [50, 5],
      ]),
      { start: 0, end: 60 * MIN },
    );
    const figures = placeFigures([analysis], { start: 0, end: 60 * MIN }, band, 'room-1', 83.144);
    expect(figures.timeAboveMs).toBe(20 * MIN);
    expect(figures.timeBelowMs).toBe(10 * MIN);
    expect(figures.timeOutOfRangeMs).toBe(30 * MIN);
    expect(figures.excursions).toEqual([
      {
        band: 'above',
        limit: 8,
        start: 10 * MIN,
        end: 30 * MIN,
        durationMs: 20 * MIN,
        peak: 10,
        peakAt: 20 * MIN,
        degreeMinutes: 30,
        ongoing: false,
        deviceIds: ['s'],
        locationId: 'room-1',
      },
      {
        band: 'below',
        limit: 2,
        start: 40 * MIN,
        end: 50 * MIN,
        durationMs: 10 * MIN,
        peak: 1,
        peakAt: 40 * MIN,
        degreeMinutes: 10,
        ongoing: false,
        deviceIds: ['s'],
        locationId: 'room-1',
      },
    ]);
    expect(figures.min).toEqual({ value: 1, at: 40 * MIN });
    expect(figures.max).toEqual({ value: 10, at: 20 * MIN });
  });

  it('merges overlapping excursions of two sensors of one place and keeps the worst peak', () => {
    const window = { start: 0, end: 60 * MIN };
    const a = analyse(
      series('a', [
        [0, 5],
        [10, 9],
        [20, 9],
        [30, 5],
        [40, 5],
        [50, 5],
      ]),
      window,
    );
    const b = analyse(
      series('b', [
        [0, 5],
        [10, 5],
        [20, 12],
        [30, 11],
        [40, 5],
        [50, 5],
      ]),
      window,
    );
    const figures = placeFigures([a, b], window, band, 'room-1', 83.144);
    expect(figures.timeOutOfRangeMs).toBe(30 * MIN);
    expect(figures.excursions).toHaveLength(1);
    expect(figures.excursions[0]).toMatchObject({ start: 10 * MIN, end: 40 * MIN, peak: 12, peakAt: 20 * MIN, deviceIds: ['a', 'b'], degreeMinutes: 70 });
  });

  it('keeps an excursion open across a data gap and to the end of the window (conservative)', () => {
    const window = { start: 0, end: 120 * MIN };
    const analysis = analyse(
      series('s', [
        [0, 5],
        [10, 9],
        [90, 9],
      ]),
      window,
    );
    const figures = placeFigures([analysis], window, band, 'room-1', 83.144);
    expect(figures.timeAboveMs).toBe(110 * MIN);
    expect(figures.excursions[0]).toMatchObject({ start: 10 * MIN, end: 120 * MIN, ongoing: true });
    expect(figures.gaps.map((g) => [g.start / MIN, g.end / MIN, g.missingReadings])).toEqual([
      [10, 90, 7],
      [90, 120, 2],
    ]);
  });
});

describe('completeness', () => {
  it('counts the larger of the time-based and the sequence-based shortfall', () => {
    // 6 readings expected in an hour at 10 min; 5 arrived, and the sequence numbers show 2 lost.
    const analysis = analyse(
      series('s', [
        [0, 5, 1],
        [10, 5, 2],
        [20, 5, 5],
        [40, 5, 6],
        [50, 5, 7],
      ]),
      { start: 0, end: 60 * MIN },
    );
    expect(analysis.completeness).toEqual({ expected: 6, present: 5, missingBySequence: 2, percent: 71.43, late: 0, latestArrivalDelayMs: null });
    // A sequence reset (device restart) is not counted as loss.
    const restarted = analyse(
      series('s', [
        [0, 5, 41],
        [10, 5, 42],
        [20, 5, 1],
        [30, 5, 2],
        [40, 5, 3],
        [50, 5, 4],
      ]),
      { start: 0, end: 60 * MIN },
    );
    expect(restarted.completeness.percent).toBe(100);
  });

  it('adds up over sensors and segments', () => {
    const w1 = { start: 0, end: 60 * MIN };
    const w2 = { start: 60 * MIN, end: 120 * MIN };
    const full = analyse(
      series(
        'a',
        [0, 10, 20, 30, 40, 50].map((m) => [m, 5]),
      ),
      w1,
    );
    const half = analyse(
      series(
        'b',
        [60, 70, 80].map((m) => [m, 5]),
      ),
      w2,
    );
    const overall = combineFigures([placeFigures([full], w1, band, 'r1', 83.144), placeFigures([half], w2, band, 'r2', 83.144)], 83.144);
    expect(overall.completeness).toEqual({ expected: 12, present: 9, missingBySequence: 0, percent: 75, late: 0, latestArrivalDelayMs: null });
    expect(overall.gaps).toHaveLength(1);
    expect(overall.mkt).toBeCloseTo(5, 6);
  });
});

describe('late data', () => {
  // 1-min device: late after max(2 min, 15 min) = 15 min; 30-min device: after 60 min.
  it('takes max(2 × interval, 15 min) as the threshold', () => {
    expect(LATE_MIN_DELAY_MS).toBe(15 * MIN);
    expect(lateThresholdMs(MIN)).toBe(15 * MIN);
    expect(lateThresholdMs(30 * MIN)).toBe(60 * MIN);
  });

  it('marks and counts late readings in runs, leaves readings without an arrival time alone, and changes no figure', () => {
    const points: Array<[number, number]> = Array.from({ length: 10 }, (_, i) => [i, i === 5 ? 9 : 5]);
    const onTime = series('s', points, MIN);
    // Minutes 3–5 came in a backlog at minute 200, minute 8 15 min after (not late: exactly the threshold), minute 9 never recorded one.
    const arrival = points.map(([m]) => (m >= 3 && m <= 5 ? 200 * MIN : m === 8 ? (8 + 15) * MIN : m === 9 ? Number.NaN : m * MIN + 900));
    const withArrival = { ...onTime, receivedAt: arrival };
    const window = { start: 0, end: 10 * MIN };
    const a = analyse(withArrival, window);
    const b = analyse(onTime, window);
    expect(a.completeness).toMatchObject({ late: 3, latestArrivalDelayMs: 197 * MIN });
    expect(a.lateData).toEqual([
      {
        deviceId: 's',
        locationId: 'room-1',
        start: 3 * MIN,
        end: 5 * MIN,
        readings: 3,
        late: true,
        receivedAt: 200 * MIN,
        lastReceivedAt: 200 * MIN,
        maxDelayMs: 197 * MIN,
      },
    ]);
    expect(b.completeness).toMatchObject({ late: 0, latestArrivalDelayMs: null });
    expect(b.lateData).toEqual([]);
    const fa = placeFigures([a], window, band, 'room-1', 83.144);
    const fb = placeFigures([b], window, band, 'room-1', 83.144);
    const { lateData, completeness, sums: _a, ...restA } = fa;
    const { lateData: _l, completeness: cb, sums: _b, ...restB } = fb;
    expect(restA).toEqual(restB);
    expect({ ...completeness, late: 0, latestArrivalDelayMs: null }).toEqual(cb);
    expect(lateData).toHaveLength(1);
    const combined = combineFigures([fa, fb], 83.144);
    expect(combined.completeness).toMatchObject({ late: 3, latestArrivalDelayMs: 197 * MIN });
    expect(combined.lateData).toHaveLength(1);
  });
});
