import { parseConfigText } from '../core/config/load.js';
import { SAMPLE_CONFIG } from '../cli/sample-config.js';
import { builtInScenarios, loadScenario } from '../simulator/scenario.js';
import { judgeScenarioInProcess } from '../simulator/judge.js';
import { IncidentBook } from '../alerts/incidents.js';
import { computeAlarmPerformance } from '../alerts/kpi.js';
import type { Alert, AlertEvent } from '../alerts/book.js';
import type { AlertChange } from '../alerts/engine.js';

const DAY = 86_400_000;

/** The engine's changes as the stored alert events the ISA-18.2 report reads. */
function asEvents(changes: AlertChange[]): AlertEvent[] {
  const alerts = new Map<string, Alert>();
  const events: AlertEvent[] = [];
  for (const c of changes) {
    if (c.state === 'pending' || c.state === 'discarded') continue;
    const alert: Alert = {
      id: c.id,
      kind: c.kind,
      severity: c.severity,
      state: c.state,
      siteId: c.siteId,
      locationId: c.locationId,
      deviceId: c.deviceId,
      occurredAt: c.occurredAt,
      activatedAt: c.activatedAt ?? null,
      detectedAt: c.detectedAt,
      clearedAt: c.clearedAt ?? null,
      late: c.late,
      threshold: c.threshold,
      peak: c.peak,
      durationMs: c.durationMs,
      relapses: c.relapses,
      chattering: c.chattering,
      incidentId: null,
      acknowledged: null,
      closed: null,
      tier: 0,
      lastNotifiedAt: null,
      ...alerts.get(c.id),
    };
    Object.assign(alert, { state: c.state, clearedAt: c.clearedAt ?? null, relapses: c.relapses, chattering: c.chattering });
    alerts.set(c.id, alert);
    events.push({ alertId: c.id, event: c.state === 'active' ? 'activated' : c.state, at: c.detectedAt, actor: 'system', alert });
  }
  return events;
}

/**
 * Alarm quality per shipped scenario, judged in process on the simulated clock against what the
 * simulator knows happened: alarms per site-day of the demo (target 0), recall and precision,
 * incidents, and the ISA-18.2 figures over a simulated week of the three normal scenarios plus
 * the demo day and every fault scenario.
 */
export function alarmQualityFigures(): Record<string, number | string> {
  const config = parseConfigText(SAMPLE_CONFIG, 'sample');
  const start = Date.now() - 8 * DAY;
  const figures: Record<string, number | string> = {};
  const allEvents: AlertEvent[] = [];
  for (const name of builtInScenarios().filter((n) => n !== 'load')) {
    const scenario = loadScenario(name);
    const durationMs = scenario.duration ?? DAY;
    const judged = judgeScenarioInProcess(scenario, config, { seed: 1, start, durationMs });
    // Incidents as the service forms them: alerts join their place's incident while it lasts.
    const incidents = new IncidentBook();
    const latest = new Map<string, Alert>();
    for (const event of asEvents(judged.changes)) {
      latest.set(event.alertId, event.alert);
      const incident =
        event.event === 'activated'
          ? incidents.join(event.alert, config.alarms, event.at).incident
          : incidents.list().find((i) => i.alertIds.includes(event.alertId));
      if (incident) incidents.memberChanged(incident, incident.alertIds.map((id) => latest.get(id)!).filter(Boolean));
    }
    const key = name.replace(/-/g, '_');
    figures[`${key}_alarms`] = judged.raised;
    figures[`${key}_incidents`] = incidents.list().length;
    figures[`${key}_recall`] = Number(judged.recall.toFixed(3));
    figures[`${key}_precision`] = Number(judged.precision.toFixed(3));
    if (name === 'demo') {
      const sites = new Set(scenario.stores.map(() => 'dc-shanghai').concat(scenario.vehicles.map(() => 'truck-hu-a12345'))).size;
      figures.demo_alarms_per_site_day = Number((judged.raised / sites / (durationMs / DAY)).toFixed(2));
    }
    allEvents.push(...asEvents(judged.changes));
  }
  const kpi = computeAlarmPerformance({
    alertEvents: allEvents,
    from: start,
    to: start + 8 * DAY,
    now: start + 8 * DAY,
    knownSites: config.sites.map((s) => s.id),
  });
  figures.isa_alarms_total = kpi.total.alarms;
  figures.isa_peak_per_10_min = kpi.total.perTenMinutes.peak;
  figures.isa_peak_per_day = kpi.total.perDay.peak;
  figures.isa_floods = kpi.total.floods;
  figures.isa_assessment = kpi.total.assessment;
  figures.isa_chattering = kpi.chattering.alerts.length;
  figures.isa_stale = kpi.stale.length;
  figures.isa_top_alarm = kpi.topAlarms[0] ? `${kpi.topAlarms[0].locationId} ${kpi.topAlarms[0].kind} × ${kpi.topAlarms[0].alarms}` : 'none';
  return figures;
}

if (process.argv[1]?.endsWith('alarms.js')) process.stdout.write(`${JSON.stringify(alarmQualityFigures())}\n`);
