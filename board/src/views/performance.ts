import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { say, when, type Labels, type Lang } from '../i18n.js';
import { namesOf } from '../names.js';
import { periodFilter } from './period.js';
import type { BoardState } from '../store.js';

/** GET /api/v1/alarms/performance (alerts/kpi.ts `AlarmPerformance`), the parts the board shows. */
interface Rate {
  alarms: number;
  perDay: { average: number; peak: number };
  perTenMinutes: { average: number; peak: number };
  floods: number;
  floodTimeShare: number;
  assessment: string;
}
interface PlaceKind {
  siteId: string;
  locationId: string;
  kind: string;
}
interface AlarmPerformance {
  period: { from: number; to: number; days: number };
  generatedAt: number;
  siteId: string | null;
  targets: {
    perTenMinutesAcceptable: number;
    perTenMinutesManageable: number;
    floodAbove: number;
    perDayAcceptable: number;
    perDayManageable: number;
    floodTimeShareMax: number;
    acknowledgeWithinMs: number;
    staleAfterMs: number;
    chatterActivations: number;
    chatterWindowMs: number;
    chatterRelapses: number;
    topCount: number;
  };
  total: Rate;
  sites: Array<Rate & { siteId: string }>;
  floods: Array<{ siteId: string; start: number; end: number; alarms: number }>;
  topAlarms: Array<PlaceKind & { alarms: number; share: number; deviceIds: string[] }>;
  chattering: {
    alerts: Array<PlaceKind & { alertId: string; deviceId: string; relapses: number; flagged: boolean }>;
    pairs: Array<PlaceKind & { deviceId: string; activations: number; windowStart: number }>;
  };
  stale: Array<PlaceKind & { alertId: string; deviceId: string; severity: string; state: string; activeSince: number; activeForMs: number }>;
  shelved: {
    inPeriod: number;
    current: number;
    incidents: Array<{ incidentId: string; siteId: string; locationId: string; by: string; printedName: string; at: number; until: number; reason: string }>;
  };
  acknowledgement: {
    alarms: number;
    acknowledged: number;
    medianMs: number | null;
    p90Ms: number | null;
    withinTarget: number;
    withinTargetShare: number | null;
  };
}

