import { z } from 'zod';
import type { Registry } from '../core/registry.js';
import { placeLabel, type ReviewReason } from './review-reasons.js';
import { consigneeNoticeSchema, preCoolingSchema, receiptSchema, type PreCooling } from '../shipments/schema.js';
import type { ShipmentRecord } from '../shipments/book.js';
import type { Block } from './render/document.js';
import type { Formatter } from './render/i18n.js';
import type { ShipmentReport } from './schema.js';

/**
 * The transport steps of a shipment (GDP 9.2, GSP cold-chain transport) as the report shows them:
 * the pre-cooling check of each loading, the receiver's acceptance or refusal, and the messages
 * the consignee was sent about excursions. All three are stored shipment facts, copied as they are.
 */
export const transportStepsSchema = z.object({
  preCooling: z.array(preCoolingSchema),
  receipt: receiptSchema.nullable(),
  consigneeNotices: z.array(consigneeNoticeSchema),
});
export type TransportSteps = z.infer<typeof transportStepsSchema>;

export function transportSteps(record: ShipmentRecord): TransportSteps {
  return { preCooling: record.preCooling ?? [], receipt: record.receipt ?? null, consigneeNotices: record.consigneeNotices ?? [] };
}

/** What sends the shipment to QA review among the transport steps. */
export function transportReviewReasons(steps: TransportSteps, range: { min: number; max: number }, registry: Registry): ReviewReason[] {
  const reasons: ReviewReason[] = [];
  for (const c of steps.preCooling)
    if (!c.passed && c.outcome === 'recorded')
      reasons.push({ kind: 'pre_cooling_failed', place: placeLabel(registry, c.locationId), at: c.to, problems: c.problems });
  const r = steps.receipt;
  if (r?.decision === 'refused') reasons.push({ kind: 'receiver_refused', name: r.name, temperature: r.arrivalTemperature });
  else if (r && (r.arrivalTemperature < range.min || r.arrivalTemperature > range.max))
    reasons.push({ kind: 'arrival_out_of_range', temperature: r.arrivalTemperature, min: range.min, max: range.max });
  return reasons;
}

const en = {
  preCooling: 'Pre-cooling before loading',
  noPreCooling: 'No loading has been checked.',
  window: 'Window checked',
  range: 'Range',
  readings: 'Readings',
  min: 'Min (°C)',
  max: 'Max (°C)',
  longestGap: 'Longest without a reading',
  result: 'Result',
  outcome: 'Loading',
  passed: 'Passed',
  failed: 'Failed',
  recorded: 'recorded',
  refused: 'refused',
  warned: 'recorded with a warning',
  place: 'Place',
  no_readings: 'no readings stored',
  below_range: 'below the range',
  above_range: 'above the range',
  not_covered: 'readings do not cover the window',
  readings_unavailable: 'readings could not be read',
  receipt: 'Receipt by the consignee',
  decision: 'Decision',
  accepted: 'Accepted',
  refusedGoods: 'Refused',
  arrivalTemperature: 'Temperature on arrival',
  receivedBy: 'Received by',
  comment: 'Comment',
  at: 'Recorded at',
  via: 'Through receiver link',
  noReceipt: 'Not yet recorded.',
  receiveAt: 'The receiver records it at',
  notices: 'Consignee notified of excursions',
  noNotices: 'No excursion notices were sent.',
  time: 'Time',
  alert: 'Alarm',
  channel: 'Channel',
  recipient: 'Recipient',
  delivery: 'Delivery',
  email: 'E-mail',
  sms: 'SMS',
  webhook: 'Webhook',
  sent: 'sent',
  notSent: 'failed',
};
type Words = typeof en;
const zhCN: Words = {
  preCooling: '装车前预冷',
  noPreCooling: '尚无装车核查记录。',
  window: '核查时段',
  range: '温度范围',
  readings: '读数',
  min: '最低（°C）',
  max: '最高（°C）',
  longestGap: '最长无读数时段',
  result: '结果',
  outcome: '装车',
  passed: '合格',
  failed: '不合格',
  recorded: '已记录',
  refused: '已拒绝',
  warned: '已记录（警告）',
  place: '地点',
  no_readings: '无存储读数',
  below_range: '低于范围',
  above_range: '高于范围',
  not_covered: '读数未覆盖整个时段',
  readings_unavailable: '无法读取读数',
  receipt: '收货验收',
  decision: '验收结论',
  accepted: '接收',
  refusedGoods: '拒收',
  arrivalTemperature: '到货温度',
  receivedBy: '收货人',
  comment: '备注',
  at: '记录时间',
  via: '收货验证链接',
  noReceipt: '尚未记录。',
  receiveAt: '收货人在此记录验收结果：',
  notices: '已通知收货方的超标情况',
  noNotices: '未发送超标通知。',
  time: '时间',
  alert: '报警',
  channel: '渠道',
  recipient: '接收人',
  delivery: '送达',
  email: '电子邮件',
  sms: '短信',
  webhook: 'Webhook',
  sent: '已送达',
  notSent: '失败',
};
const WORDS: Record<Formatter['lang'], Words> = { en, 'zh-CN': zhCN };

