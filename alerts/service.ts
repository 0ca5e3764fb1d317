import { EventEmitter } from 'node:events';
import { alertTopic } from '../core/topics.js';
import type { ApiRole, Config } from '../core/config/schema.js';
import type { Logger } from '../core/logger.js';
import { Refusal } from '../core/refusal.js';
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
import { alertEventFact, incidentEventFact, loadAlertEvents, loadIncidentEvents } from './event-store.js';
import { mergeAlert, mergeIncident, type AlertCluster, type SharedFact } from './cluster.js';
import { quoteString } from '../storage/influx.js';
import { FactLog } from '../storage/fact-log.js';
import { READINGS_MEASUREMENT } from '../storage/measurements.js';
import type { Notifier } from './notifier.js';
import { IncidentBook } from './incidents.js';
import { runAlarmTest, type AlarmTestResult } from './alarm-test.js';
import type { Incident, IncidentEvent, IncidentView } from './incident.js';
import { describeIncidentBoth, isSystemPlace, systemPlaceName, type AlarmContext } from './text.js';
import { parseDuration } from '../core/duration.js';
import { localClock, localDay } from '../core/local-time.js';

export type { IncidentView };

const SIGNING_ROLES: Record<'acknowledge' | 'close' | 'shelve' | 'unshelve', readonly ApiRole[]> = {
  acknowledge: ['operator', 'qa', 'admin'],
  close: ['qa', 'admin'],
  shelve: ['operator', 'qa', 'admin'],
  unshelve: ['operator', 'qa', 'admin'],
};

export class ShelveError extends Refusal<400> {
  constructor(message: string) {
    super(message, 400, 'invalid_request');
  }
}

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
  /** One node of a cluster (alerts/cluster.ts): the book shared with the other nodes, one judge per device. */
  cluster?: AlertCluster;
}

/**
 * Alerts end to end: the engine's changes become alerts in the book, every transition is stored
 * (through the spool, so an InfluxDB outage loses none) and published; users acknowledge and
 * close with an electronic signature recorded in the audit trail; unacknowledged alerts escalate
 * tier by tier and remind.
 */
/** How long an unchanged incident's view is reused (see AlertService.view). */
const VIEW_TTL_MS = 10_000;
interface CachedView {
  at: number;
  members: Array<Alert | undefined>;
  config: unknown;
  registry: unknown;
  view: IncidentView;
}

export class AlertService extends EventEmitter<{ event: [AlertEvent]; incident: [IncidentView, IncidentEvent] }> {
  readonly book = new AlertBook();
  readonly incidents = new IncidentBook();
  private lastDigestDay: string | undefined;
  private lastEviction = 0;
  readonly engine: AlertEngine;
  /** Alert and incident events, through the spool into InfluxDB. */
  private readonly facts: FactLog;
  private timer: NodeJS.Timeout | undefined;
  private escalating = false;
  /** While a warm-up replays a device's history: its changes, applied at the end (see `judgeQuietly`). */
  private collecting: Map<string, AlertChange[]> | undefined;
  /** Cluster: devices this node judges (it holds their connection), and where the others went. */
  private readonly held = new Set<string>();
  private readonly judgedElsewhere = new Map<string, string>();
  /** Each incident's last view, by the incident object (replaced on every change, so a changed incident misses). */
  private readonly views = new WeakMap<Incident, CachedView>();
  /** Cluster: batches of a device taken over, waiting for its history from InfluxDB. */
  private readonly warming = new Map<string, AcceptedBatch[]>();

  constructor(private readonly deps: AlertServiceDeps) {
    super();
    this.facts = new FactLog(deps.spool);
    this.engine = new AlertEngine(deps.registry, { coalesceMs: 250 });
    this.engine.on('change', (change) => {
      if (!this.collecting) return this.onChange(change);
      const seen = this.collecting.get(change.id);
      if (seen) seen.push(change);
      else this.collecting.set(change.id, [change]);
    });
  }

