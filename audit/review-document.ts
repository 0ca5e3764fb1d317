import type { ReportDocument } from '../reports/render/document.js';
import { Formatter } from '../reports/render/i18n.js';
import { renderPdf } from '../reports/render/pdf.js';
import type { ReportLanguage } from '../reports/schema.js';
import { auditActionWords } from './actions.js';
import type { AuditEntry } from './audit-log.js';

/** The audit trail as a printable document (PDF): labels in English and Simplified Chinese. */
const LABELS = {
  en: {
    title: 'Audit trail',
    chain: 'Hash chain',
    verified: 'verified: {n} entries, none altered, removed or inserted',
    broken: 'DOES NOT VERIFY: {problem}',
    filter: 'Filter',
    all: 'every entry',
    shown: 'Entries shown',
    shownOf: '{shown} of {matched} matching (newest first)',
    entries: 'Entries',
    seq: 'No.',
    time: 'Time',
    who: 'Who',
    action: 'What',
    target: 'Subject',
    details: 'Details',
    none: 'No entry matches.',
    generated: 'Generated',
    from: 'from',
    to: 'to',
    actor: 'by',
    actionFilter: 'action',
    targetFilter: 'subject',
  },
  'zh-CN': {
    title: '审计追踪',
    chain: '哈希链',
    verified: '校验通过：共 {n} 条，无修改、删除或插入',
    broken: '校验未通过：{problem}',
    filter: '筛选条件',
    all: '全部记录',
    shown: '显示条数',
    shownOf: '匹配 {matched} 条，显示最新的 {shown} 条',
    entries: '记录',
    seq: '序号',
    time: '时间',
    who: '操作人',
    action: '操作',
    target: '对象',
    details: '详情',
    none: '没有匹配的记录。',
    generated: '生成时间',
    from: '自',
    to: '至',
    actor: '操作人',
    actionFilter: '操作',
    targetFilter: '对象',
  },
} as const;

const DETAILS_MAX = 400;

type Review = { verified: { ok: boolean; entries: number; problem?: string }; matched: number; entries: AuditEntry[] };
type Filter = { from?: number; to?: number; actor?: string; action?: string; target?: string };

/** The reviewed trail printed (laid out on the calling thread): the chain's state, the filter, every entry with its action in words. */
export async function auditPdf(review: Review, filter: Filter, lang: ReportLanguage, timeZone: string): Promise<Buffer> {
  const document = auditDocument(review, filter, new Formatter(lang, timeZone));
  return renderPdf(document, { title: `${document.title} — ${document.subtitle}`, lang });
}

function auditDocument(review: Review, filter: Filter, f: Formatter): ReportDocument {
  const t = LABELS[f.lang];
  const conditions = [
    filter.from !== undefined ? `${t.from} ${f.when(filter.from)}` : '',
    filter.to !== undefined ? `${t.to} ${f.when(filter.to)}` : '',
    filter.actor ? `${t.actor} ${filter.actor}` : '',
    filter.action ? `${t.actionFilter} ${auditActionWords(filter.action, f.lang)}` : '',
    filter.target ? `${t.targetFilter} ${filter.target}` : '',
  ].filter(Boolean);
  const chain = review.verified.ok ? f.fill(t.verified, { n: review.verified.entries }) : f.fill(t.broken, { problem: review.verified.problem ?? '' });
  const details = (d: Record<string, unknown>) => {
    const text = JSON.stringify(d);
    return text === '{}' ? '' : text.length > DETAILS_MAX ? `${text.slice(0, DETAILS_MAX)}…` : text;
  };
  return {
    title: t.title,
    subtitle: conditions.join(' · ') || t.all,
    blocks: [
      {
        kind: 'verdict',
        ok: review.verified.ok,
        text: `${t.chain}: ${chain}`,
        reasons: [],
      },
      {
        kind: 'fields',
        rows: [
          [t.filter, conditions.join(', ') || t.all],
          [t.shown, f.fill(t.shownOf, { shown: review.entries.length, matched: review.matched })],
        ],
      },
      {
        kind: 'table',
        heading: t.entries,
        columns: [t.seq, t.time, t.who, t.action, t.target, t.details],
        rows: review.entries.map((e) => [
          e.seq,
          f.when(Date.parse(e.at)),
          e.printedName ? `${e.printedName} (${e.actor})` : e.actor,
          auditActionWords(e.action, f.lang),
          e.target,
          details(e.details),
        ]),
        empty: t.none,
        widths: [0.5, 1.3, 1.3, 1.6, 1.3, 3],
      },
    ],
    footer: `${t.generated} ${f.when(Date.now())} (${f.timeZone})`,
  };
}
