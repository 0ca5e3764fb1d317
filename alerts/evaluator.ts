import { createHash } from 'node:crypto';
import { inSuppression, type AlertKind, type AlertRules, type Suppression } from '../core/config/alert-rules.js';
import type { ProductProfile } from '../core/config/schema.js';

type Severity = AlertRules['severity'][keyof AlertRules['severity']];

export interface EvalReading {
  ts: number;
  temperature: number;
  humidity?: number;
  battery?: number;
  door?: boolean;
}

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
  clearedAt?: number;
  /** Device time at which a pending episode ended before its delay elapsed: never an alarm. */
  discardedAt?: number;
  /** The limit that was crossed (°C, %RH, %, ms, °C/h). */
  threshold: number;
  /** The worst value seen during the episode. */
  peak: number;
}

export const episodeId = (deviceId: string, kind: AlertKind, occurredAt: number) =>
  `al_${createHash('sha256').update(`${deviceId}|${kind}|${occurredAt}`).digest('hex').slice(0, 20)}`;

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

/** Plain data only, so a checkpoint is a structuredClone. */
export interface EvaluatorState {
  open: Partial<Record<AlertKind, Episode>>;
  last?: EvalReading;
  /** Out-of-range time contributed by each reading (until the next one), for the cumulative budget. */
  outOfRange: Array<{ ts: number; ms: number }>;
}

/**
 * The alert rules of one device as a state machine over its readings in device-time order.
 * `feed` returns the episodes whose state changed with that reading. It is pure: the same
 * sequence of readings always yields the same episodes, which is what makes replay deterministic.
 */
export class DeviceEvaluator {
  private readonly limits: LimitRule[];
  state: EvaluatorState = { open: {}, outOfRange: [] };

  constructor(
    readonly deviceId: string,
    private readonly ranges: Pick<ProductProfile, 'temperature' | 'humidity'>,
    private readonly rules: AlertRules,
    private readonly intervalMs: number,
    private readonly suppressions: Suppression[] = [],
  ) {
    const { temperature, humidity } = ranges;
    const alerts = rules;
    const t = (r: EvalReading) => r.temperature;
    const h = (r: EvalReading) => r.humidity;
    const delayMs = alerts.activationDelay;
    this.limits = [
      { kind: 'temperature_high', severity: alerts.severity.excursion, threshold: temperature.max, direction: 1, hysteresis: alerts.clearHysteresis, delayMs, value: t },
      { kind: 'temperature_low', severity: alerts.severity.excursion, threshold: temperature.min, direction: -1, hysteresis: alerts.clearHysteresis, delayMs, value: t },
    ];
    if (alerts.warningBand > 0) {
      this.limits.push(
        { kind: 'temperature_warning_high', severity: alerts.severity.warning, threshold: temperature.max - alerts.warningBand, direction: 1, hysteresis: alerts.clearHysteresis, delayMs, value: t },
        { kind: 'temperature_warning_low', severity: alerts.severity.warning, threshold: temperature.min + alerts.warningBand, direction: -1, hysteresis: alerts.clearHysteresis, delayMs, value: t },
      );
    }
    if (humidity) {
      this.limits.push(
        { kind: 'humidity_high', severity: alerts.severity.humidity, threshold: humidity.max, direction: 1, hysteresis: alerts.humidityHysteresis, delayMs, value: h },
        { kind: 'humidity_low', severity: alerts.severity.humidity, threshold: humidity.min, direction: -1, hysteresis: alerts.humidityHysteresis, delayMs, value: h },
      );
    }
  }

  private open(kind: AlertKind, severity: Severity, ts: number, threshold: number, peak: number): Episode {
    const episode: Episode = { id: episodeId(this.deviceId, kind, ts), kind, severity, occurredAt: ts, threshold, peak };
    this.state.open[kind] = episode;
    return episode;
  }

  /** Ends an open episode: an active one clears; a pending one is discarded (it never was an alarm). */
  private close(kind: AlertKind, ts: number, changed: Episode[]): void {
    const episode = this.state.open[kind];
    if (!episode) return;
    delete this.state.open[kind];
    if (episode.activatedAt === undefined) episode.discardedAt = ts;
    else episode.clearedAt = ts;
    changed.push({ ...episode });
  }

  /** A rule broken but not for long enough yet: reported as pending, so the board can show it coming. */
  private pending(episode: Episode, changed: Episode[]): void {
    changed.push({ ...episode });
  }

  private activate(episode: Episode, ts: number, changed: Episode[]): void {
    episode.activatedAt = ts;
    changed.push({ ...episode });
  }

  /** In a suppression window (defrost, loading) a rule neither opens nor activates an alert. */
  private suppressed(kind: AlertKind, ts: number): boolean {
    return this.suppressions.some((w) => w.kinds.includes(kind) && inSuppression(w, ts));
  }

