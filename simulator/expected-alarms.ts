import type { AlarmPolicy } from '../core/config/alarm-policy.js';
import { inSuppression, type AlertKind, type AlertRules, type Suppression } from '../core/config/alert-rules.js';

/**
 * The alarms a good monitoring system raises for a simulated run, judged on the simulator's
 * own physics (the true, noise-free temperature, humidity and door of each space) and on what
 * the devices actually sent, not on the rules engine: the suite compares the two.
 *
 * `required` alarms must be raised (recall); the others are borderline (a true value within
 * sensor noise of a limit, a duration within a sampling interval of a delay, a processing-time
 * silence that depends on the replay speed) and may be raised without counting as false.
 */
export interface ExpectedAlarm {
  deviceId: string;
  locationId: string;
  kind: AlertKind;
  from: number;
  to: number | null;
  required: boolean;
  why: string;
}

/** What one simulated device went through and sent. */
export interface DeviceTrace {
  deviceId: string;
  locationId: string;
  intervalMs: number;
  /** Sensor noise (standard deviation, °C). */
  noise: number;
  /** The space's true state at each physics step. */
  steps: Array<{ t: number; temperature: number; humidity: number; door: boolean }>;
  /** Device timestamps of the readings sent, and the battery they carried. */
  readings: Array<{ ts: number; battery?: number }>;
  /** Simulated publish time of each message (a backlog upload is later than its readings). */
  publishes: number[];
}

export interface TracePlacement {
  range: { temperature: { min: number; max: number }; humidity?: { min: number; max: number } };
  rules: AlertRules;
  suppress: Suppression[];
  offlineAfterMs: number;
}

interface Run {
  from: number;
  to: number | null;
  /** Longest stretch inside the run where the condition held clearly (beyond the noise margin). */
  clearMs: number;
  suppressed: boolean;
}

/** Stretches where `near` holds; inside each, the longest stretch where `clear` holds. */
function runs(
  steps: DeviceTrace['steps'],
  near: (s: DeviceTrace['steps'][number]) => boolean,
  clear: (s: DeviceTrace['steps'][number]) => boolean,
  suppressedAt: (t: number) => boolean,
): Run[] {
  const out: Run[] = [];
  let open: Run | undefined;
  let clearFrom: number | undefined;
  for (const step of steps) {
    if (near(step)) {
      open ??= { from: step.t, to: null, clearMs: 0, suppressed: false };
      if (suppressedAt(step.t)) open.suppressed = true;
      if (clear(step)) {
        clearFrom ??= step.t;
        open.clearMs = Math.max(open.clearMs, step.t - clearFrom);
      } else clearFrom = undefined;
    } else if (open) {
      open.to = step.t;
      out.push(open);
      open = undefined;
      clearFrom = undefined;
    }
  }
  if (open) out.push(open);
  return out;
}