/** The report's sections for the transport steps, in the report's language (blocks for every format). */
export function transportBlocks(report: ShipmentReport & { transport?: TransportSteps }, f: Formatter): Block[] {
  const steps = report.transport;
  if (!steps) return [];
  const w = WORDS[f.lang];
  const names = new Map(
    report.segments.map((s) => [s.place.locationId, s.place.locationName ? `${s.place.locationName} (${s.place.locationId})` : s.place.locationId]),
  );
  const place = (id: string) => names.get(id) ?? id;
  const result = (c: PreCooling) => (c.passed ? w.passed : `${w.failed}: ${c.problems.map((p) => w[p]).join(', ')}`);
  const outcome = (c: PreCooling) => (c.outcome === 'refused' ? w.refused : c.passed ? w.recorded : w.warned);
  const r = steps.receipt;
  const blocks: Block[] = [
    {
      kind: 'table',
      heading: w.preCooling,
      columns: [w.place, w.window, w.range, w.readings, w.min, w.max, w.longestGap, w.result, w.outcome],
      rows: steps.preCooling.map((c) => [
        place(c.locationId),
        `${f.when(c.from)} — ${f.when(c.to)}`,
        `${c.range.min} … ${c.range.max} °C`,
        c.readings,
        c.min ?? '—',
        c.max ?? '—',
        f.duration(c.longestGapMs),
        result(c),
        outcome(c),
      ]),
      empty: w.noPreCooling,
      widths: [1.6, 2, 0.9, 0.6, 0.6, 0.6, 0.9, 1.6, 0.9],
    },
    {
      kind: 'signature',
      heading: w.receipt,
      rows: r
        ? [
            [w.decision, r.decision === 'accepted' ? w.accepted : w.refusedGoods],
            [w.arrivalTemperature, `${r.arrivalTemperature} °C`],
            [w.receivedBy, r.name],
            [w.comment, r.comment || '—'],
            [w.at, `${f.when(r.at)} (${w.via} ${r.linkId})`],
          ]
        : null,
      empty: report.verification ? `${w.noReceipt} ${w.receiveAt} ${report.verification.url}/receive` : w.noReceipt,
    },
  ];
  if (steps.consigneeNotices.length)
    blocks.push({
      kind: 'table',
      heading: w.notices,
      columns: [w.time, w.place, w.alert, w.channel, w.recipient, w.delivery],
      rows: steps.consigneeNotices.map((n) => [
        f.when(n.at),
        place(n.locationId),
        n.incidentId ?? n.alertId,
        (w as Record<string, string>)[n.channel] ?? n.channel,
        n.recipient,
        n.ok ? w.sent : `${w.notSent}: ${n.outcome}`,
      ]),
      empty: w.noNotices,
    });
  return blocks;
}
