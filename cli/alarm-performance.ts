import { InvalidArgumentError } from 'commander';
import type { AlertKind } from '../core/config/alert-rules.js';
import { alarmPerformanceSchema, type AlarmPerformance } from '../alerts/kpi.js';
import { formatDuration, kindLabels, severityLabels } from '../alerts/text.js';
import { call, endpoint, type ServiceFlags } from './service-client.js';
import { namesFrom, type Names } from './names.js';

const DAY = 86_400_000;

export function parseDays(value: string): number {
  const days = Number(value);
  if (!Number.isFinite(days) || days <= 0 || days > 366) throw new InvalidArgumentError('expected a number of days, more than 0 and at most 366');
  return days;
}

function percent(share: number | null): string {
  if (share === null) return '–';
  const value = share * 100;
  // One decimal only where rounding would hide it (6.3 %, 0.1 % in flood), never "1.0 %".
  return `${Number.isInteger(value) || value >= 10 ? Math.round(value) : value.toFixed(1)} %`;
}
const number = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(n < 0.1 ? 3 : n < 10 ? 2 : 1));

const duration = (ms: number | null) => (ms === null ? '–' : formatDuration(ms, 'en'));

/** Columns padded to their widest cell; the first row is the header. */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => [...(r[i] ?? '')].length)));
  return rows
    .map(
      (r) =>
        `  ${r
          .map((cell, i) => cell + ' '.repeat(widths[i]! - [...cell].length))
          .join('  ')
          .trimEnd()}`,
    )
    .join('\n');
}

const kind = (k: AlertKind) => kindLabels[k].en;
const ASSESSMENT_WORDS: Record<AlarmPerformance['total']['assessment'], string> = {
  acceptable: 'acceptable',
  manageable: 'manageable',
  over_demanding: 'OVER-DEMANDING',
};

export function formatAlarmPerformance(report: AlarmPerformance, names: Names): string {
  const t = report.targets;
  const out: string[] = [];
  const scope = report.siteId ? names.site(report.siteId) : 'all sites';
  out.push(
    `Alarm performance (ANSI/ISA-18.2), ${scope}: ${names.time(report.period.from)} to ${names.time(report.period.to)} (${number(report.period.days)} days)`,
  );
  out.push('');
  out.push(
    `Alarm rate. Targets: about ${t.perTenMinutesAcceptable} per 10 min is very likely acceptable, ${t.perTenMinutesManageable} is manageable; about ${t.perDayAcceptable} a day acceptable, ${t.perDayManageable} the most manageable; more than ${t.floodAbove} in 10 min is a flood (under ${percent(t.floodTimeShareMax)} of the time).`,
  );
  const rateRow = (label: string, r: AlarmPerformance['total']) => [
    label,
    String(r.alarms),
    number(r.perDay.average),
    String(r.perDay.peak),
    number(r.perTenMinutes.average),
    String(r.perTenMinutes.peak),
    String(r.floods),
    percent(r.floodTimeShare),
    ASSESSMENT_WORDS[r.assessment],
  ];
  const rateRows = [
    ['Site', 'Alarms', 'Per day', 'Peak day', 'Per 10 min', 'Peak 10 min', 'Floods', 'In flood', 'Assessment'],
    ...report.sites.map((s) => rateRow(names.site(s.siteId), s)),
  ];
  if (report.sites.length !== 1) rateRows.push(rateRow('All sites together', report.total));
  out.push(table(rateRows));
  out.push('');

  out.push(`Floods (more than ${t.floodAbove} new alarms within 10 minutes)${report.floods.length ? ':' : ': none'}`);
  if (report.floods.length)
    out.push(
      table([['Site', 'From', 'To', 'Alarms'], ...report.floods.map((f) => [names.site(f.siteId), names.time(f.start), names.time(f.end), String(f.alarms)])]),
    );
  out.push('');

  out.push(`Most frequent alarms (top ${t.topCount})${report.topAlarms.length ? ':' : ': none'}`);
  if (report.topAlarms.length)
    out.push(
      table([
        ['#', 'Place', 'Alarm', 'Count', 'Share'],
        ...report.topAlarms.map((a, i) => [String(i + 1), names.place(a.siteId, a.locationId), kind(a.kind), String(a.alarms), percent(a.share)]),
      ]),
    );
  out.push('');

  out.push(`Chattering alarms (flagged, or back ${t.chatterRelapses} or more times after clearing)${report.chattering.alerts.length ? ':' : ': none'}`);
  if (report.chattering.alerts.length)
    out.push(
      table([
        ['Place', 'Sensor', 'Alarm', 'Relapses', 'Flagged'],
        ...report.chattering.alerts.map((a) => [
          names.place(a.siteId, a.locationId),
          names.device(a.deviceId),
          kind(a.kind),
          String(a.relapses),
          a.flagged ? 'yes' : 'no',
        ]),
      ]),
    );
  out.push(
    `Sensors raising the same alarm ${t.chatterActivations} or more times within ${duration(t.chatterWindowMs)}${report.chattering.pairs.length ? ':' : ': none'}`,
  );
  if (report.chattering.pairs.length)
    out.push(
      table([
        ['Place', 'Sensor', 'Alarm', 'Times', 'From'],
        ...report.chattering.pairs.map((p) => [
          names.place(p.siteId, p.locationId),
          names.device(p.deviceId),
          kind(p.kind),
          String(p.activations),
          names.time(p.windowStart),
        ]),
      ]),
    );
  out.push('');

  out.push(`Stale alarms (active more than ${duration(t.staleAfterMs)} at the end of the period)${report.stale.length ? ':' : ': none'}`);
  if (report.stale.length)
    out.push(
      table([
        ['Place', 'Sensor', 'Alarm', 'Severity', 'Active since', 'For'],
        ...report.stale.map((s) => [
          names.place(s.siteId, s.locationId),
          names.device(s.deviceId),
          kind(s.kind),
          severityLabels[s.severity].en,
          names.time(s.activeSince),
          duration(s.activeForMs),
        ]),
      ]),
    );
  out.push('');

  out.push(
    `Shelved: ${report.shelved.inPeriod} incident${report.shelved.inPeriod === 1 ? '' : 's'} shelved in the period, ${report.shelved.current} shelved now`,
  );
  if (report.shelved.incidents.length)
    out.push(
      table([
        ['Place', 'By', 'Until', 'Reason'],
        ...report.shelved.incidents.map((i) => [names.place(i.siteId, i.locationId), i.printedName, names.time(i.until), i.reason]),
      ]),
    );
  out.push('');

  const a = report.acknowledgement;
  out.push(
    `Time to acknowledge: ${a.acknowledged} of ${a.alarms} alarms acknowledged; median ${duration(a.medianMs)}, 90th percentile ${duration(a.p90Ms)}; ${percent(a.withinTargetShare)} within ${duration(t.acknowledgeWithinMs)}`,
  );
  return `${out.join('\n')}\n`;
}

export async function alertsPerformanceCommand(flags: ServiceFlags & { site?: string; days: number; json?: boolean }): Promise<void> {
  const { base, headers } = endpoint(flags);
  const to = Date.now();
  const query = new URLSearchParams({ from: String(Math.round(to - flags.days * DAY)), to: String(to), ...(flags.site ? { site: flags.site } : {}) });
  const body = await call(`${base}/api/v1/alarms/performance?${query}`, { headers });
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
    return;
  }
  // Parsed so a service of another version fails here with the field named, not mid-table.
  const report = alarmPerformanceSchema.parse(body);
  process.stdout.write(formatAlarmPerformance(report, namesFrom(flags.config)));
}