export function expectedAlarms(trace: DeviceTrace, placement: TracePlacement, policy: Pick<AlarmPolicy, 'foldWindow'>): ExpectedAlarm[] {
  const { rules, range } = placement;
  const { deviceId, locationId, intervalMs, steps } = trace;
  const expected: ExpectedAlarm[] = [];
  const push = (kind: AlertKind, from: number, to: number | null, required: boolean, why: string) =>
    expected.push({ deviceId, locationId, kind, from, to, required, why });
  const suppressed = (kind: AlertKind) => (t: number) => placement.suppress.some((w) => w.kinds.includes(kind) && inSuppression(w, t));
  // A reading is up to one interval late to see a change, and readings are rounded to 0.1.
  const tolerance = 2 * intervalMs + 60_000;
  const tempMargin = 3 * trace.noise + 0.1;

  const limit = (kind: AlertKind, value: (s: DeviceTrace['steps'][number]) => number, threshold: number, direction: 1 | -1, margin: number, unit: string) => {
    for (const run of runs(
      steps,
      (s) => (value(s) - threshold) * direction > -margin,
      (s) => (value(s) - threshold) * direction > margin,
      suppressed(kind),
    )) {
      const long = run.clearMs >= rules.activationDelay + tolerance;
      if (run.to !== null && run.to - run.from < rules.activationDelay - tolerance) continue;
      push(
        kind,
        run.from,
        run.to,
        long && !run.suppressed,
        `${direction > 0 ? 'above' : 'below'} ${threshold} ${unit} for ${Math.round(run.clearMs / 60_000)} min clearly`,
      );
    }
  };
  const t = (s: DeviceTrace['steps'][number]) => s.temperature;
  limit('temperature_high', t, range.temperature.max, 1, tempMargin, '°C');
  limit('temperature_low', t, range.temperature.min, -1, tempMargin, '°C');
  if (rules.warningBand > 0) {
    limit('temperature_warning_high', t, range.temperature.max - rules.warningBand, 1, tempMargin, '°C');
    limit('temperature_warning_low', t, range.temperature.min + rules.warningBand, -1, tempMargin, '°C');
  }
  if (range.humidity) {
    limit('humidity_high', (s) => s.humidity, range.humidity.max, 1, 2.5, '%RH');
    limit('humidity_low', (s) => s.humidity, range.humidity.min, -1, 2.5, '%RH');
  }

  // Cumulative time out of range in the sliding window: required once clearly over the budget.
  const { budget, window } = rules.cumulative;
  const outside = (s: DeviceTrace['steps'][number], margin: number) =>
    s.temperature > range.temperature.max + margin || s.temperature < range.temperature.min - margin;
  const total = (margin: number) => {
    const spans: Array<{ t: number; ms: number }> = [];
    let sum = 0;
    return (s: DeviceTrace['steps'][number], dt: number) => {
      if (outside(s, margin)) {
        spans.push({ t: s.t, ms: dt });
        sum += dt;
      }
      while (spans.length && spans[0]!.t < s.t - window) sum -= spans.shift()!.ms;
      return sum;
    };
  };
  const loose = total(-tempMargin);
  const strict = total(tempMargin);
  let cumulative: ExpectedAlarm | undefined;
  steps.forEach((s, i) => {
    const dt = i ? s.t - steps[i - 1]!.t : 0;
    const looseSum = loose(s, dt);
    const strictSum = strict(s, dt);
    const over = looseSum > budget - tolerance && outside(s, -tempMargin) && !suppressed('cumulative_time_out_of_range')(s.t);
    if (over && !cumulative) {
      cumulative = {
        deviceId,
        locationId,
        kind: 'cumulative_time_out_of_range',
        from: s.t,
        to: null,
        required: false,
        why: `out of range ${Math.round(looseSum / 60_000)} min within ${window / 3_600_000} h`,
      };
      expected.push(cumulative);
    }
    if (cumulative && strictSum > budget + 2 * tolerance && outside(s, tempMargin)) cumulative.required = true;
    // Back in range for longer than the fold window: the next spend is a new alarm.
    if (cumulative && !outside(s, -tempMargin)) cumulative.to ??= s.t;
    if (cumulative && outside(s, -tempMargin)) cumulative.to = null;
    if (cumulative?.to != null && s.t - cumulative.to > policy.foldWindow) cumulative = undefined;
  });

  for (const run of runs(
    steps,
    (s) => s.door,
    (s) => s.door,
    suppressed('door_open'),
  )) {
    const open = (run.to ?? steps.at(-1)!.t) - run.from;
    if (open < rules.doorOpenMax - intervalMs) continue;
    push('door_open', run.from, run.to, open >= rules.doorOpenMax + intervalMs + 10_000 && !run.suppressed, `door open ${Math.round(open / 60_000)} min`);
  }

  const gapMs = rules.silentAfterIntervals * intervalMs;
  for (let i = 1; i < trace.readings.length; i++) {
    const [a, b] = [trace.readings[i - 1]!.ts, trace.readings[i]!.ts];
    if (b - a > gapMs) push('device_silent', a + gapMs, b, b - a > gapMs + intervalMs, `no reading for ${Math.round((b - a) / 60_000)} min (device time)`);
  }
  // Live communication loss depends on how fast the run is replayed: never required.
  const sorted = [...trace.publishes].sort((x, y) => x - y);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]! - sorted[i - 1]! > placement.offlineAfterMs - 60_000) {
      const before = trace.readings.filter((r) => r.ts <= sorted[i - 1]!).at(-1)?.ts ?? sorted[i - 1]!;
      push('device_silent', before + gapMs, sorted[i]!, false, `nothing received for ${Math.round((sorted[i]! - sorted[i - 1]!) / 60_000)} min`);
    }
  }

  const low = trace.readings.find((r) => r.battery !== undefined && r.battery < rules.lowBattery);
  if (low) push('battery_low', low.ts, null, true, `battery below ${rules.lowBattery} %`);
  return expected;
}

/** An alarm the system raised (became active at least once). */
export interface RaisedAlarm {
  id?: string;
  deviceId: string;
  kind: AlertKind;
  occurredAt: number;
  clearedAt: number | null;
}

export interface AlarmJudgement {
  required: number;
  raised: number;
  recall: number;
  precision: number;
  missed: ExpectedAlarm[];
  unexpected: RaisedAlarm[];
}

/** Recall over required alarms, precision over raised ones; matched by device, kind and overlapping time. */
export function judgeAlarms(expected: ExpectedAlarm[], raised: RaisedAlarm[], toleranceMs = 15 * 60_000): AlarmJudgement {
  const overlaps = (e: ExpectedAlarm, r: RaisedAlarm) =>
    e.deviceId === r.deviceId && e.kind === r.kind && r.occurredAt <= (e.to ?? Infinity) + toleranceMs && (r.clearedAt ?? Infinity) >= e.from - toleranceMs;
  const required = expected.filter((e) => e.required);
  const missed = required.filter((e) => !raised.some((r) => overlaps(e, r)));
  const unexpected = raised.filter((r) => !expected.some((e) => overlaps(e, r)));
  return {
    required: required.length,
    raised: raised.length,
    recall: required.length ? (required.length - missed.length) / required.length : 1,
    precision: raised.length ? (raised.length - unexpected.length) / raised.length : 1,
    missed,
    unexpected,
  };
}