  /** Rebuilds the book from stored events, then follows the ingest pipeline. */
  async start(): Promise<void> {
    const cluster = this.deps.cluster;
    // Cluster: the other nodes are heard before the event store is read, and what they say
    // meanwhile is applied after it. Heard only after the read, an event another node recorded in
    // between (nodes of a deployment start together) reached this node neither way.
    let heardWhileLoading: SharedFact[] | undefined = [];
    if (cluster)
      await cluster.follow({
        fact: (fact) => (heardWhileLoading ? heardWhileLoading.push(fact) : this.applyShared(fact)),
        claimed: (deviceId, by) => this.release(deviceId, by),
        resync: (sinceMs) => void this.resync(sinceMs),
      });
    try {
      const events = await loadAlertEvents(this.deps.influx, { sinceMs: Date.now() - 400 * 86_400_000 });
      const incidentEvents = await loadIncidentEvents(this.deps.influx, { sinceMs: Date.now() - 400 * 86_400_000 });
      if (this.deps.cluster) {
        // Several nodes' events interleave: folded as the nodes fold each other's (alerts/cluster.ts).
        for (const event of events) this.book.set(mergeAlert(this.book.get(event.alertId), event));
        for (const event of incidentEvents) this.incidents.set(mergeIncident(this.incidents.get(event.incidentId), event));
      } else {
        for (const event of events) this.book.replay(event);
        for (const event of incidentEvents) this.incidents.set(event.incident);
      }
      const open = this.book.list().filter((a) => a.state !== 'closed').length;
      if (events.length)
        this.deps.log.info(
          { events: events.length, open, incidents: this.incidents.list().filter((i) => i.state !== 'closed').length },
          'alerts rebuilt from InfluxDB',
        );
    } catch (err) {
      this.deps.log.error({ err: (err as Error).message }, 'could not rebuild alerts from InfluxDB; starting with none known');
    }
    const heard = heardWhileLoading;
    heardWhileLoading = undefined;
    for (const fact of heard) this.applyShared(fact);
    if (cluster) {
      // A restarted node judges again the devices it judged when it stopped, and no other: those
      // went to other nodes with their connections (and are judged there, silence included).
      const mine = await cluster.judgedHere().catch((err: Error) => {
        this.deps.log.warn({ err: err.message }, 'cluster: the devices this node judged could not be read; it judges devices as they connect');
        return [] as string[];
      });
      for (const deviceId of mine) this.held.add(deviceId);
      if (mine.length) await this.warmUp(48, mine);
    } else await this.warmUp();
    this.deps.pipeline.on('accepted', (batch) => this.evaluate(batch));
    // Started now, a digest time already passed today waits for tomorrow (no resend after a restart).
    if (this.digestDue(Date.now())) this.lastDigestDay = this.localDay(Date.now());
    this.timer = setInterval(() => {
      this.engine.checkSilence();
      this.evictFinished();
      // In a cluster one node at a time pages, reminds, sends digests and ends shelves (a lease in Redis).
      if (this.deps.cluster && !this.deps.cluster.notifies()) return;
      this.expireShelves();
      void this.escalate();
      void this.sendDigests();
    }, 1000);
    this.timer.unref();
  }

  private evaluate(batch: AcceptedBatch): void {
    if (this.deps.cluster) {
      const deviceId = batch.deviceId;
      const waiting = this.warming.get(deviceId);
      if (waiting) return void waiting.push(batch);
      if (!this.held.has(deviceId)) {
        // Readings taken here after another node took the device over are stored, and judged there.
        if (this.judgedElsewhere.has(deviceId)) return;
        this.deviceConnected(deviceId, batch);
        return;
      }
    }
    try {
      this.engine.ingest(batch);
    } catch (err) {
      this.deps.log.error({ err, device: batch.deviceId }, 'alert evaluation failed for a batch');
    }
  }

  /**
   * Cluster: a device connected to this node, which judges it from now on (aedes keeps one live
   * connection per device across the nodes). Its history comes from InfluxDB, as after a restart;
   * its batches wait meanwhile. An episode open on its former node continues under the same id
   * (ids are deterministic) and is found in the shared book: one alert, not two.
   */
  deviceConnected(deviceId: string, first?: AcceptedBatch): void {
    const cluster = this.deps.cluster;
    if (!cluster) return;
    this.judgedElsewhere.delete(deviceId);
    const waitingAlready = this.warming.get(deviceId);
    if (waitingAlready || this.held.has(deviceId)) {
      if (first && waitingAlready) waitingAlready.push(first);
      else if (first) this.engine.ingest(first);
      return;
    }
    cluster.claim(deviceId);
    const waiting = first ? [first] : [];
    this.warming.set(deviceId, waiting);
    this.engine.forget(deviceId);
    void this.warmUp(48, [deviceId]).finally(() => {
      // Released meanwhile (the device moved on again): its batches are judged where it went.
      if (this.warming.get(deviceId) !== waiting) return;
      this.warming.delete(deviceId);
      this.held.add(deviceId);
      for (const batch of waiting) this.evaluate(batch);
    });
  }