const W = {
  en: {
    period: 'Period',
    allSites: 'All sites',
    site: 'Site',
    rates: 'Alarm rates against ISA-18.2',
    alarms: 'Alarms',
    perDay: 'Per day (average / busiest)',
    perTen: 'Per 10 minutes (average / busiest)',
    floods: 'Floods',
    floodShare: 'Time in floods',
    assessment: 'Assessment',
    target: 'Target',
    targetLine: (x: AlarmPerformance['targets']) =>
      `ISA-18.2: acceptable ≤ ${x.perDayAcceptable} a day and ≤ ${x.perTenMinutesAcceptable} per 10 min; manageable ≤ ${x.perDayManageable} a day and ≤ ${x.perTenMinutesManageable} per 10 min; a flood is more than ${x.floodAbove} in 10 min, at most ${pct(x.floodTimeShareMax)} of the time.`,
    floodList: 'Alarm floods',
    start: 'Start',
    end: 'End',
    noFloods: 'No floods.',
    top: 'Most frequent alarms',
    place: 'Place',
    kind: 'Alarm',
    share: 'Share',
    sensors: 'Sensors',
    none: 'None.',
    chattering: 'Chattering alarms',
    relapses: 'Came back',
    activations: 'Raised',
    within: 'within',
    flagged: 'flagged chattering',
    sensor: 'Sensor',
    times: 'times',
    stale: 'Stale alarms (active longer than',
    staleEnd: ')',
    activeSince: 'Active since',
    activeFor: 'Active for',
    severity: 'Severity',
    state: 'State',
    shelved: 'Shelved alarms',
    shelvedInPeriod: 'Shelved in the period',
    shelvedNow: 'Shelved now',
    by: 'By',
    at: 'Shelved',
    until: 'Until',
    reason: 'Reason',
    ack: 'Time to acknowledge',
    acknowledged: 'Acknowledged',
    median: 'Median',
    p90: '90th percentile',
    withinTarget: 'Within target',
    generated: 'Generated',
  },
  'zh-CN': {
    period: '统计期间',
    allSites: '全部站点',
    site: '站点',
    rates: '报警率（对照 ISA-18.2）',
    alarms: '报警数',
    perDay: '每天（平均 / 最多）',
    perTen: '每10分钟（平均 / 最多）',
    floods: '报警泛滥',
    floodShare: '泛滥时间占比',
    assessment: '评价',
    target: '目标',
    targetLine: (x: AlarmPerformance['targets']) =>
      `ISA-18.2：可接受为每天不超过 ${x.perDayAcceptable} 条且每10分钟不超过 ${x.perTenMinutesAcceptable} 条；可管理为每天不超过 ${x.perDayManageable} 条且每10分钟不超过 ${x.perTenMinutesManageable} 条；10分钟内超过 ${x.floodAbove} 条即为报警泛滥，泛滥时间应不超过 ${pct(x.floodTimeShareMax)}。`,
    floodList: '报警泛滥记录',
    start: '开始',
    end: '结束',
    noFloods: '无报警泛滥。',
    top: '最频繁的报警',
    place: '位置',
    kind: '报警',
    share: '占比',
    sensors: '测点',
    none: '无。',
    chattering: '振荡报警',
    relapses: '反复次数',
    activations: '触发次数',
    within: '时间窗',
    flagged: '已标记为振荡',
    sensor: '测点',
    times: '次',
    stale: '陈旧报警（持续超过',
    staleEnd: '）',
    activeSince: '开始于',
    activeFor: '已持续',
    severity: '级别',
    state: '状态',
    shelved: '搁置的报警',
    shelvedInPeriod: '期间内搁置',
    shelvedNow: '当前搁置',
    by: '操作人',
    at: '搁置时间',
    until: '搁置至',
    reason: '原因',
    ack: '确认用时',
    acknowledged: '已确认',
    median: '中位数',
    p90: '90%分位',
    withinTarget: '在目标时间内',
    generated: '生成时间',
  },
};

const ASSESSMENT: Record<string, Record<Lang, string>> = {
  acceptable: { en: 'Acceptable', 'zh-CN': '可接受' },
  manageable: { en: 'Manageable', 'zh-CN': '可管理' },
  over_demanding: { en: 'Overloaded', 'zh-CN': '负荷过重' },
};

