import { createHash } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.js';
import type { Registry } from '../core/registry.js';
import type { Logger } from '../core/logger.js';
import type { AlertChange } from '../alerts/engine.js';
import type { AlertService } from '../alerts/service.js';
import { systemPlaceId } from '../alerts/text.js';
import { REJECTS_MEASUREMENT } from '../storage/measurements.js';
import type { InfluxClient } from '../storage/influx.js';

/** One reading_conflict alarm while raised: enough to clear it with the same id. */
type Raised = Omit<AlertChange, 'state' | 'clearedAt' | 'durationMs' | 'detectedAt'> & { lastConflictAt: number };

const alarmId = (siteId: string, deviceId: string, receivedAt: number) =>
  `int_${createHash('sha256').update(`${siteId}|${deviceId}|reading_conflict|${receivedAt}`).digest('hex').slice(0, 20)}`;

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
 * `alarms.integrity.quietAfter` after the sensor's last conflict and pages until QA signs it.
 */
export class ConflictAlarms {
  private readonly raised = new Map<string, Raised>();
  /** Conflict records already taken into account (deviceId|arrival), within the lookback. */
  private readonly seen = new Map<string, number>();
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
  ) {}

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  /** Continues the alarms open before a restart, then reads new conflict records every few seconds. */
  start(): void {
    for (const alert of this.deps.alerts.book.list()) {
      if (alert.kind !== 'reading_conflict') continue;
      // Conflicts an earlier alarm already stood for are not raised again (the book keeps finished alarms a week).
      this.seen.set(`${alert.deviceId}|${alert.peak}`, alert.peak);
      if (alert.clearedAt !== null || (alert.state !== 'active' && alert.state !== 'acknowledged')) continue;
      const { id, kind, severity, deviceId, siteId, locationId, occurredAt, threshold, peak } = alert;
      this.raised.set(deviceId, {
        id,
        kind,
        severity,
        deviceId,
        siteId,
        locationId,
        occurredAt,
        threshold,
        peak,
        activatedAt: occurredAt,
        late: false,
        relapses: 0,
        chattering: false,
        lastConflictAt: peak,
      });
    }
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
      fresh.sort((a, b) => a.at - b.at);
      for (const conflict of fresh) {
        const open = this.raised.get(conflict.deviceId);
        if (open) {
          open.lastConflictAt = Math.max(open.lastConflictAt, conflict.at);
          continue;
        }
        const placed = registry.device(conflict.deviceId);
        if (!placed) continue;
        const siteId = placed.site.id;
        const alarm: Raised = {
          id: alarmId(siteId, conflict.deviceId, conflict.at),
          kind: 'reading_conflict',
          severity: settings.severity,
          deviceId: conflict.deviceId,
          siteId,
          locationId: systemPlaceId(siteId),
          occurredAt: conflict.at,
          // The device time the readings share, and when the different one arrived.
          threshold: conflict.ts,
          peak: conflict.at,
          activatedAt: conflict.at,
          late: false,
          relapses: 0,
          chattering: false,
          lastConflictAt: conflict.at,
        };
        this.raised.set(conflict.deviceId, alarm);
        this.deps.alerts.systemChange({ ...alarm, state: 'active', detectedAt: now, durationMs: null });
        this.deps.log.warn({ deviceId: alarm.deviceId, deviceTime: new Date(conflict.ts).toISOString() }, 'conflicting reading: alarm raised to QA');
        this.audit('integrity_alarm.raised', alarm, { deviceTime: new Date(conflict.ts).toISOString() });
      }
      for (const [deviceId, alarm] of this.raised) {
        if (now - alarm.lastConflictAt < settings.quietAfter) continue;
        this.raised.delete(deviceId);
        const clearedAt = alarm.lastConflictAt + settings.quietAfter;
        this.deps.alerts.systemChange({ ...alarm, state: 'cleared', clearedAt, detectedAt: now, durationMs: clearedAt - alarm.occurredAt });
        this.audit('integrity_alarm.cleared', alarm, { lastConflictAt: new Date(alarm.lastConflictAt).toISOString() });
      }
    } catch (err) {
      this.deps.log.error({ err: (err as Error).message }, 'reading-conflict alarm round failed');
    }
  }

  private audit(action: string, alarm: Raised, extra: Record<string, unknown>): void {
    void this.deps.audit
      .append({ actor: 'system', action, target: alarm.deviceId, details: { kind: alarm.kind, siteId: alarm.siteId, ...extra } })
      .catch((err: Error) => this.deps.log.error({ err: err.message, deviceId: alarm.deviceId }, 'reading-conflict alarm could not be audited'));
  }
}