  /** Cluster: another node took the device's connection; it judges the device from now on. */
  private release(deviceId: string, by: string): void {
    this.judgedElsewhere.set(deviceId, by);
    this.held.delete(deviceId);
    this.warming.delete(deviceId);
    this.engine.forget(deviceId);
  }

  /** Cluster: another node's event, applied to this node's book (never stored or published again: its node did). */
  private applyShared(fact: SharedFact): void {
    if (fact.type === 'alert') {
      const alert = mergeAlert(this.book.get(fact.event.alertId), fact.event);
      this.book.set(alert);
      this.emit('event', { ...fact.event, alert });
    } else {
      const incident = mergeIncident(this.incidents.get(fact.event.incidentId), fact.event);
      this.incidents.set(incident);
      this.emit('incident', this.view(incident), { ...fact.event, incident });
    }
  }

  /**
   * Cluster: Redis is back after an outage. The other nodes' events of meanwhile never reached
   * this node; they are in the event store (each node's spool writes them to the one InfluxDB).
   * Read back from a minute before the outage began and folded in like shared events (applying
   * an event this book already holds changes nothing, and nothing is stored or published again).
   */
  private async resync(sinceMs: number): Promise<void> {
    try {
      const from = sinceMs - 60_000;
      const [events, incidentEvents] = await Promise.all([
        loadAlertEvents(this.deps.influx, { sinceMs: from }),
        loadIncidentEvents(this.deps.influx, { sinceMs: from }),
      ]);
      let changed = 0;
      for (const event of events) {
        const before = this.book.get(event.alertId);
        const alert = mergeAlert(before, event);
        if (before && JSON.stringify(before) === JSON.stringify(alert)) continue;
        changed++;
        this.book.set(alert);
        this.emit('event', { ...event, alert });
      }
      for (const event of incidentEvents) {
        const before = this.incidents.get(event.incidentId);
        const incident = mergeIncident(before, event);
        if (before && JSON.stringify(before) === JSON.stringify(incident)) continue;
        changed++;
        this.incidents.set(incident);
        this.emit('incident', this.view(incident), { ...event, incident });
      }
      this.deps.log.info({ events: events.length + incidentEvents.length, changed }, 'cluster: alert book caught up with the event store after Redis was away');
    } catch (err) {
      this.deps.log.error({ err: (err as Error).message }, 'cluster: the alert book could not catch up after Redis was away; a restart rebuilds it');
    }
  }

  /**
   * A device's history judged at once: each episode it finds goes to the book once, in its final
   * state, when the book knows it already (a restart, a device taken over from another node),
   * instead of replaying its pending → active steps as new events (which published and stored a
   * second `activated` for an alert already active, tests/alerts-restart.test.ts).
   */
  private judgeQuietly(batch: AcceptedBatch): void {
    this.collecting = new Map();
    try {
      this.engine.ingest(batch);
    } finally {
      const found = this.collecting;
      this.collecting = undefined;
      for (const [id, changes] of found) {
        if (this.book.get(id)) this.onChange(changes.at(-1)!);
        else for (const change of changes) this.onChange(change);
      }
    }
  }