  private limit(rule: LimitRule, r: EvalReading, changed: Episode[]): void {
    const value = rule.value(r);
    if (value === undefined) return;
    const beyond = (value - rule.threshold) * rule.direction > 0 && !this.suppressed(rule.kind, r.ts);
    const cleared = (rule.threshold - value) * rule.direction >= rule.hysteresis;
    const episode = this.state.open[rule.kind];
    if (!episode) {
      if (!beyond) return;
      const opened = this.open(rule.kind, rule.severity, r.ts, rule.threshold, value);
      if (rule.delayMs === 0) this.activate(opened, r.ts, changed);
      else this.pending(opened, changed);
      return;
    }
    if ((value - episode.peak) * rule.direction > 0) episode.peak = value;
    if (cleared) return this.close(rule.kind, r.ts, changed);
    if (episode.activatedAt === undefined && beyond && r.ts - episode.occurredAt >= rule.delayMs) this.activate(episode, r.ts, changed);
  }

  private cumulative(r: EvalReading, changed: Episode[]): void {
    const { temperature } = this.ranges;
    const alerts = this.rules;
    const last = this.state.last;
    if (last && (last.temperature > temperature.max || last.temperature < temperature.min) && !this.suppressed('cumulative_time_out_of_range', last.ts)) {
      // A reading stands for the time until the next one, but a gap is not counted as excursion.
      this.state.outOfRange.push({ ts: last.ts, ms: Math.min(r.ts - last.ts, 2 * this.intervalMs) });
    }
    const windowStart = r.ts - alerts.cumulative.window;
    while (this.state.outOfRange.length && this.state.outOfRange[0]!.ts < windowStart) this.state.outOfRange.shift();
    const total = this.state.outOfRange.reduce((sum, c) => sum + c.ms, 0);
    const episode = this.state.open.cumulative_time_out_of_range;
    if (total > alerts.cumulative.budget) {
      if (!episode) this.activate(this.open('cumulative_time_out_of_range', alerts.severity.cumulative, r.ts, alerts.cumulative.budget, total), r.ts, changed);
      else episode.peak = Math.max(episode.peak, total);
    } else if (episode) this.close('cumulative_time_out_of_range', r.ts, changed);
  }

  private rate(r: EvalReading, changed: Episode[]): void {
    const last = this.state.last;
    const alerts = this.rules;
    if (!last || r.ts - last.ts < 60_000 || this.suppressed('rate_of_change', r.ts)) return;
    const perHour = Math.abs(r.temperature - last.temperature) / ((r.ts - last.ts) / 3_600_000);
    const episode = this.state.open.rate_of_change;
    if (perHour > alerts.maxRatePerHour) {
      if (!episode) this.activate(this.open('rate_of_change', alerts.severity.rate, r.ts, alerts.maxRatePerHour, perHour), r.ts, changed);
      else episode.peak = Math.max(episode.peak, perHour);
    } else if (episode) this.close('rate_of_change', r.ts, changed);
  }

  private door(r: EvalReading, changed: Episode[]): void {
    if (r.door === undefined) return;
    const alerts = this.rules;
    const episode = this.state.open.door_open;
    if (!r.door) return this.close('door_open', r.ts, changed);
    if (!episode) {
      if (this.suppressed('door_open', r.ts)) return;
      const opened = this.open('door_open', alerts.severity.door, r.ts, alerts.doorOpenMax, 0);
      if (alerts.doorOpenMax === 0) this.activate(opened, r.ts, changed);
      else this.pending(opened, changed);
      return;
    }
    episode.peak = r.ts - episode.occurredAt;
    if (episode.activatedAt === undefined && episode.peak >= alerts.doorOpenMax) this.activate(episode, r.ts, changed);
  }

  private battery(r: EvalReading, changed: Episode[]): void {
    if (r.battery === undefined) return;
    const alerts = this.rules;
    const episode = this.state.open.battery_low;
    if (r.battery < alerts.lowBattery) {
      if (!episode) this.activate(this.open('battery_low', alerts.severity.battery, r.ts, alerts.lowBattery, r.battery), r.ts, changed);
      else episode.peak = Math.min(episode.peak, r.battery);
    } else if (episode && r.battery >= alerts.lowBattery + 5) this.close('battery_low', r.ts, changed);
  }

  /** A gap in device time longer than the silence timeout: a communication/power alarm over the gap. */
  private silence(r: EvalReading, changed: Episode[]): void {
    const last = this.state.last;
    const timeout = this.rules.silentAfterIntervals * this.intervalMs;
    if (!last || r.ts - last.ts <= timeout) return;
    const occurredAt = last.ts + timeout;
    changed.push({ id: episodeId(this.deviceId, 'device_silent', occurredAt), kind: 'device_silent', severity: this.rules.severity.silent, occurredAt, activatedAt: occurredAt, clearedAt: r.ts, threshold: timeout, peak: r.ts - last.ts });
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
    return structuredClone(this.state);
  }

  restore(state: EvaluatorState): void {
    this.state = structuredClone(state);
  }
}
