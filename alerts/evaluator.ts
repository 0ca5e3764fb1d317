import { createHash } from 'node:crypto';
import { inSuppression, type AlertKind, type AlertRules, type Suppression } from '../core/config/alert-rules.js';
import type { ProductProfile } from '../core/config/schema.js';
import type { Reading } from '../core/reading.js';

type Severity = AlertRules['severity'][keyof AlertRules['severity']];

/** What the rules look at in a reading (core/reading.ts owns the shape). */
export type EvalReading = Pick<Reading, 'ts' | 'temperature' | 'humidity' | 'battery' | 'door'>;

/** One excursion of one rule on one device, judged on device time. */
export interface Episode {
  /** Deterministic: the same readings always give the same id, whatever order they came in. */
  id: string;
  kind: AlertKind;
  severity: Severity;
  /** Device time of the first reading that broke the rule. */
  occurredAt: number;
  /** Device time at which the activation delay had elapsed; absent while pending. */
  activatedAt?: number;
  /** Device time of the latest activation (differs from activatedAt after a relapse). */
  lastActivatedAt?: number;
  clearedAt?: number;
  /** Device time at which a pending episode ended before its delay elapsed: never an alarm. */
  discardedAt?: number;
  /** The limit that was crossed (°C, %RH, %, ms, °C/h). */
  threshold: number;
  /** The worst value seen during the episode. */
  peak: number;
  /** Times the rule broke again within the fold window after clearing: one alert, counted. */
  relapses: number;
  /** Relapsed at least chatterCount − 1 times: a nuisance alarm to fix at its cause. */
  chattering: boolean;
}

export const episodeId = (deviceId: string, kind: AlertKind, occurredAt: number) =>
  `al_${createHash('sha256').update(`${deviceId}|${kind}|${occurredAt}`).digest('hex').slice(0, 20)}`;

/** ISA-18.2 folding: a rule that breaks again soon after clearing continues its alert. */
export interface FoldPolicy {
  windowMs: number;
  chatterCount: number;
}

interface LimitRule {
  kind: AlertKind;
  severity: Severity;
  threshold: number;
  /** +1: alarm above the threshold, −1: below it. */
  direction: 1 | -1;
  hysteresis: number;
  delayMs: number;
  value: (r: EvalReading) => number | undefined;
}

/** An open episode: pending, active, or cleared but still within its fold window. */
interface OpenEpisode extends Episode {
  /** While cleared within the fold window: device time the rule started breaking again. */
  relapseFrom?: number;
}

/** Plain data only, so a checkpoint is a plain deep copy (`plainCopy`). */
export interface EvaluatorState {
  open: Partial<Record<AlertKind, OpenEpisode>>;
  last?: EvalReading;
  /** Out-of-range time contributed by each reading (until the next one) in the cumulative budget's window. */
  outOfRange: OutOfRangeWindow;
  /** Recent readings for the rate-of-change regression (only when that rule is on). */
  recent: Array<{ ts: number; temperature: number }>;
  doorOpenSince?: number;
}

/** The cumulative budget's window: entries [from, to) of the evaluator's `OutOfRangeLog` (absolute indices). */
export interface OutOfRangeWindow {
  from: number;
  to: number;
  /** The window's ms, kept as entries come and go. */
  ms: number;
  /** How many of the window's ms are not whole: then the sum is taken afresh (see `OutOfRangeLog.sum`). */
  inexact: number;
}

/**
 * A deep copy of plain data (objects, arrays, primitives; no shared parts, which the state has
 * none of): what `structuredClone` gives such data, at a fraction of its cost (it serialises and
 * deserialises: ≈ 6 µs a checkpoint, 2–3 % of the ingest thread in BENCH_ONLY=batched).
 * tests/alerts-engine.test.ts holds the two equal.
 */