  /**
   * Replays the last hours of readings from InfluxDB into the engine, so episodes open before a
   * restart continue under the same ids (they are deterministic) instead of starting over.
   */
  private async warmUp(hours = 48, deviceIds?: string[]): Promise<void> {
    try {
      const only = deviceIds ? ` AND (${deviceIds.map((id) => `"deviceId" = ${quoteString(id)}`).join(' OR ')})` : '';
      const series = await this.deps.influx.query(
        `SELECT "temperature", "humidity", "battery", "door" FROM "${READINGS_MEASUREMENT}" WHERE time >= now() - ${hours}h${only} GROUP BY "deviceId"`,
      );
      let readings = 0;
      for (const s of series) {
        const deviceId = s.tags?.deviceId;
        if (!deviceId) continue;
        const batch = s.values.map(([ts, temperature, humidity, battery, door]) => ({
          ts: ts as number,
          temperature: temperature as number,
          ...(humidity !== null ? { humidity: humidity as number } : {}),
          ...(battery !== null ? { battery: battery as number } : {}),
          ...(door !== null ? { door: door as boolean } : {}),
        }));
        readings += batch.length;
        if (!batch.length) continue;
        const warm = { deviceId, siteId: '', locationId: '', receivedAt: Date.now(), readings: batch };
        // One node or many: an episode the book knows is not announced again (pending → active) by the replay.
        this.judgeQuietly(warm);
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
    this.facts
      .append(alertEventFact(event))
      .catch((err: Error) => this.deps.log.error({ err: err.message, alert: event.alertId, event: event.event }, 'alert event could not be spooled'));
    this.deps.cluster?.share({ type: 'alert', event });
    this.deps.publish?.(alertTopic(event.alert), JSON.stringify({ type: 'alert', event: event.event, ...event.alert }));
    this.emit('event', event);
  }

  private recordIncident(event: IncidentEvent): void {
    this.incidents.set(event.incident);
    this.facts
      .append(incidentEventFact(event))
      .catch((err: Error) => this.deps.log.error({ err: err.message, incident: event.incidentId, event: event.event }, 'incident event could not be spooled'));
    this.deps.cluster?.share({ type: 'incident', event });
    const view = this.view(event.incident);
    this.deps.publish?.(alertTopic(event.incident), JSON.stringify({ type: 'incident', event: event.event, ...view }));
    this.emit('incident', view, event);
  }

  /**
   * What people read about an incident: names, and its text in English and Chinese. A view is
   * reused for VIEW_TTL_MS while the incident, its alerts, the config and the registry are the same
   * objects: every board overview and incident list describes every open incident, and the text
   * (two languages, times, the last hour's trend) was most of their cost with hundreds open. Only
   * what moves with the clock and new readings ("12 min ago", the trend's last point) can be that
   * much behind; every change of the incident or its alerts is described afresh (and streamed).
   */
  view(incident: Incident): IncidentView {
    const now = Date.now();
    const members = incident.alertIds.map((id) => this.book.get(id));
    const config = this.deps.config();
    const registry = this.deps.registry();
    const cached = this.views.get(incident);
    if (
      cached &&
      now - cached.at < VIEW_TTL_MS &&
      cached.config === config &&
      cached.registry === registry &&
      cached.members.length === members.length &&
      cached.members.every((m, i) => m === members[i])
    )
      return cached.view;
    const view = this.describe(incident);
    this.views.set(incident, { at: now, members, config, registry, view });
    return view;
  }

  private describe(incident: Incident): IncidentView {
    const placed = this.deps.registry().location(incident.locationId);
    const members = incident.alertIds.map((id) => this.book.get(id)).filter((a): a is Alert => !!a);
    const system = isSystemPlace(incident.locationId) ? this.systemPlace(incident.siteId) : undefined;
    return {
      ...incident,
      siteName: system?.siteName ?? placed?.site.name ?? incident.siteId,
      locationName: system?.locationName ?? placed?.location.name ?? incident.locationId,
      text: describeIncidentBoth(incident, members, this.context(incident)),
    };
  }

  private context(incident: Incident): AlarmContext {
    const config = this.deps.config();
    const registry = this.deps.registry();
    const placed = registry.location(incident.locationId);
    const profile = config.profiles.find((p) => p.id === placed?.location.profile);
    // The sensors the text can name are the incident's (its alerts' devices): looked up, not found
    // by a pass over every configured device for every open incident on every board overview.
    const deviceNames = Object.fromEntries(
      incident.deviceIds.map((id) => {
        const name = registry.device(id)?.device.name;
        return [id, name && name !== 'simulated' ? name : id];
      }),
    );
    const now = Date.now();
    const since = now - 3_600_000;
    const trend = incident.deviceIds.map((deviceId) => ({ deviceId, points: this.engine.trendPoints(deviceId, since, now) }));
    const rules = incident.deviceIds.map((id) => registry.device(id)?.rules).find(Boolean);
    const procedure = config.alarms.procedures[incident.headline];
    const system = isSystemPlace(incident.locationId) ? this.systemPlace(incident.siteId) : undefined;
    return {
      siteName: system?.siteName ?? placed?.site.name ?? incident.siteId,
      locationName: system?.locationName ?? placed?.location.name ?? incident.locationId,
      locationKind: placed?.location.kind ?? 'cold_room',
      ...(placed?.site.kind === 'vehicle'
        ? { vehicle: { ...(placed.site.plate ? { plate: placed.site.plate } : {}), ...(placed.site.vehicleType ? { type: placed.site.vehicleType } : {}) } }
        : {}),
      deviceNames,
      range: { temperature: profile?.temperature ?? { min: 0, max: 0 }, ...(profile?.humidity ? { humidity: profile.humidity } : {}) },
      ...(procedure ? { procedure } : {}),
      trend,
      timeZone: config.reports.timeZone,
      now,
      ...(rules ? { cumulativeWindowMs: rules.cumulative.window } : {}),
    };
  }

  /** The `system` place of a site (system alarms, system-alarms.ts): the site's name, the place in words. */
  private systemPlace(siteId: string): { siteName: string; locationName: string } {
    const site = this.deps.config().sites.find((s) => s.id === siteId);
    return { siteName: site?.name ?? siteId, locationName: systemPlaceName.en };
  }

  /**
   * A system alarm's change (system-alarms.ts), taken like the engine's: the alert, its incident
   * at the site's `system` place, stored and published events, escalation by tiers.
   */
  systemChange(change: AlertChange): void {
    this.onChange(change);
  }

  /**
   * The incident of an alert that became active (joined or opened), or of any other change, updated
   * in the book; its event is returned to be recorded after the alert's own (see `onChange`).
   */
  private placeInIncident(alert: Alert, event: AlertEvent['event']): { alert: Alert; incidentEvent?: IncidentEvent } {
    const policy = this.deps.config().alarms;
    if (event === 'activated') {
      const before = alert.incidentId ? this.incidents.get(alert.incidentId) : undefined;
      const { incident, created } = this.incidents.join(alert, policy, Date.now());
      const joined = { ...alert, incidentId: incident.id };
      this.book.set(joined);
      const members = incident.alertIds.map((id) => this.book.get(id)).filter((a): a is Alert => !!a);
      const settled = this.incidents.memberChanged(incident, members);
      const type = created ? 'raised' : before?.state === 'cleared' ? 'reopened' : 'updated';
      return { alert: joined, incidentEvent: { incidentId: settled.id, event: type, at: Date.now(), actor: 'system', incident: settled } };
    }
    const incident = alert.incidentId ? this.incidents.get(alert.incidentId) : undefined;
    if (!incident) return { alert };
    const members = incident.alertIds.map((id) => this.book.get(id)).filter((a): a is Alert => !!a);
    const settled = this.incidents.memberChanged(incident, members);
    if (settled === incident) return { alert };
    return {
      alert,
      incidentEvent: {
        incidentId: settled.id,
        event: settled.state === 'cleared' ? 'cleared' : 'reopened',
        at: Date.now(),
        actor: 'system',
        incident: settled,
      },
    };
  }

  private onChange(change: AlertChange): void {
    const existing = this.book.get(change.id);
    const { id, kind, severity, deviceId, siteId, locationId, occurredAt, threshold, peak, late, detectedAt } = change;
    const base: Alert = existing ?? {
      id,
      kind,
      severity,
      state: 'pending',
      siteId,
      locationId,
      deviceId,
      occurredAt,
      activatedAt: null,
      detectedAt,
      clearedAt: null,
      late,
      threshold,
      peak,
      durationMs: null,
      relapses: 0,
      chattering: false,
      incidentId: null,
      acknowledged: null,
      closed: null,
      tier: 0,
      lastNotifiedAt: null,
    };
    const conditionState = existing?.state === 'acknowledged' ? 'active' : existing?.state;
    if (existing && (existing.state === 'closed' || (conditionState === change.state && existing.clearedAt === (change.clearedAt ?? null)))) return;
    const alert: Alert = {
      ...base,
      severity,
      peak,
      late: change.state === 'active' || change.state === 'pending' ? change.late : base.late,
      activatedAt: change.activatedAt ?? null,
      clearedAt: change.clearedAt ?? null,
      durationMs: change.durationMs,
      relapses: change.relapses,
      chattering: change.chattering,
    };
    // Escalation counts from when the alarm was raised, not from when it started pending.
    if (change.state === 'active' && base.state === 'pending') alert.detectedAt = detectedAt;
    alert.state = change.state === 'active' && alert.acknowledged ? 'acknowledged' : change.state;
    const event = change.state === 'active' ? 'activated' : change.state;
    this.book.set(alert);
    const placed = this.placeInIncident(alert, event);
    // The alert goes out first: the incident's event carries its text in two languages over all its
    // members with their trend, more work than the alert's own and growing with the incident.
    this.record({ alertId: id, event, at: Date.now(), actor: 'system', alert: placed.alert });
    if (placed.incidentEvent) this.recordIncident(placed.incidentEvent);
  }

  /**
   * Whether this node does the cluster's single-node chores now: paging and the alarms every node
   * would find alike (the QA alarms, qa-alarms.ts). The notification lease's holder in a cluster; a single node always.
   */
  leads(): boolean {
    return !this.deps.cluster || this.deps.cluster.notifies();
  }

  /** A notification sent outside the tiers (a shipment's consignee, shipments/consignee-notices.ts), on the incident's trail like the others. */
  recordNotification(incidentId: string, attempt: { channel: string; recipient: string; ok: boolean; outcome: string }): void {
    const incident = this.incidents.get(incidentId);
    if (!incident) return;
    const { channel, recipient, outcome } = attempt;
    this.recordIncident({
      incidentId,
      event: attempt.ok ? 'notified' : 'notification_failed',
      at: Date.now(),
      actor: 'system',
      incident,
      channel,
      recipient,
      outcome,
    });
  }

  /** Acknowledge or close: an electronic signature (21 CFR 11.50/11.200) recorded in the audit trail. */
  async sign(alertId: string, action: 'acknowledge' | 'close', signature: Signature): Promise<Alert> {
    const current = AlertBook.checkTransition(this.book.get(alertId), action, alertId);
    const user = await verifySigner({ users: this.deps.config().users, accounts: this.deps.config().accounts, audit: this.deps.audit }, signature, {
      action,
      target: alertId,
      roles: SIGNING_ROLES[action],
      what: `${action} alerts`,
    });
    // Re-check after the (slow) password check: someone else may have signed meanwhile.
    AlertBook.checkTransition(this.book.get(alertId), action, alertId);
    const at = Date.now();
    const record = { by: user.name, printedName: user.fullName, at, meaning: signature.meaning, comment: signature.comment };
    await this.deps.audit.append({
      actor: user.name,
      printedName: user.fullName,
      action: `alert.${action}`,
      target: alertId,
      details: { meaning: signature.meaning, comment: signature.comment, kind: current.kind, deviceId: current.deviceId },
    });
    const alert: Alert =
      action === 'acknowledge'
        ? { ...current, acknowledged: record, state: current.state === 'active' ? 'acknowledged' : current.state }
        : { ...current, closed: record, state: 'closed' };
    this.record({
      alertId,
      event: action === 'acknowledge' ? 'acknowledged' : 'closed',
      at,
      actor: user.name,
      alert,
      printedName: user.fullName,
      meaning: signature.meaning,
      comment: signature.comment,
    });
    this.followMembers(alert.incidentId, record);
    return alert;
  }

  /** An incident whose every alert is acknowledged (or closed) is itself acknowledged (or closed). */
  private followMembers(incidentId: string | null, record: NonNullable<Alert['acknowledged']>): void {
    const incident = incidentId ? this.incidents.get(incidentId) : undefined;
    if (!incident || incident.state === 'closed') return;
    const members = incident.alertIds.map((id) => this.book.get(id)).filter((a): a is Alert => !!a);
    const counted = members.filter((m) => m.state !== 'retracted' && m.state !== 'discarded');
    if (counted.every((m) => m.state === 'closed')) {
      this.recordIncident({
        incidentId: incident.id,
        event: 'closed',
        at: record.at,
        actor: record.by,
        incident: { ...incident, state: 'closed', closed: record },
        printedName: record.printedName,
        meaning: record.meaning,
        comment: record.comment,
      });
    } else if (!incident.acknowledged && counted.every((m) => m.acknowledged)) {
      this.recordIncident({
        incidentId: incident.id,
        event: 'acknowledged',
        at: record.at,
        actor: record.by,
        incident: { ...incident, acknowledged: record, state: incident.state === 'active' ? 'acknowledged' : incident.state },
        printedName: record.printedName,
        meaning: record.meaning,
        comment: record.comment,
      });
    }
  }

  /**
   * Acknowledge, close, shelve or unshelve an incident: one e-signature, applied to each of its
   * alerts (each keeps its own record) and recorded once in the audit trail.
   */
  async signIncident(
    incidentId: string,
    action: 'acknowledge' | 'close' | 'shelve' | 'unshelve',
    signature: Signature,
    options: { duration?: string } = {},
  ): Promise<IncidentView> {
    IncidentBook.check(this.incidents.get(incidentId), action, incidentId);
    const policy = this.deps.config().alarms;
    let shelveMs = 0;
    if (action === 'shelve') {
      shelveMs = parseDuration(options.duration ?? '') ?? NaN;
      if (!Number.isFinite(shelveMs) || shelveMs <= 0)
        throw new ShelveError(`body.duration: "${options.duration ?? ''}" is not a duration; write e.g. 30m, 2h, 8h`);
      if (shelveMs > policy.maxShelve) throw new ShelveError(`body.duration: at most ${policy.maxShelve / 3_600_000} h (alarms.maxShelve)`);
    }
    const user = await verifySigner({ users: this.deps.config().users, accounts: this.deps.config().accounts, audit: this.deps.audit }, signature, {
      action: `incident.${action}`,
      target: incidentId,
      roles: SIGNING_ROLES[action],
      what: `${action} incidents`,
    });
    const current = IncidentBook.check(this.incidents.get(incidentId), action, incidentId);
    const at = Date.now();
    const record = { by: user.name, printedName: user.fullName, at, meaning: signature.meaning, comment: signature.comment };
    const members = current.alertIds.map((id) => this.book.get(id)).filter((a): a is Alert => !!a);
    await this.deps.audit.append({
      actor: user.name,
      printedName: user.fullName,
      action: `incident.${action}`,
      target: incidentId,
      details: {
        meaning: signature.meaning,
        comment: signature.comment,
        place: current.locationId,
        alerts: current.alertIds,
        ...(action === 'shelve' ? { until: at + shelveMs } : {}),
      },
    });
    const signed = { actor: user.name, printedName: user.fullName, meaning: signature.meaning, comment: signature.comment };
    let incident: Incident;
    if (action === 'acknowledge') {
      for (const m of members)
        if (!m.acknowledged && m.state !== 'closed' && m.state !== 'retracted' && m.state !== 'discarded' && m.state !== 'pending')
          this.record({
            alertId: m.id,
            event: 'acknowledged',
            at,
            alert: { ...m, acknowledged: record, state: m.state === 'active' ? 'acknowledged' : m.state },
            ...signed,
          });
      incident = { ...current, acknowledged: record, state: current.state === 'active' ? 'acknowledged' : current.state };
    } else if (action === 'close') {
      for (const m of members)
        if (m.state !== 'closed')
          this.record({
            alertId: m.id,
            event: 'closed',
            at,
            alert: { ...m, closed: record, state: 'closed', acknowledged: m.acknowledged ?? current.acknowledged },
            ...signed,
          });
      incident = { ...current, closed: record, state: 'closed' };
    } else if (action === 'shelve') {
      incident = { ...current, shelved: { by: user.name, printedName: user.fullName, at, until: at + shelveMs, reason: signature.comment } };
    } else {
      incident = { ...current, shelved: null };
    }
    const event = action === 'acknowledge' ? 'acknowledged' : action === 'close' ? 'closed' : action === 'shelve' ? 'shelved' : 'unshelved';
    this.recordIncident({ incidentId, event, at, incident, ...signed });
    return this.view(incident);
  }

  /** Once a minute: finished alerts and incidents older than a week leave memory (the board shows a week). */
  private evictFinished(): void {
    const now = Date.now();
    if (now - this.lastEviction < 60_000) return;
    this.lastEviction = now;
    const week = now - 7 * 86_400_000;
    const alerts = this.book.evict(week, now - 3_600_000);
    const incidents = this.incidents.evict(week);
    if (alerts || incidents) this.deps.log.debug({ alerts, incidents }, 'finished alerts and incidents left memory');
  }

  /** A test alarm through every channel and tier of a site, each outcome audited (alarm-test.ts). */
  testAlarm(siteId: string, actor: string): Promise<AlarmTestResult> {
    return runAlarmTest({ config: this.deps.config(), notifier: this.deps.notifier, audit: this.deps.audit }, siteId, actor);
  }

  /** A shelf ends by itself (ISA-18.2: time-limited); the alarm is back and escalates again if unacknowledged. */
  private expireShelves(): void {
    const now = Date.now();
    for (const incident of this.incidents.list()) {
      if (!incident.shelved || incident.shelved.until > now) continue;
      this.recordIncident({
        incidentId: incident.id,
        event: 'unshelved',
        at: now,
        actor: 'system',
        incident: { ...incident, shelved: null },
        outcome: `shelf by ${incident.shelved.printedName} expired`,
      });
    }
  }

  private localDay(ts: number): string {
    return localDay(ts, this.deps.config().reports.timeZone);
  }

  private digestDue(ts: number): boolean {
    return localClock(ts, this.deps.config().reports.timeZone) >= this.deps.config().alarms.digestAt;
  }

  /** Once a day at alarms.digestAt: each site's digest-only incidents of the last day to its tier-1 recipients. */
  private async sendDigests(): Promise<void> {
    const now = Date.now();
    const day = this.localDay(now);
    if (this.lastDigestDay === day || !this.digestDue(now)) return;
    this.lastDigestDay = day;
    for (const site of this.deps.config().sites) {
      const entries = this.incidents
        .list()
        .filter((i) => i.siteId === site.id && i.notify === 'digest' && i.detectedAt > now - 86_400_000)
        .map((incident) => ({ incident, text: this.view(incident).text }));
      if (!entries.length) continue;
      try {
        const attempts = await this.deps.notifier.digest(
          site.name ?? site.id,
          entries,
          site.recipients.filter((r) => r.tier === 1),
        );
        for (const { incident } of entries) {
          for (const attempt of attempts)
            this.recordIncident({
              incidentId: incident.id,
              event: attempt.ok ? 'digested' : 'notification_failed',
              at: Date.now(),
              actor: 'system',
              incident: this.incidents.get(incident.id) ?? incident,
              channel: attempt.channel,
              recipient: attempt.recipient,
              outcome: attempt.outcome,
            });
        }
      } catch (err) {
        this.deps.log.error({ err, site: site.id }, 'daily alarm digest failed');
      }
    }
  }

  /**
   * Tier n hears of an unacknowledged incident tierDelays[n−1] after it was raised; reminders
   * follow. Only incidents whose severity pages (alarms.notify) are sent; shelved ones wait.
   */
  private async escalate(): Promise<void> {
    if (this.escalating) return;
    this.escalating = true;
    try {
      const { tierDelays, reminderEvery } = this.deps.config().notifications;
      const now = Date.now();
      for (const incident of this.incidents.list()) {
        if (incident.notify !== 'page' || incident.acknowledged || incident.shelved || incident.state === 'closed') continue;
        const site = this.deps.config().sites.find((s) => s.id === incident.siteId);
        if (!site) continue;
        const elapsed = now - incident.detectedAt;
        const dueTier = tierDelays.reduce((tier, delay, i) => (elapsed >= delay ? i + 1 : tier), 0);
        const newTiers = dueTier > incident.tier;
        const reminder = !newTiers && incident.lastNotifiedAt !== null && now - incident.lastNotifiedAt >= reminderEvery;
        if (!newTiers && !reminder) continue;
        const tiers = reminder ? [1, incident.tier] : [incident.tier + 1, dueTier];
        const recipients = site.recipients.filter((r) => r.tier >= tiers[0]! && r.tier <= tiers[1]!);
        const updated: Incident = { ...incident, tier: Math.max(incident.tier, dueTier), lastNotifiedAt: now };
        if (newTiers && incident.tier > 0)
          this.recordIncident({
            incidentId: incident.id,
            event: 'escalated',
            at: now,
            actor: 'system',
            incident: updated,
            outcome: `tier ${incident.tier} → ${dueTier}`,
          });
        else this.incidents.set(updated);
        const view = this.view(updated);
        const attempts = await this.deps.notifier.notify(updated, view.text, recipients, reminder ? 'reminder' : `tier ${dueTier}`);
        for (const attempt of attempts) {
          this.recordIncident({
            incidentId: incident.id,
            event: attempt.ok ? 'notified' : 'notification_failed',
            at: Date.now(),
            actor: 'system',
            incident: this.incidents.get(incident.id)!,
            channel: attempt.channel,
            recipient: attempt.recipient,
            outcome: attempt.outcome,
          });
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
    this.deps.cluster?.stop();
  }
}
