import { EventEmitter } from 'node:events';
import { alertTopic } from '../core/topics.js';
import type { ApiRole, Config } from '../core/config/schema.js';
import type { Logger } from '../core/logger.js';
import type { Registry } from '../core/registry.js';
import type { IngestPipeline } from '../ingestor/pipeline.js';
import type { AcceptedBatch } from '../ingestor/records.js';
import type { Spool } from '../ingestor/spool.js';
import type { InfluxClient } from '../storage/influx.js';
import type { AuditLog } from '../audit/audit-log.js';
import { verifySigner, type Signature } from '../audit/e-signature.js';

export { SignatureError, type Signature } from '../audit/e-signature.js';
import { AlertEngine, type AlertChange } from './engine.js';
import { AlertBook, type Alert, type AlertEvent } from './book.js';
import { alertEventLine, loadAlertEvents } from './event-store.js';
import type { Notifier } from './notifier.js';


const SIGNING_ROLES: Record<'acknowledge' | 'close', readonly ApiRole[]> = { acknowledge: ['operator', 'qa', 'admin'], close: ['qa', 'admin'] };

export interface AlertServiceDeps {
  registry: () => Registry;
  pipeline: IngestPipeline;
  spool: Spool;
  influx: InfluxClient;
  audit: AuditLog;
  notifier: Notifier;
  /** Publishes on our broker (QoS 1); absent when ingesting from an external broker. */
  publish?: (topic: string, payload: string) => void;
  log: Logger;
  config: () => Config;
}

/**
 * Alerts end to end: the engine's changes become alerts in the book, every transition is stored
 * (through the spool, so an InfluxDB outage loses none) and published; users acknowledge and
 * close with an electronic signature recorded in the audit trail; unacknowledged alerts escalate
 * tier by tier and remind.
 */
export class AlertService extends EventEmitter<{ event: [AlertEvent] }> {
  readonly book = new AlertBook();
  readonly engine: AlertEngine;
  private sequence = 0;
  private timer: NodeJS.Timeout | undefined;
  private escalating = false;

  constructor(private readonly deps: AlertServiceDeps) {
    super();
    this.engine = new AlertEngine(deps.registry);
    this.engine.on('change', (change) => void this.onChange(change));
  }

  /** Rebuilds the book from stored events, then follows the ingest pipeline. */
  async start(): Promise<void> {
    try {
      const events = await loadAlertEvents(this.deps.influx, { sinceMs: Date.now() - 400 * 86_400_000 });
      for (const event of events) this.book.replay(event);
      const open = this.book.list().filter((a) => a.state !== 'closed').length;
      if (events.length) this.deps.log.info({ events: events.length, open }, 'alerts rebuilt from InfluxDB');
    } catch (err) {
      this.deps.log.error({ err: (err as Error).message }, 'could not rebuild alerts from InfluxDB; starting with none known');
    }
    await this.warmUp();
    for (const site of this.deps.config().sites) {
      const people = new Set(site.recipients.map((r) => r.name));
      if (people.size < 3) this.deps.log.warn({ site: site.id, recipients: people.size }, 'GSP asks for alarms to reach at least 3 designated people; this site has fewer (sites[].recipients)');
    }
    this.deps.pipeline.on('accepted', (batch) => this.evaluate(batch));
    this.timer = setInterval(() => {
      this.engine.checkSilence();
      void this.escalate();
    }, 1000);
    this.timer.unref();
  }

  private evaluate(batch: AcceptedBatch): void {
    try {
      this.engine.ingest(batch);
    } catch (err) {
      this.deps.log.error({ err, device: batch.deviceId }, 'alert evaluation failed for a batch');
    }
  }

