import type { Ledger } from '../../stability/schema.js';
import type { ReportLanguage } from '../schema.js';
import type { Block } from './document.js';
import type { Formatter } from './i18n.js';

/** The stability budget section's words, in English and Simplified Chinese (稳定性预算). */
const LABELS: Record<ReportLanguage, Record<string, string>> = {
  en: {
    heading: 'Stability budget of batch {batch}',
    state: 'Budget',
    ok: 'within budget',
    low: 'running low',
    exhausted: 'used up — QA investigation needed before release',
    noData: 'the product profile carries no stability data',
    shipments: 'Shipments of the batch',
    timeOut: 'Time outside the range, all shipments and storage',
    alertBelow: 'Alarm when less than this is left',
    allowances: 'Allowances',
    allowance: 'Allowance',
    band: 'Band',
    weighting: 'Counted as',
    time: 'time',
    mkt: 'time, weighted by MKT (Arrhenius)',
    allowed: 'Allowed',
    consumed: 'Consumed',
    addedBack: 'Given back',
    remaining: 'Left',
    total: 'Total (all bands)',
    freeze: 'Freeze events (below {below} °C)',
    freezeValue: '{events} of {max} allowed; {back} given back; {left} left',
    excursions: 'Excursions of the batch (each counted once, however many shipments saw it)',
    place: 'Place',
    shipment: 'Shipment',
    start: 'From',
    end: 'To',
    duration: 'Duration',
    peak: 'Peak (°C)',
    counts: 'Counts against',
    beyond: 'beyond the stability data',
    freezeEvent: 'freeze event',
    elsewhere: 'elsewhere in the chain (another shipment of the batch)',
    none: 'No excursion in the batch’s record.',
    addBacks: 'Add-backs after investigation (signed)',
    investigation: 'Investigation',
    amount: 'Given back',
    signedBy: 'Signed by',
    at: 'At',
    meaning: 'Meaning',
    comment: 'Comment',
    noAddBacks: 'None.',
    legend:
      'Every excursion of the batch, in storage and in transport, as the shipment reports compute it, consumes the budget: the allowance whose band holds its worst reading, for its whole duration.',
    allowance_low: 'allowance {id}: {percent} left',
    allowance_exhausted: 'allowance {id} used up ({percent} left)',
    total_low: 'total: {percent} left',
    total_exhausted: 'total used up ({percent} left)',
    freeze_exhausted: 'no freeze event left',
    beyond_stability_data: 'an excursion went beyond every allowance band of the stability data',
    open: 'ongoing',
  },
  'zh-CN': {
    heading: '批次 {batch} 的稳定性预算',
    state: '预算状态',
    ok: '在预算之内',
    low: '即将用尽',
    exhausted: '已用尽——放行前须由质量部门调查',
    noData: '产品档案未载明稳定性数据',
    shipments: '该批次的运单',
    timeOut: '超出范围的时间（全部运单及储存）',
    alertBelow: '剩余低于此值即报警',
    allowances: '允许时间',
    allowance: '允许项',
    band: '温度区间',
    weighting: '计算方式',
    time: '按时间',
    mkt: '按平均动力学温度（阿伦尼乌斯）加权的时间',
    allowed: '允许',
    consumed: '已消耗',
    addedBack: '已补回',
    remaining: '剩余',
    total: '合计（所有区间）',
    freeze: '冻结次数（低于 {below} °C）',
    freezeValue: '已发生 {events} 次，允许 {max} 次；补回 {back} 次；剩余 {left} 次',
    excursions: '该批次的超标记录（同一超标无论被几张运单记录，只计一次）',
    place: '位置',
    shipment: '运单',
    start: '起',
    end: '止',
    duration: '时长',
    peak: '峰值 (°C)',
    counts: '计入',
    beyond: '超出稳定性数据范围',
    freezeEvent: '冻结事件',
    elsewhere: '链条中的其他环节（该批次的另一运单）',
    none: '该批次无超标记录。',
    addBacks: '调查后补回（已签名）',
    investigation: '调查编号',
    amount: '补回',
    signedBy: '签名人',
    at: '时间',
    meaning: '签名含义',
    comment: '备注',
    noAddBacks: '无。',
    legend: '该批次在储存和运输中的每次超标（按运单报告的计算）都消耗预算：按其最差读数所在温度区间的允许项，计其全部时长。',
    allowance_low: '允许项 {id}：剩余 {percent}',
    allowance_exhausted: '允许项 {id} 已用尽（剩余 {percent}）',
    total_low: '合计：剩余 {percent}',
    total_exhausted: '合计已用尽（剩余 {percent}）',
    freeze_exhausted: '冻结次数已用尽',
    beyond_stability_data: '有超标超出了稳定性数据中所有允许区间',
    open: '持续中',
  },
};

const fill = (template: string, values: Record<string, string | number>) =>
  template.replace(/\{(\w+)\}/g, (w, k: string) => (k in values ? String(values[k]) : w));

