import { EventEmitter } from 'node:events';
import type { Registry } from '../core/registry.js';
import type { AcceptedBatch } from '../ingestor/records.js';
import type { DevicePlacement } from '../core/registry.js';
import { DeviceEvaluator, episodeId, initialState, type EvalReading, type EvaluatorState, type Episode } from './evaluator.js';
import { ReadingHistory } from './history.js';

/** What the engine tells the world: an episode with where it happened and when we found out. */
export interface AlertChange extends Episode {
  deviceId: string;
  siteId: string;
  locationId: string;
  /**
   * `pending`: a rule is broken, its activation delay not yet over; `discarded`: it ended before
   * (never an alarm); `retracted`: readings that arrived later show it did not happen.
   */
  state: 'pending' | 'active' | 'cleared' | 'discarded' | 'retracted';
  /** Processing time at which this change was found. */
  detectedAt: number;
  /** Found well after it happened (store-and-forward upload, backfill): DESIGN.md §5. */
  late: boolean;
  durationMs: number | null;
}

const CHECKPOINT_EVERY = 64;

interface DeviceTrack {
  evaluator: DeviceEvaluator;
  placement: { siteId: string; locationId: string };
  intervalMs: number;
  /** Readings in device-time order (bounded by `historyMs`), in typed arrays. */
  readings: ReadingHistory;
  /** Evaluator state before readings[index]. */
  checkpoints: Array<{ index: number; ts: number; state: EvaluatorState }>;
  /** What was last reported per episode, to report only real changes. */
  reported: Map<string, AlertChange>;
  /** Older readings have been dropped from `readings`. */
  pruned: boolean;
  /** Processing time of the last batch, for the live silence check. */
  lastReceivedAt: number;
  /** A communication alarm raised on processing time, until data returns. */
  liveSilent?: AlertChange;
  /** Out-of-order readings waiting to be judged together (see `coalesceMs`). */
  backfill?: { readings: EvalReading[]; since: number; timer: NodeJS.Timeout | undefined };
}

/**
 * Longest a backlog waits to be coalesced while messages of it keep coming, and most readings it
 * gathers: judged in parts past either, each part moves the gap it leaves and so raises and
 * retracts a gap alarm of its own. Live readings never wait for it.
 */
const MAX_COALESCE_MS = 30_000;
const MAX_COALESCE_READINGS = 50_000;

/**
 * Evaluates alert rules per device on device time, whatever order readings arrive in: a reading
 * older than the newest one seen is inserted in place and the device's rules are replayed from
 * the checkpoint before it, so a backfilled batch produces exactly the episodes the same readings
 * produce live (deterministic replay). Fed from the pipeline's `accepted` events: a live message
 * within the call that ingests it, while its commit group is fsynced (ingestor/pipeline.ts).
 */
export class AlertEngine extends EventEmitter<{ change: [AlertChange] }> {
  private readonly devices = new Map<string, DeviceTrack>();

  constructor(
    private readonly registry: () => Registry,
    private readonly options: {
      historyMs?: number;
      maxReadingsPerDevice?: number;
      now?: () => number;
      /** Out-of-order readings are judged together once none came for this long (0: at once). */
      coalesceMs?: number;
    } = {},
  ) {
    super();
  }

  private track(deviceId: string): DeviceTrack | undefined {
    const existing = this.devices.get(deviceId);
    if (existing) return existing;
    const placement = this.registry().device(deviceId);
    if (!placement) return undefined;
    const track: DeviceTrack = {
      evaluator: new DeviceEvaluator(deviceId, placement.profile, placement.rules, placement.device.interval, placement.location.suppress, {
        windowMs: placement.alarms.foldWindow,
        chatterCount: placement.alarms.chatterCount,
      }),
      placement: { siteId: placement.site.id, locationId: placement.location.id },
      intervalMs: placement.device.interval,
      readings: new ReadingHistory(),
      checkpoints: [],
      reported: new Map(),
      pruned: false,
      lastReceivedAt: this.now(),
    };
    this.devices.set(deviceId, track);
    return track;
  }