  /**
   * Replays the last hours of readings from InfluxDB into the engine, so episodes open before a
   * restart continue under the same ids (they are deterministic) instead of starting over.
   */
  private async warmUp(hours = 48): Promise<void> {
    try {
      const series = await this.deps.influx.query(`SELECT "temperature", "humidity", "battery", "door" FROM "readings" WHERE time >= now() - ${hours}h GROUP BY "deviceId"`);
      let readings = 0;
      for (const s of series) {
        const deviceId = s.tags?.deviceId;
        if (!deviceId) continue;
        const batch = s.values.map(([ts, temperature, humidity, battery, door]) => ({ ts: ts as number, temperature: temperature as number, ...(humidity !== null ? { humidity: humidity as number } : {}), ...(battery !== null ? { battery: battery as number } : {}), ...(door !== null ? { door: door as boolean } : {}) }));
        readings += batch.length;
        if (batch.length) this.engine.ingest({ deviceId, siteId: '', locationId: '', receivedAt: Date.now(), readings: batch });
      }
      if (readings) this.deps.log.info({ readings, devices: series.length }, 'alert engine warmed up from recent readings');
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, 'alert engine starts cold: recent readings could not be read from InfluxDB');
    }
  }

  private record(event: AlertEvent): void {
    this.book.set(event.alert);
    // Spooled and published at once: waiting for the fsync would add its latency to every alarm.
    // Alert ids are deterministic, so a crash in between can only make the warm-up raise the same
    // alert again after the restart, never a different one.
    this.deps.spool.append(alertEventLine(event, this.sequence++)).catch((err: Error) => this.deps.log.error({ err: err.message, alert: event.alertId, event: event.event }, 'alert event could not be spooled'));
    this.deps.publish?.(alertTopic(event.alert), JSON.stringify({ event: event.event, ...event.alert }));
    this.emit('event', event);
  }

  private onChange(change: AlertChange): void {
    const existing = this.book.get(change.id);
    const { id, kind, severity, deviceId, siteId, locationId, occurredAt, threshold, peak, late, detectedAt } = change;
    const base: Alert = existing ?? { id, kind, severity, state: 'pending', siteId, locationId, deviceId, occurredAt, activatedAt: null, detectedAt, clearedAt: null, late, threshold, peak, durationMs: null, relapses: 0, chattering: false, incidentId: null, acknowledged: null, closed: null, tier: 0, lastNotifiedAt: null };
    const conditionState = existing?.state === 'acknowledged' ? 'active' : existing?.state;
    if (existing && (existing.state === 'closed' || (conditionState === change.state && existing.clearedAt === (change.clearedAt ?? null)))) return;
    const alert: Alert = { ...base, severity, peak, late: change.state === 'active' || change.state === 'pending' ? change.late : base.late, activatedAt: change.activatedAt ?? null, clearedAt: change.clearedAt ?? null, durationMs: change.durationMs };
    // Escalation counts from when the alarm was raised, not from when it started pending.
    if (change.state === 'active' && base.state === 'pending') alert.detectedAt = detectedAt;
    alert.state = change.state === 'active' && alert.acknowledged ? 'acknowledged' : change.state;
    const event = change.state === 'active' ? 'activated' : change.state;
    this.record({ alertId: id, event, at: Date.now(), actor: 'system', alert });
  }

  /** Acknowledge or close: an electronic signature (21 CFR 11.50/11.200) recorded in the audit trail. */
  async sign(alertId: string, action: 'acknowledge' | 'close', signature: Signature): Promise<Alert> {
    const current = AlertBook.checkTransition(this.book.get(alertId), action, alertId);
    const user = await verifySigner({ users: this.deps.config().users, audit: this.deps.audit }, signature, { action, target: alertId, roles: SIGNING_ROLES[action], what: `${action} alerts` });
    // Re-check after the (slow) password check: someone else may have signed meanwhile.
    AlertBook.checkTransition(this.book.get(alertId), action, alertId);
    const at = Date.now();
    const record = { by: user.name, printedName: user.fullName, at, meaning: signature.meaning, comment: signature.comment };
    await this.deps.audit.append({ actor: user.name, printedName: user.fullName, action: `alert.${action}`, target: alertId, details: { meaning: signature.meaning, comment: signature.comment, kind: current.kind, deviceId: current.deviceId } });
    const alert: Alert = action === 'acknowledge' ? { ...current, acknowledged: record, state: current.state === 'active' ? 'acknowledged' : current.state } : { ...current, closed: record, state: 'closed' };
    this.record({ alertId, event: action === 'acknowledge' ? 'acknowledged' : 'closed', at, actor: user.name, alert, printedName: user.fullName, meaning: signature.meaning, comment: signature.comment });
    return alert;
  }

  /** Tier n hears of an unacknowledged alert tierDelays[n−1] after it became active; reminders follow. */
  private async escalate(): Promise<void> {
    if (this.escalating) return;
    this.escalating = true;
    try {
      const { tierDelays, reminderEvery } = this.deps.config().notifications;
      const now = Date.now();
      for (const alert of this.book.list()) {
        if (alert.acknowledged || alert.state === 'pending' || alert.state === 'closed' || alert.state === 'retracted' || alert.state === 'discarded') continue;
        const site = this.deps.config().sites.find((s) => s.id === alert.siteId);
        if (!site) continue;
        const elapsed = now - alert.detectedAt;
        const dueTier = tierDelays.reduce((tier, delay, i) => (elapsed >= delay ? i + 1 : tier), 0);
        const newTiers = dueTier > alert.tier;
        const reminder = !newTiers && alert.lastNotifiedAt !== null && now - alert.lastNotifiedAt >= reminderEvery;
        if (!newTiers && !reminder) continue;
        const tiers = reminder ? [1, alert.tier] : [alert.tier + 1, dueTier];
        const recipients = site.recipients.filter((r) => r.tier >= tiers[0]! && r.tier <= tiers[1]!);
        const updated: Alert = { ...alert, tier: Math.max(alert.tier, dueTier), lastNotifiedAt: now };
        if (newTiers && alert.tier > 0) this.record({ alertId: alert.id, event: 'escalated', at: now, actor: 'system', alert: updated, outcome: `tier ${alert.tier} → ${dueTier}` });
        else this.book.set(updated);
        const attempts = await this.deps.notifier.notify(updated, recipients, reminder ? 'reminder' : `tier ${dueTier}`);
        for (const attempt of attempts) {
          this.record({ alertId: alert.id, event: attempt.ok ? 'notified' : 'notification_failed', at: Date.now(), actor: 'system', alert: this.book.get(alert.id)!, channel: attempt.channel, recipient: attempt.recipient, outcome: attempt.outcome });
        }
      }
    } catch (err) {
      this.deps.log.error({ err }, 'escalation round failed');
    } finally {
      this.escalating = false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