/** A signed duration: a budget overdrawn shows as "−3 h 10 min". */
const signed = (f: Formatter, ms: number) => (ms < 0 ? `−${f.duration(-ms)}` : f.duration(ms));

/** What the ledger's state and findings say, in the report's language (also the receiver's and the board's words). */
export function ledgerVerdict(ledger: Ledger, lang: ReportLanguage): { state: string; findings: string[] } {
  const t = LABELS[lang];
  const state = ledger.state === 'no_stability_data' ? t.noData! : t[ledger.state]!;
  const findings = ledger.findings.map((x) =>
    fill(t[x.code]!, { id: x.allowanceId ?? '', percent: x.remainingPercent === null ? '—' : `${x.remainingPercent.toFixed(1)} %` }),
  );
  return { state, findings };
}

/** The stability section of a shipment report; nothing for a report without it. */
export function stabilityBlocks(ledger: Ledger | undefined, f: Formatter): Block[] {
  if (!ledger) return [];
  const t = LABELS[f.lang];
  const verdict = ledgerVerdict(ledger, f.lang);
  const fields: Array<[string, string | number]> = [
    [t.state!, [verdict.state, ...verdict.findings].join('; ')],
    [t.shipments!, ledger.shipments.map((s) => s.id).join(', ') || '—'],
    [t.timeOut!, f.duration(ledger.timeOutOfRangeMs)],
  ];
  if (ledger.alertBelowPercent !== null) fields.push([t.alertBelow!, `${ledger.alertBelowPercent} %`]);
  if (ledger.freeze)
    fields.push([
      fill(t.freeze!, { below: ledger.freeze.below }),
      fill(t.freezeValue!, { events: ledger.freeze.events, max: ledger.freeze.maxEvents, back: ledger.freeze.addedBack, left: ledger.freeze.remaining }),
    ]);
  const uses = [
    ...ledger.allowances.map((a) => [
      a.name ? `${a.id} (${a.name})` : a.id,
      `${a.from} … ${a.to} °C`,
      a.weighting === 'mkt' ? t.mkt! : t.time!,
      f.duration(a.allowanceMs),
      f.duration(a.consumedMs),
      f.duration(a.addedBackMs),
      `${signed(f, a.remainingMs)} (${a.remainingPercent.toFixed(1)} %)`,
    ]),
    ...(ledger.total
      ? [
          [
            t.total!,
            '—',
            '—',
            f.duration(ledger.total.allowanceMs),
            f.duration(ledger.total.consumedMs),
            f.duration(ledger.total.addedBackMs),
            `${signed(f, ledger.total.remainingMs)} (${ledger.total.remainingPercent.toFixed(1)} %)`,
          ],
        ]
      : []),
  ];
  const blocks: Block[] = [{ kind: 'fields', heading: fill(t.heading!, { batch: ledger.batch }), rows: fields }];
  if (uses.length)
    blocks.push({
      kind: 'table',
      heading: t.allowances!,
      columns: [t.allowance!, t.band!, t.weighting!, t.allowed!, t.consumed!, t.addedBack!, t.remaining!],
      rows: uses,
      empty: '—',
      widths: [1.6, 1, 1.4, 0.8, 0.8, 0.8, 1.2],
      note: t.legend!,
    });
  blocks.push({
    kind: 'table',
    heading: t.excursions!,
    columns: [t.place!, t.shipment!, t.start!, t.end!, t.duration!, t.peak!, t.counts!],
    rows: ledger.excursions.map((e) => [
      e.elsewhere ? t.elsewhere! : e.placeName,
      e.shipmentIds.join(', ') || '—',
      f.when(e.start),
      e.ongoing ? `${f.when(e.end)} (${t.open})` : f.when(e.end),
      f.duration(e.durationMs),
      Math.round(e.peak * 100) / 100,
      [e.allowanceId ?? (e.freeze ? '' : t.beyond!), e.freezeEvents ? `${e.freezeEvents} × ${t.freezeEvent}` : ''].filter(Boolean).join('; '),
    ]),
    empty: t.none!,
    widths: [2, 1, 1.2, 1.2, 0.8, 0.6, 1.2],
  });
  if (ledger.addBacks.length || ledger.state !== 'no_stability_data')
    blocks.push({
      kind: 'table',
      heading: t.addBacks!,
      columns: [t.investigation!, t.allowance!, t.amount!, t.signedBy!, t.at!, t.meaning!, t.comment!],
      rows: ledger.addBacks.map((b) => [
        b.investigation,
        b.allowance ?? t.total!,
        [b.amountMs ? f.duration(b.amountMs) : '', b.freezeEvents ? `${b.freezeEvents} × ${t.freezeEvent}` : ''].filter(Boolean).join('; '),
        b.printedName,
        f.when(b.at),
        b.meaning,
        b.comment,
      ]),
      empty: t.noAddBacks!,
      widths: [1.2, 1, 0.9, 1.1, 1.2, 1.4, 1.6],
    });
  return blocks;
}
