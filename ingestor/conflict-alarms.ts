import type { AuditLog } from '../audit/audit-log.js';
import { integrityAlertKinds, type IntegrityAlertKind } from '../core/config/alert-rules.js';
import type { Registry } from '../core/registry.js';
import type { Logger } from '../core/logger.js';
import { QaAlarms, qaAlarmId, raisedAlarm, type RaisedAlarm } from '../alerts/qa-alarms.js';
import type { AlertService } from '../alerts/service.js';
import { REJECTS_MEASUREMENT } from '../storage/measurements.js';
import type { InfluxClient } from '../storage/influx.js';

/** One reading_conflict alarm while raised: enough to clear it with the same id. */
type Raised = RaisedAlarm<IntegrityAlertKind> & { lastConflictAt: number };

/** How far back each round looks, beyond the writer's backlog: a conflict record reaches InfluxDB after its reading's spool line. */
const LOOKBACK_MS = 2 * 3_600_000;

/**
 * `reading_conflict`: a sensor sent a different reading for a device time already stored (issue
 * 13, item 1: raised to QA as a data-integrity event). The conflict is decided on the ingest path
 * (in memory, or by the writer for device times older than the index) and recorded in InfluxDB as
 * a `conflicting_reading` record; this reads those records back, so both paths, a restart and every
 * cluster node see the same ones (alarm ids are a hash of site, sensor and arrival, so the same
 * conflict is one alarm). One alarm per sensor and run of conflicts, at its site's `system` place,
 * through the ordinary incident path (tiers per `alarms.notify`, board, signatures); it clears
 * `alarms.integrity.quietAfter` after the sensor's last conflict and pages until QA signs it. In a
 * cluster only the holder of the notification lease reads the records and raises (`QaAlarms`).
 */
export class ConflictAlarms {
  /** Raised alarms by sensor. */
  private readonly alarms: QaAlarms<IntegrityAlertKind, Raised>;
  /** Conflict records already taken into account (deviceId|arrival), within the lookback. */
  private readonly seen = new Map<string, number>();
  /**
   * Per sensor, the alarms the book held finished when this node started raising them (at start,
   * or on taking the lease over), from the first conflict each stood for until it cleared: their
   * conflicts are not raised again (the book keeps finished alarms a week).
   */
  private readonly stoodFor = new Map<string, Array<{ from: number; to: number }>>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly deps: {
      alerts: AlertService;
      registry: () => Registry;
      influx: InfluxClient;
      audit: AuditLog;
      log: Logger;
      /** Receive time of the oldest record the writer has not yet got into InfluxDB (undefined: none). */
      oldestPendingAt: () => number | undefined;
      now?: () => number;
      /** How often the conflict records are read (default 5 s). */
      everyMs?: number;
    },
  ) {
    this.alarms = new QaAlarms(deps, {
      kinds: integrityAlertKinds,
      name: 'reading-conflict alarm',
      action: 'integrity_alarm',
      key: (alarm) => alarm.deviceId,
      // Its later conflicts that this node has not read yet move it on in the next round.
      held: (alarm) => ({ ...alarm, lastConflictAt: alarm.peak }),
      taken: (alerts) => {
        this.stoodFor.clear();
        for (const alert of alerts) {
          if (alert.clearedAt === null) continue;
          const spans = this.stoodFor.get(alert.deviceId) ?? [];
          spans.push({ from: alert.occurredAt, to: alert.clearedAt });
          this.stoodFor.set(alert.deviceId, spans);
        }
      },
    });
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  /** Continues the alarms open before a restart, then reads new conflict records every few seconds. */
  start(): void {
    this.timer = setInterval(() => void this.check(), this.deps.everyMs ?? 5000);
    this.timer.unref();
    void this.check();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One round (never two at once): raise for new conflict records, clear what has been quiet long enough. */
  check(): Promise<void> {
    this.running ??= this.round().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async round(): Promise<void> {
    if (!this.alarms.leading()) return;
    const settings = this.deps.registry().config.alarms.integrity;
    if (!settings.enabled) return;
    const now = this.now();
    try {
      const backlog = Math.max(0, now - (this.deps.oldestPendingAt() ?? now));
      const since = now - LOOKBACK_MS - backlog;
      const series = await this.deps.influx.query(
        `SELECT "ts" FROM "${REJECTS_MEASUREMENT}" WHERE "reason" = 'conflicting_reading' AND time > ${since}ms GROUP BY "deviceId"`,
      );
      const registry = this.deps.registry();
      const fresh: Array<{ deviceId: string; at: number; ts: number }> = [];
      for (const s of series) {
        const deviceId = s.tags?.deviceId ?? '';
        for (const [at, ts] of s.values as Array<[number, number]>) {
          const key = `${deviceId}|${at}`;
          if (this.seen.has(key)) continue;
          this.seen.set(key, at);
          fresh.push({ deviceId, at, ts });
        }
      }
      for (const [key, at] of this.seen) if (at < since) this.seen.delete(key);
      for (const [deviceId, spans] of this.stoodFor) {
        const kept = spans.filter((span) => span.to > since);
        if (kept.length) this.stoodFor.set(deviceId, kept);
        else this.stoodFor.delete(deviceId);
      }
      fresh.sort((a, b) => a.at - b.at);
      for (const conflict of fresh) {
        const open = this.alarms.raised.get(conflict.deviceId);
        if (open) {
          open.lastConflictAt = Math.max(open.lastConflictAt, conflict.at);
          continue;
        }
        if (this.stoodFor.get(conflict.deviceId)?.some((span) => conflict.at >= span.from && conflict.at < span.to)) continue;
        const placed = registry.device(conflict.deviceId);
        if (!placed) continue;
        const siteId = placed.site.id;
        const alarm: Raised = {
          ...raisedAlarm({
            id: qaAlarmId('int', siteId, conflict.deviceId, 'reading_conflict', conflict.at),
            kind: 'reading_conflict',
            severity: settings.severity,
            deviceId: conflict.deviceId,
            siteId,
            occurredAt: conflict.at,
            // The device time the readings share, and when the different one arrived.
            threshold: conflict.ts,
            peak: conflict.at,
          }),
          lastConflictAt: conflict.at,
        };
        const deviceTime = new Date(conflict.ts).toISOString();
        this.alarms.raise(alarm, now, { deviceTime });
        this.deps.log.warn({ deviceId: alarm.deviceId, deviceTime }, 'conflicting reading: alarm raised to QA');
      }
      for (const [deviceId, alarm] of this.alarms.raised) {
        if (now - alarm.lastConflictAt < settings.quietAfter) continue;
        this.alarms.clear(deviceId, alarm.lastConflictAt + settings.quietAfter, now, { lastConflictAt: new Date(alarm.lastConflictAt).toISOString() });
      }
    } catch (err) {
      this.deps.log.error({ err: (err as Error).message }, 'reading-conflict alarm round failed');
    }
  }
}