function pct(x: number | null | undefined): string {
  if (x == null) return '—';
  const p = x * 100;
  return `${p < 10 ? Number(p.toFixed(1)) : Math.round(p)} %`;
}
function span(ms: number | null | undefined, lang: Lang): string {
  if (ms == null) return '—';
  const m = Math.round(ms / 60_000);
  if (m < 1) return lang === 'en' ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 1000)}秒`;
  if (m < 120) return lang === 'en' ? `${m} min` : `${m}分钟`;
  const h = Math.round(m / 60);
  if (h < 48) return lang === 'en' ? `${h} h` : `${h}小时`;
  return lang === 'en' ? `${Math.round(h / 24)} d` : `${Math.round(h / 24)}天`;
}
const num = (x: number) => (x > 0 && x < 0.01 ? x.toPrecision(1) : String(Number(x.toFixed(x < 10 ? 2 : 0))));

/** ISA-18.2 alarm performance: rates against the targets, floods, top 10, chattering, stale, shelved, time to acknowledge. */
export function PerformanceView({ board, t, lang }: { board: BoardState; t: Labels; lang: Lang }) {
  const w = W[lang];
  const names = namesOf(board.overview);
  const [site, setSite] = useState('');
  const [days, setDays] = useState(7);
  const [report, setReport] = useState<AlarmPerformance | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    setError('');
    const to = Date.now();
    void api<AlarmPerformance>(`/api/v1/alarms/performance?from=${to - days * 86_400_000}&to=${to}${site ? `&site=${encodeURIComponent(site)}` : ''}`)
      .then(setReport)
      .catch((err: Error) => setError(err.message));
  }, [site, days]);
  const place = (p: { siteId: string; locationId: string }) => names.place(p.siteId, p.locationId);
  const assessment = (a: string) => html`<span class=${`pill assess-${a}`}>${ASSESSMENT[a]?.[lang] ?? say('state', a, lang)}</span>`;
  const rateRow = (label: string, r: Rate, key: string) => html`<tr data-rate=${key}>
    <td>${label}</td><td class="num">${r.alarms}</td>
    <td class=${`num ${over(r.perDay.average, targets!.perDayAcceptable, targets!.perDayManageable)}`}>${num(r.perDay.average)} / ${r.perDay.peak}</td>
    <td class=${`num ${over(r.perTenMinutes.average, targets!.perTenMinutesAcceptable, targets!.perTenMinutesManageable)}`}>${num(r.perTenMinutes.average)} / ${r.perTenMinutes.peak}</td>
    <td class=${`num ${r.floods ? 'bad' : ''}`}>${r.floods}</td><td class=${`num ${r.floodTimeShare > targets!.floodTimeShareMax ? 'bad' : ''}`}>${pct(r.floodTimeShare)}</td><td>${assessment(r.assessment)}</td></tr>`;
  const r = report;
  const targets = r?.targets;
  /** Above the acceptable level: amber; above the manageable one: red. */
  const over = (x: number, acceptable: number, manageable: number) => (x > manageable ? 'bad' : x > acceptable ? 'warn' : '');
  return html`<section class="performance">
    <h2>${t.performance}</h2>
    <div class="filters">
      <label>${w.site} <select data-filter="site" onChange=${(e: Event) => setSite((e.target as HTMLSelectElement).value)}>
        <option value="">${w.allSites}</option>
        ${(board.overview?.sites ?? []).map((s) => html`<option value=${s.id} selected=${s.id === site}>${s.name}</option>`)}
      </select></label>
      ${periodFilter(w.period, [1, 7, 30], days, lang, setDays)}
    </div>
    ${error ? html`<p class="error">${error}</p>` : null}
    ${
      !r
        ? error
          ? null
          : html`<p class="hint">…</p>`
        : html`
        <p class="hint">${when(r.period.from)} → ${when(r.period.to)} · ${w.generated} ${when(r.generatedAt)}</p>
        <h3>${w.rates}</h3>
        <div class="scroll"><table data-table="rates">
          <thead><tr><th>${w.site}</th><th>${w.alarms}</th><th>${w.perDay}</th><th>${w.perTen}</th><th>${w.floods}</th><th>${w.floodShare}</th><th>${w.assessment}</th></tr></thead>
          <tbody>
            ${rateRow(r.siteId ? names.site(r.siteId) : w.allSites, r.total, 'total')}
            ${r.siteId ? null : r.sites.map((s) => rateRow(names.site(s.siteId), s, s.siteId))}
          </tbody>
        </table></div>
        <p class="hint">${w.targetLine(r.targets)}</p>

        <h3>${w.ack}</h3>
        <div class="scroll"><table data-table="ack">
          <thead><tr><th>${w.alarms}</th><th>${w.acknowledged}</th><th>${w.median}</th><th>${w.p90}</th><th>${w.withinTarget} (≤ ${span(r.targets.acknowledgeWithinMs, lang)})</th></tr></thead>
          <tbody><tr><td class="num">${r.acknowledgement.alarms}</td><td class="num">${r.acknowledgement.acknowledged}</td><td>${span(r.acknowledgement.medianMs, lang)}</td><td>${span(r.acknowledgement.p90Ms, lang)}</td>
            <td>${r.acknowledgement.withinTarget} (${pct(r.acknowledgement.withinTargetShare)})</td></tr></tbody>
        </table></div>

        <h3>${w.top}</h3>
        ${
          r.topAlarms.length
            ? html`<div class="scroll"><table data-table="top">
              <thead><tr><th>#</th><th>${w.place}</th><th>${w.kind}</th><th>${w.alarms}</th><th>${w.share}</th><th>${w.sensors}</th></tr></thead>
              <tbody>${r.topAlarms.map((a, i) => html`<tr><td>${i + 1}</td><td>${place(a)}</td><td>${say('kind', a.kind, lang)}</td><td class="num">${a.alarms}</td><td class="num">${pct(a.share)}</td><td>${a.deviceIds.map(names.device).join(', ')}</td></tr>`)}</tbody>
            </table></div>`
            : html`<p class="hint">${w.none}</p>`
        }

        <h3>${w.floodList}</h3>
        ${
          r.floods.length
            ? html`<div class="scroll"><table data-table="floods">
              <thead><tr><th>${w.site}</th><th>${w.start}</th><th>${w.end}</th><th>${w.alarms}</th></tr></thead>
              <tbody>${r.floods.map((f) => html`<tr><td>${names.site(f.siteId)}</td><td>${when(f.start)}</td><td>${when(f.end)}</td><td class="num">${f.alarms}</td></tr>`)}</tbody>
            </table></div>`
            : html`<p class="hint">${w.noFloods}</p>`
        }

        <h3>${w.chattering}</h3>
        ${
          r.chattering.alerts.length || r.chattering.pairs.length
            ? html`<div class="scroll"><table data-table="chattering">
              <thead><tr><th>${w.place}</th><th>${w.sensor}</th><th>${w.kind}</th><th>${w.relapses} / ${w.activations}</th></tr></thead>
              <tbody>
                ${r.chattering.alerts.map((a) => html`<tr><td>${place(a)}</td><td>${names.device(a.deviceId)}</td><td>${say('kind', a.kind, lang)}</td><td>${w.relapses}: ${a.relapses} ${w.times}${a.flagged ? ` · ${w.flagged}` : ''}</td></tr>`)}
                ${r.chattering.pairs.map((p) => html`<tr><td>${place(p)}</td><td>${names.device(p.deviceId)}</td><td>${say('kind', p.kind, lang)}</td><td>${w.activations}: ${p.activations} ${w.times} (${w.within} ${span(r.targets.chatterWindowMs, lang)}, ${when(p.windowStart)})</td></tr>`)}
              </tbody>
            </table></div>`
            : html`<p class="hint">${w.none}</p>`
        }

        <h3>${w.stale} ${span(r.targets.staleAfterMs, lang)}${w.staleEnd}</h3>
        ${
          r.stale.length
            ? html`<div class="scroll"><table data-table="stale">
              <thead><tr><th>${w.place}</th><th>${w.sensor}</th><th>${w.kind}</th><th>${w.severity}</th><th>${w.state}</th><th>${w.activeSince}</th><th>${w.activeFor}</th></tr></thead>
              <tbody>${r.stale.map((a) => html`<tr><td>${place(a)}</td><td>${names.device(a.deviceId)}</td><td>${say('kind', a.kind, lang)}</td><td>${say('severity', a.severity, lang)}</td><td>${say('state', a.state, lang)}</td><td>${when(a.activeSince)}</td><td>${span(a.activeForMs, lang)}</td></tr>`)}</tbody>
            </table></div>`
            : html`<p class="hint">${w.none}</p>`
        }

        <h3>${w.shelved}</h3>
        <p>${w.shelvedInPeriod}: <b>${r.shelved.inPeriod}</b> · ${w.shelvedNow}: <b>${r.shelved.current}</b></p>
        ${
          r.shelved.incidents.length
            ? html`<div class="scroll"><table data-table="shelved">
              <thead><tr><th>${w.place}</th><th>${w.by}</th><th>${w.at}</th><th>${w.until}</th><th>${w.reason}</th></tr></thead>
              <tbody>${r.shelved.incidents.map((s) => html`<tr><td>${place(s)}</td><td>${s.printedName}</td><td>${when(s.at)}</td><td>${when(s.until)}</td><td>${s.reason}</td></tr>`)}</tbody>
            </table></div>`
            : null
        }
      `
    }
  </section>`;
}