export function plainCopy<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const out: unknown[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = plainCopy(value[i]);
    return out as T;
  }
  const out: Record<string, unknown> = {};
  for (const key in value) out[key] = plainCopy((value as Record<string, unknown>)[key]);
  return out as T;
}

/** A device's rules before any reading. */
export const initialState = (): EvaluatorState => ({ open: {}, outOfRange: { from: 0, to: 0, ms: 0, inexact: 0 }, recent: [] });

/**
 * The out-of-range contributions (device time, ms) of one device in device-time order, shared by its
 * state and every checkpoint of it: a state names its window by absolute indices, so a checkpoint
 * copies four numbers, not the window. With the window in the state, each checkpoint (one every 64
 * readings) cloned it: a day of a 1-second sensor out of range is 86,400 entries, cloned and kept
 * alive by each of a device's 128 checkpoints. After a restore, appending overwrites what the
 * replaced readings had appended (no kept checkpoint looks past the restored one).
 */
class OutOfRangeLog {
  private ts: number[] = [];
  private ms: number[] = [];
  /** Absolute index of `ts[0]`. */
  private base = 0;

  append(w: OutOfRangeWindow, ts: number, ms: number): void {
    const end = w.to - this.base;
    if (this.ts.length !== end) {
      this.ts.length = end;
      this.ms.length = end;
    }
    this.ts.push(ts);
    this.ms.push(ms);
    w.to++;
    w.ms += ms;
    if (!Number.isSafeInteger(ms)) w.inexact++;
  }

  /** Moves the window's start past entries older than `windowStart`. */
  slide(w: OutOfRangeWindow, windowStart: number): void {
    while (w.from < w.to && this.ts[w.from - this.base]! < windowStart) {
      const ms = this.ms[w.from - this.base]!;
      w.from++;
      w.ms -= ms;
      if (!Number.isSafeInteger(ms)) w.inexact--;
    }
  }

  /**
   * The window's total. A running sum of whole milliseconds is exact in any order; with a fractional
   * device time (allowed) it is summed afresh in the window's order, as it always was.
   */
  sum(w: OutOfRangeWindow): number {
    if (w.from === w.to) return 0;
    if (!w.inexact && Number.isSafeInteger(w.ms)) return w.ms;
    let total = 0;
    for (let i = w.from; i < w.to; i++) total += this.ms[i - this.base]!;
    // The fractional entries have left: the running sum starts again from the exact one.
    if (!w.inexact) w.ms = total;
    return total;
  }

  /** A state restored from before everything kept (the initial state): nothing older is needed. */
  restored(w: OutOfRangeWindow): void {
    if (w.from >= this.base) return;
    this.ts = [];
    this.ms = [];
    this.base = w.to;
  }

  /** Forgets entries before `from` once they are many: no kept state looks at them any more. */
  forgetBefore(from: number): void {
    const n = from - this.base;
    if (n < 1024 || n < this.ts.length / 2) return;
    this.ts.splice(0, n);
    this.ms.splice(0, n);
    this.base = from;
  }
}

/**
 * What a rule says of one reading. One object per evaluator, refilled by each rule: at 10,000
 * readings/s a verdict and a peak closure per rule and reading were most of what the rules
 * allocated on the ingest thread.
 */
interface Verdict {
  /** The rule is broken by this reading. */
  breaking: boolean;
  /** The condition is over (past its deadband): an active alert clears, a pending one is dropped. */
  clearing: boolean;
  delayMs: number;
  /** This reading's value for the peak: it becomes the peak when worse than it. */
  value: number;
  /** +1: higher is worse, −1: lower is worse. */
  worse: 1 | -1;
  severity: Severity;
  threshold: number;
}

/** The worst of a peak so far and a new value (a value that is not worse keeps the peak). */
const worstOf = (v: Verdict, current: number) => ((v.value - current) * v.worse > 0 ? v.value : current);

const DEFAULT_FOLD: FoldPolicy = { windowMs: 30 * 60_000, chatterCount: 3 };