  ingest(batch: AcceptedBatch): void {
    const track = this.track(batch.deviceId);
    if (!track) return;
    // One reading a message is the common case: no array, no dedupe, no sort.
    if (batch.readings.length === 1 && batch.readings[0]!.ts > track.readings.newestTs()) {
      const reading = batch.readings[0]!;
      this.append(track, reading);
      track.lastReceivedAt = this.now();
      this.endLiveSilence(track, reading.ts);
      return;
    }
    const incoming: EvalReading[] = inDeviceTimeOrder(batch.readings);
    const newest = track.readings.newestTs();
    const first = incoming[0]!;
    const coalesceMs = this.options.coalesceMs ?? 0;
    if (first.ts > newest) {
      // Live: judged at once, even while a backlog waits (replayed with it when that is judged).
      for (const reading of incoming) this.append(track, reading);
    } else if (coalesceMs > 0) {
      // A backlog uploaded out of order arrives as many messages: judged once when they stop
      // coming, not replayed per message (each partial replay found and retracted gaps of its own).
      track.backfill ??= { readings: [], since: this.now(), timer: undefined };
      const pending = track.backfill;
      for (const r of incoming) pending.readings.push(r);
      if (pending.timer) clearTimeout(pending.timer);
      const full = this.now() - pending.since >= MAX_COALESCE_MS || pending.readings.length >= MAX_COALESCE_READINGS;
      const wait = full ? 0 : coalesceMs;
      pending.timer = setTimeout(() => this.flushBackfill(track), wait);
      pending.timer.unref();
    } else {
      this.insertAndReplay(track, incoming);
    }
    track.lastReceivedAt = this.now();
    this.endLiveSilence(track, first.ts);
  }

  private flushBackfill(track: DeviceTrack): void {
    const pending = track.backfill;
    if (!pending) return;
    track.backfill = undefined;
    if (pending.timer) clearTimeout(pending.timer);
    const incoming = [...new Map(pending.readings.map((r) => [r.ts, r])).values()].sort((a, b) => a.ts - b.ts);
    const newest = track.readings.newestTs();
    if (incoming[0]!.ts > newest) for (const reading of incoming) this.append(track, reading);
    else this.insertAndReplay(track, incoming);
  }

  /** Drops a device's history and state: another node judges it now (cluster), or its history is about to be reloaded. */
  forget(deviceId: string): void {
    const track = this.devices.get(deviceId);
    if (track?.backfill?.timer) clearTimeout(track.backfill.timer);
    this.devices.delete(deviceId);
  }

  /** Judges every backlog still waiting to be coalesced (tests, shutdown). */
  flushBackfills(): void {
    for (const track of this.devices.values()) this.flushBackfill(track);
  }

  /**
   * Devices that have sent nothing for their silence timeout (processing time): a communication
   * or power alarm now, not when data returns. Its id is the one the device-time rule gives the
   * same gap, so when the device resumes after a real gap the two are one alert.
   */
  checkSilence(): void {
    const now = this.now();
    for (const track of this.devices.values()) {
      if (!track.readings.length || track.liveSilent) continue;
      const placement = this.registry().device(track.evaluator.deviceId);
      if (!placement) continue;
      const { rules } = placement;
      const gapMs = rules.silentAfterIntervals * track.intervalMs;
      const offlineMs = offlineAfter(placement);
      if (now - track.lastReceivedAt <= offlineMs) continue;
      // The id is the device-time rule's for the same gap, whatever the processing-time delay.
      const occurredAt = track.readings.newestTs() + gapMs;
      const id = episodeId(track.evaluator.deviceId, 'device_silent', occurredAt);
      const change: AlertChange = {
        id,
        kind: 'device_silent',
        severity: rules.severity.silent,
        occurredAt,
        activatedAt: occurredAt,
        lastActivatedAt: occurredAt,
        threshold: gapMs,
        peak: now - track.lastReceivedAt,
        relapses: 0,
        chattering: false,
        deviceId: track.evaluator.deviceId,
        ...track.placement,
        state: 'active',
        detectedAt: now,
        late: false,
        durationMs: null,
      };
      track.liveSilent = change;
      track.reported.set(id, change);
      this.emit('change', change);
    }
  }

  /** Data is back: a live silence alarm clears (the device-time rule may already have cleared it). */
  private endLiveSilence(track: DeviceTrack, firstNewTs: number): void {
    const live = track.liveSilent;
    if (!live) return;
    track.liveSilent = undefined;
    if (track.reported.get(live.id)?.state !== 'active') return;
    const clearedAt = Math.max(firstNewTs, live.occurredAt);
    const cleared: AlertChange = {
      ...live,
      state: 'cleared',
      clearedAt,
      detectedAt: this.now(),
      durationMs: clearedAt - live.occurredAt,
      peak: this.now() - live.detectedAt + live.threshold,
    };
    track.reported.set(live.id, cleared);
    this.emit('change', cleared);
  }

