import type { ProductProfile, ShipmentsSettings } from '../core/config/schema.js';
import type { Registry } from '../core/registry.js';
import { InfluxError, type InfluxClient } from '../storage/influx.js';
import { readPlace } from '../reports/readings-source.js';
import type { PreCooling } from './schema.js';

/**
 * Pre-cooling (GDP 9.2, GSP cold-chain transport: a vehicle is cooled to the product's range
 * before loading). Judged from the compartment's readings as stored in InfluxDB, never from
 * what a driver says: every sensor at the place in [loading − minDuration, loading).
 *
 * Passed when the window has readings, none outside the product's range, and no stretch of it
 * without a reading is longer than 2 × the slowest sensor's interval (the rule the reports use
 * for data gaps: a compartment measured only at the start of the window proves nothing about
 * the rest of it).
 */
export async function checkPreCooling(
  deps: { influx: InfluxClient; registry: Registry },
  input: { locationId: string; at: number; profile: ProductProfile; settings: ShipmentsSettings['preCooling'] },
): Promise<Omit<PreCooling, 'custodyId' | 'outcome'>> {
  const { locationId, at, profile } = input;
  const from = at - input.settings.minDuration;
  const range = { min: profile.temperature.min, max: profile.temperature.max };
  const action = input.settings.action === 'refuse' ? 'refuse' : 'warn';
  const base = { locationId, from, to: at, range, action, checkedAt: Date.now() } as const;
  let series: Awaited<ReturnType<typeof readPlace>>;
  try {
    series = await readPlace(deps.influx, deps.registry, locationId, { start: from, end: at });
  } catch (err) {
    // Not knowing is not passing: the check says why, and `refuse` refuses.
    if (!(err instanceof InfluxError)) throw err;
    return { ...base, readings: 0, sensors: [], min: null, max: null, longestGapMs: at - from, passed: false, problems: ['readings_unavailable'] };
  }
  const times = series.flatMap((s) => Array.from(s.ts)).sort((a, b) => a - b);
  const values = series.flatMap((s) => Array.from(s.temperature));
  const min = values.length ? Math.min(...values) : null;
  const max = values.length ? Math.max(...values) : null;
  let longestGapMs = times.length ? Math.max(times[0]! - from, at - times.at(-1)!) : at - from;
  for (let i = 1; i < times.length; i++) longestGapMs = Math.max(longestGapMs, times[i]! - times[i - 1]!);
  const allowedGap = 2 * Math.max(...series.map((s) => s.intervalMs), 0);
  const problems: PreCooling['problems'] = [];
  if (!times.length) problems.push('no_readings');
  if (min !== null && min < range.min) problems.push('below_range');
  if (max !== null && max > range.max) problems.push('above_range');
  if (times.length && longestGapMs > allowedGap) problems.push('not_covered');
  return {
    ...base,
    readings: times.length,
    sensors: series.map((s) => s.deviceId),
    min,
    max,
    longestGapMs,
    passed: problems.length === 0,
    problems,
  };
}

const PROBLEM_WORDS: Record<PreCooling['problems'][number], string> = {
  no_readings: 'no readings were stored for it in that time',
  below_range: 'it was below the range',
  above_range: 'it was above the range',
  not_covered: 'its readings do not cover the whole time',
  readings_unavailable: 'its readings could not be read (InfluxDB did not answer)',
};

/** The reason a loading was refused, precise enough to act on (the API's 409 and the device's reject). */
export function refusalMessage(shipmentId: string, check: Omit<PreCooling, 'custodyId' | 'outcome'>): string {
  const minutes = Math.round((check.to - check.from) / 60_000);
  const seen =
    check.readings > 0
      ? `${check.readings} readings from ${check.sensors.join(', ')}, min ${check.min} °C, max ${check.max} °C, longest stretch without a reading ${Math.round(check.longestGapMs / 1000)} s`
      : 'no readings';
  return (
    `pre-cooling: ${check.locationId} was not within ${check.range.min}–${check.range.max} °C for the ${minutes} min before loading at ${new Date(check.to).toISOString()} ` +
    `(${check.problems.map((p) => PROBLEM_WORDS[p]).join('; ')}; seen: ${seen}). shipments.preCooling.action is "refuse", so loading shipment ${shipmentId} ` +
    'is not recorded: cool the compartment to the range and record the loading again.'
  );
}