/**
 * The alert rules of one device as a state machine over its readings in device-time order.
 * `feed` returns the episodes whose state changed with that reading. It is pure: the same
 * sequence of readings always yields the same episodes, which is what makes replay deterministic.
 *
 * Every rule has a minimum duration (activation delay) and a deadband before it clears; a rule
 * that breaks again within the fold window after clearing reactivates the same alert (counted as
 * a relapse, flagged chattering past the limit) instead of raising a new one.
 */
export class DeviceEvaluator {
  private readonly limits: LimitRule[];
  private readonly verdict: Verdict = { breaking: false, clearing: false, delayMs: 0, value: 0, worse: 1, severity: 'info', threshold: 0 };
  private readonly outOfRangeLog = new OutOfRangeLog();
  state: EvaluatorState = initialState();

  constructor(
    readonly deviceId: string,
    private readonly ranges: Pick<ProductProfile, 'temperature' | 'humidity'>,
    private readonly rules: AlertRules,
    private readonly intervalMs: number,
    private readonly suppressions: Suppression[] = [],
    private readonly fold: FoldPolicy = DEFAULT_FOLD,
  ) {
    const { temperature, humidity } = ranges;
    const alerts = rules;
    const t = (r: EvalReading) => r.temperature;
    const h = (r: EvalReading) => r.humidity;
    const delayMs = alerts.activationDelay;
    this.limits = [
      {
        kind: 'temperature_high',
        severity: alerts.severity.excursion,
        threshold: temperature.max,
        direction: 1,
        hysteresis: alerts.clearHysteresis,
        delayMs,
        value: t,
      },
      {
        kind: 'temperature_low',
        severity: alerts.severity.excursion,
        threshold: temperature.min,
        direction: -1,
        hysteresis: alerts.clearHysteresis,
        delayMs,
        value: t,
      },
    ];
    if (alerts.warningBand > 0) {
      this.limits.push(
        {
          kind: 'temperature_warning_high',
          severity: alerts.severity.warning,
          threshold: temperature.max - alerts.warningBand,
          direction: 1,
          hysteresis: alerts.clearHysteresis,
          delayMs,
          value: t,
        },
        {
          kind: 'temperature_warning_low',
          severity: alerts.severity.warning,
          threshold: temperature.min + alerts.warningBand,
          direction: -1,
          hysteresis: alerts.clearHysteresis,
          delayMs,
          value: t,
        },
      );
    }
    if (humidity) {
      this.limits.push(
        {
          kind: 'humidity_high',
          severity: alerts.severity.humidity,
          threshold: humidity.max,
          direction: 1,
          hysteresis: alerts.humidityHysteresis,
          delayMs,
          value: h,
        },
        {
          kind: 'humidity_low',
          severity: alerts.severity.humidity,
          threshold: humidity.min,
          direction: -1,
          hysteresis: alerts.humidityHysteresis,
          delayMs,
          value: h,
        },
      );
    }
  }

  /** In a suppression window (defrost, loading) a rule neither opens nor activates an alert. */
  private suppressed(kind: AlertKind, ts: number): boolean {
    return this.suppressions.some((w) => w.kinds.includes(kind) && inSuppression(w, ts));
  }