  private append(track: DeviceTrack, reading: EvalReading, found?: Set<string>): void {
    if (track.readings.length % CHECKPOINT_EVERY === 0) {
      this.prune(track);
      track.checkpoints.push({ index: track.readings.length, ts: reading.ts, state: track.evaluator.snapshot() });
    }
    track.readings.push(reading);
    const episodes = track.evaluator.feed(reading);
    // Nearly every reading changes no episode: no clock read, no loop.
    if (episodes.length === 0) return;
    for (const episode of episodes) found?.add(episode.id);
    this.report(track, episodes);
  }

  private insertAndReplay(track: DeviceTrack, incoming: EvalReading[]): void {
    const history = track.readings;
    if (track.pruned) {
      // Older than the kept history: the state before it is gone, so it cannot be judged in order.
      const oldest = history.length ? history.ts(0) : Number.NEGATIVE_INFINITY;
      incoming = incoming.filter((r) => r.ts >= oldest);
      if (!incoming.length) return;
    }
    const from = incoming[0]!.ts;
    // Checkpoints sit at multiples of CHECKPOINT_EVERY; readings before `from` did not move, and
    // those before the checkpoint are all older than it: only the rest is merged and replayed.
    const checkpoint = track.checkpoints.filter((c) => c.ts < from).at(-1);
    const start = checkpoint?.index ?? 0;
    // Same device and timestamp is the same point (as in InfluxDB): the newer copy wins.
    const byTs = new Map<number, EvalReading>();
    for (let i = start; i < history.length; i++) byTs.set(history.ts(i), history.at(i));
    for (const r of incoming) byTs.set(r.ts, r);
    const merged = [...byTs.values()].sort((a, b) => a.ts - b.ts);
    track.evaluator.restore(checkpoint?.state ?? initialState());
    history.truncate(start);
    track.checkpoints = track.checkpoints.filter((c) => c.index < start);
    const found = new Set<string>();
    for (const reading of merged) this.append(track, reading, found);
    // What the replayed span no longer produces was an artefact of missing readings: say so,
    // rather than silently keeping or deleting it (the audit trail keeps every earlier event).
    const replayedFrom = merged[0]?.ts ?? from;
    for (const [id, last] of track.reported) {
      if (last.occurredAt < replayedFrom || found.has(id) || last.state === 'retracted') continue;
      const retracted: AlertChange = { ...last, state: 'retracted', detectedAt: this.now(), late: false };
      track.reported.set(id, retracted);
      this.emit('change', retracted);
    }
  }

  /** A device's temperatures since `sinceTs` (device time) from the engine's history: the trend an alarm shows. */
  recent(deviceId: string, sinceTs: number): Array<[number, number]> {
    const readings = this.devices.get(deviceId)?.readings;
    if (!readings) return [];
    const out: Array<[number, number]> = [];
    for (let i = readings.lowerBound(sinceTs); i < readings.length; i++) out.push([readings.ts(i), readings.temperature(i)]);
    return out;
  }

  /**
   * The points a trend is drawn or told from, temperature with device time in [sinceTs, untilTs],
   * in time order: the first and the last, and the lowest and highest of each of `slices` equal
   * time slices. One slice is what a trend sentence says (text.ts); an incident's chart asks for
   * hundreds, which is every reading of a sensor that sends less often than a slice is long. A scan,
   * not a copy of the hour: at 25 readings a second an hour is 90,000 points, and every open
   * incident on every board's overview asked for them (a 30-minute soak saturated the main thread
   * with it); no slice's peak is dropped, so an excursion shows as high as it went.
   */
  trendPoints(deviceId: string, sinceTs: number, untilTs: number, slices = 1): Array<[number, number]> {
    const readings = this.devices.get(deviceId)?.readings;
    if (!readings) return [];
    const start = readings.lowerBound(sinceTs);
    const keep: number[] = [];
    const width = (untilTs - sinceTs + 1) / slices;
    let slice = -1;
    let lo = -1;
    let hi = -1;
    let i = start;
    for (; i < readings.length && readings.ts(i) <= untilTs; i++) {
      const s = Math.min(slices - 1, Math.floor((readings.ts(i) - sinceTs) / width));
      if (s !== slice) {
        if (slice >= 0) keep.push(lo, hi);
        else keep.push(i);
        slice = s;
        lo = hi = i;
        continue;
      }
      const t = readings.temperature(i);
      if (t < readings.temperature(lo)) lo = i;
      if (t > readings.temperature(hi)) hi = i;
    }
    if (slice < 0) return [];
    keep.push(lo, hi, i - 1);
    return [...new Set(keep)].sort((a, b) => a - b).map((k) => [readings.ts(k), readings.temperature(k)]);
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  private report(track: DeviceTrack, episodes: Episode[]): void {
    const now = this.now();
    for (const episode of episodes) {
      const state =
        episode.discardedAt !== undefined
          ? 'discarded'
          : episode.clearedAt !== undefined
            ? 'cleared'
            : episode.activatedAt === undefined
              ? 'pending'
              : 'active';
      const previous = track.reported.get(episode.id);
      // A replay re-finds what was already reported; only what is new goes out.
      if (
        previous &&
        previous.state === state &&
        previous.clearedAt === episode.clearedAt &&
        previous.activatedAt === episode.activatedAt &&
        previous.relapses === episode.relapses
      )
        continue;
      const lateAfter = Math.max(2 * track.intervalMs, 60_000);
      const happenedAt =
        state === 'cleared' ? episode.clearedAt! : state === 'discarded' ? episode.discardedAt! : (episode.lastActivatedAt ?? episode.occurredAt);
      const change: AlertChange = {
        ...episode,
        deviceId: track.evaluator.deviceId,
        ...track.placement,
        state,
        detectedAt: now,
        late: now - happenedAt > lateAfter,
        durationMs: episode.clearedAt === undefined ? null : episode.clearedAt - episode.occurredAt,
      };
      track.reported.set(episode.id, change);
      this.emit('change', change);
    }
  }

  /**
   * Keeps memory bounded: readings older than the history window (or beyond the per-device cap,
   * for devices reporting many times a second) can no longer change alerts.
   */
  private prune(track: DeviceTrack): void {
    const historyMs = this.options.historyMs ?? 48 * 3_600_000;
    const maxReadings = this.options.maxReadingsPerDevice ?? 8192;
    if (!track.readings.length) return;
    const droppedBefore = track.readings.newestTs() - historyMs;
    const beyondCap = track.readings.length - maxReadings;
    // Checkpoints are in index and device-time order, so the ones old enough to go are a prefix:
    // the scan stops at the first kept one (it ran a closure over all 128 every 64 readings).
    const checkpoints = track.checkpoints;
    let kept = 0;
    while (kept < checkpoints.length && (checkpoints[kept]!.ts <= droppedBefore || checkpoints[kept]!.index <= beyondCap)) kept++;
    const keepFrom = checkpoints[kept - 1];
    if (!keepFrom || keepFrom.index === 0) return;
    track.readings.dropFront(keepFrom.index);
    track.pruned = true;
    // Episodes over before the kept history can no longer change: forget what was reported of them.
    for (const [id, last] of track.reported) {
      if (last.state !== 'active' && last.state !== 'pending' && (last.clearedAt ?? last.occurredAt) < keepFrom.ts) track.reported.delete(id);
    }
    // The checkpoints from keepFrom on, moved down in place (a copy of each was made every 64 readings at the cap).
    const shift = keepFrom.index;
    track.checkpoints = checkpoints.slice(kept - 1);
    for (const c of track.checkpoints) c.index -= shift;
    track.evaluator.forgetBefore(track.checkpoints.map((c) => c.state));
  }
}

/**
 * A batch's readings in device-time order, one per device time (the last of equal times, at the
 * first one's place, as a Map keyed by device time gives). A batch already strictly in order is
 * nearly every batch, and is that list as it is: no Map, no copy, no sort for every message.
 */
export function inDeviceTimeOrder<R extends { ts: number }>(readings: readonly R[]): R[] {
  let ordered = true;
  for (let i = 1; i < readings.length; i++)
    if (!(readings[i]!.ts > readings[i - 1]!.ts)) {
      ordered = false;
      break;
    }
  if (ordered) return readings as R[];
  return [...new Map(readings.map((r) => [r.ts, r])).values()].sort((a, b) => a.ts - b.ts);
}

/** How long a device may send nothing (processing time) before the communication alarm. */
export function offlineAfter(placement: DevicePlacement): number {
  const { rules, device, location } = placement;
  if (rules.offlineAfter !== undefined) return rules.offlineAfter;
  const gapMs = rules.silentAfterIntervals * device.interval;
  // On the road, coverage gaps are normal and devices upload their backlog afterwards.
  return location.kind === 'vehicle_compartment' ? Math.max(gapMs, 2 * 3_600_000) : gapMs;
}