  /**
   * One rule's lifecycle for one reading: pending → active (after the delay) → cleared (past the
   * deadband) → folded back to active if it breaks again for the delay within the fold window.
   */
  private step(kind: AlertKind, ts: number, v: Verdict, changed: Episode[]): void {
    let episode = this.state.open[kind];
    if (episode?.clearedAt !== undefined && ts - episode.clearedAt > this.fold.windowMs) {
      delete this.state.open[kind];
      episode = undefined;
    }
    const breaking = v.breaking && !this.suppressed(kind, ts);
    if (!episode) {
      if (!breaking) return;
      const opened: OpenEpisode = {
        id: episodeId(this.deviceId, kind, ts),
        kind,
        severity: v.severity,
        occurredAt: ts,
        threshold: v.threshold,
        peak: v.value,
        relapses: 0,
        chattering: false,
      };
      this.state.open[kind] = opened;
      if (v.delayMs === 0) opened.activatedAt = opened.lastActivatedAt = ts;
      changed.push(this.report(opened));
      return;
    }
    if (episode.clearedAt === undefined) {
      episode.peak = worstOf(v, episode.peak);
      if (v.clearing) {
        if (episode.activatedAt === undefined) {
          delete this.state.open[kind];
          episode.discardedAt = ts;
        } else episode.clearedAt = ts;
        changed.push(this.report(episode));
      } else if (episode.activatedAt === undefined && breaking && ts - episode.occurredAt >= v.delayMs) {
        episode.activatedAt = episode.lastActivatedAt = ts;
        changed.push(this.report(episode));
      }
      return;
    }
    // Cleared, within the fold window.
    if (!breaking) {
      if (v.clearing) episode.relapseFrom = undefined;
      return;
    }
    episode.relapseFrom ??= ts;
    if (ts - episode.relapseFrom < v.delayMs) return;
    episode.clearedAt = undefined;
    episode.relapseFrom = undefined;
    episode.lastActivatedAt = ts;
    episode.relapses++;
    episode.chattering = episode.relapses + 1 >= this.fold.chatterCount;
    episode.peak = worstOf(v, episode.peak);
    changed.push(this.report(episode));
  }

  private report(episode: OpenEpisode): Episode {
    const { relapseFrom: _internal, ...copy } = episode;
    return copy;
  }

  /** Fills the evaluator's one verdict (see `Verdict`). */
  private judge(breaking: boolean, clearing: boolean, delayMs: number, value: number, worse: 1 | -1, severity: Severity, threshold: number): Verdict {
    const v = this.verdict;
    v.breaking = breaking;
    v.clearing = clearing;
    v.delayMs = delayMs;
    v.value = value;
    v.worse = worse;
    v.severity = severity;
    v.threshold = threshold;
    return v;
  }

  private limit(rule: LimitRule, r: EvalReading, changed: Episode[]): void {
    const value = rule.value(r);
    if (value === undefined) return;
    const breaking = (value - rule.threshold) * rule.direction > 0;
    const clearing = (rule.threshold - value) * rule.direction >= rule.hysteresis;
    this.step(rule.kind, r.ts, this.judge(breaking, clearing, rule.delayMs, value, rule.direction, rule.severity, rule.threshold), changed);
  }

  private outOfRange(r: EvalReading): boolean {
    const { temperature } = this.ranges;
    return r.temperature > temperature.max || r.temperature < temperature.min;
  }

  /**
   * Total time out of range in a sliding window (a stability budget). It alarms when the budget
   * is spent and the temperature is out of range again; back in range, it clears.
   */
  private cumulative(r: EvalReading, changed: Episode[]): void {
    const alerts = this.rules;
    const state = this.state;
    const last = state.last;
    if (last && this.outOfRange(last) && !this.suppressed('cumulative_time_out_of_range', last.ts)) {
      // A reading stands for the time until the next one, but a gap is not counted as excursion.
      this.outOfRangeLog.append(state.outOfRange, last.ts, Math.min(r.ts - last.ts, 2 * this.intervalMs));
    }
    this.outOfRangeLog.slide(state.outOfRange, r.ts - alerts.cumulative.window);
    const total = this.outOfRangeLog.sum(state.outOfRange);
    const spent = total > alerts.cumulative.budget;
    const out = this.outOfRange(r);
    this.step('cumulative_time_out_of_range', r.ts, this.judge(spent && out, !out, 0, total, 1, alerts.severity.cumulative, alerts.cumulative.budget), changed);
  }

  /** Least-squares slope of the temperature over the rate window, °C per hour. */
  private rate(r: EvalReading, changed: Episode[]): void {
    const max = this.rules.maxRatePerHour;
    if (max === undefined) return;
    const window = this.rules.rateWindow;
    const recent = this.state.recent;
    recent.push({ ts: r.ts, temperature: r.temperature });
    while (recent.length && recent[0]!.ts <= r.ts - window) recent.shift();
    // A slope needs readings across most of the window, not two neighbours.
    if (recent.length < 3 || r.ts - recent[0]!.ts < (2 * window) / 3) return;
    let sx = 0;
    let sy = 0;
    for (const p of recent) {
      sx += p.ts - r.ts;
      sy += p.temperature;
    }
    const n = recent.length;
    const mx = sx / n;
    const my = sy / n;
    let sxy = 0;
    let sxx = 0;
    for (const p of recent) {
      const dx = p.ts - r.ts - mx;
      sxy += dx * (p.temperature - my);
      sxx += dx * dx;
    }
    const perHour = sxx === 0 ? 0 : Math.abs((sxy / sxx) * 3_600_000);
    this.step(
      'rate_of_change',
      r.ts,
      this.judge(perHour > max, perHour <= 0.8 * max, this.rules.rateDelay, perHour, 1, this.rules.severity.rate, max),
      changed,
    );
  }

  private door(r: EvalReading, changed: Episode[]): void {
    if (r.door === undefined) return;
    const alerts = this.rules;
    if (!r.door) this.state.doorOpenSince = undefined;
    else this.state.doorOpenSince ??= r.ts;
    const openFor = r.door ? r.ts - this.state.doorOpenSince! : 0;
    this.step('door_open', r.ts, this.judge(r.door, !r.door, alerts.doorOpenMax, openFor, 1, alerts.severity.door, alerts.doorOpenMax), changed);
  }

  private battery(r: EvalReading, changed: Episode[]): void {
    if (r.battery === undefined) return;
    const alerts = this.rules;
    const level = r.battery;
    this.step(
      'battery_low',
      r.ts,
      this.judge(level < alerts.lowBattery, level >= alerts.lowBattery + 5, 0, level, -1, alerts.severity.battery, alerts.lowBattery),
      changed,
    );
  }

  /** A gap in device time longer than the silence timeout: a communication/power alarm over the gap. */
  private silence(r: EvalReading, changed: Episode[]): void {
    const last = this.state.last;
    const timeout = this.rules.silentAfterIntervals * this.intervalMs;
    if (!last || r.ts - last.ts <= timeout) return;
    const occurredAt = last.ts + timeout;
    changed.push({
      id: episodeId(this.deviceId, 'device_silent', occurredAt),
      kind: 'device_silent',
      severity: this.rules.severity.silent,
      occurredAt,
      activatedAt: occurredAt,
      lastActivatedAt: occurredAt,
      clearedAt: r.ts,
      threshold: timeout,
      peak: r.ts - last.ts,
      relapses: 0,
      chattering: false,
    });
  }

  /** Feeds the next reading in device-time order; returns the episodes it changed. */
  feed(r: EvalReading): Episode[] {
    const changed: Episode[] = [];
    this.silence(r, changed);
    for (const rule of this.limits) this.limit(rule, r, changed);
    this.cumulative(r, changed);
    this.rate(r, changed);
    this.door(r, changed);
    this.battery(r, changed);
    this.state.last = r;
    return changed;
  }

  snapshot(): EvaluatorState {
    return plainCopy(this.state);
  }

  restore(state: EvaluatorState): void {
    this.state = plainCopy(state);
    this.outOfRangeLog.restored(this.state.outOfRange);
  }

  /** The engine keeps only these checkpoints now: what no kept state looks at is forgotten. */
  forgetBefore(kept: EvaluatorState[]): void {
    let from = this.state.outOfRange.from;
    for (const k of kept) from = Math.min(from, k.outOfRange.from);
    this.outOfRangeLog.forgetBefore(from);
  }
}
