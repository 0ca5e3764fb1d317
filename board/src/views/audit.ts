import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import type { AuditReview } from '../../../audit/review.js';
import { api, download } from '../api.js';
import { CODES, when, type CodeTable, type Labels, type Lang } from '../i18n.js';
import { periodFilter } from './period.js';

const W = {
  en: {
    period: 'Period',
    actor: 'Who',
    actorHint: 'user name',
    action: 'Action',
    anyAction: 'All actions',
    csv: 'Download CSV',
    seq: 'No.',
    time: 'Time',
    printedName: 'Printed name',
    target: 'Target',
    details: 'Details',
    verified: (n: number) => `Audit trail verified: the chain of all ${n} entries is intact.`,
    broken: 'The audit trail does NOT verify:',
    shown: (shown: number, matched: number) => (shown < matched ? `Newest ${shown} of ${matched} matching entries.` : `${matched} matching entries.`),
    none: 'No entries match.',
  },
  'zh-CN': {
    period: '期间',
    actor: '操作人',
    actorHint: '用户名',
    action: '操作',
    anyAction: '全部操作',
    csv: '下载 CSV',
    seq: '序号',
    time: '时间',
    printedName: '签名人姓名',
    target: '对象',
    details: '详情',
    verified: (n: number) => `审计追踪已验证：全部 ${n} 条记录的哈希链完整。`,
    broken: '审计追踪验证失败：',
    shown: (shown: number, matched: number) => (shown < matched ? `显示最新 ${shown} 条，共 ${matched} 条符合条件。` : `共 ${matched} 条符合条件。`),
    none: '没有符合条件的记录。',
  },
};

type Words = Record<Lang, string>;
const ACTIONS = CODES.auditAction as Record<string, Words>;
/** Tables whose codes may appear as values in an entry's details (kinds, severities, states, …). */
const VALUE_TABLES: CodeTable[] = [
  'kind',
  'severity',
  'state',
  'event',
  'locationKind',
  'siteKind',
  'decision',
  'rejectReason',
  'channel',
  'role',
  'custody',
  'actor',
];

/** An action code in words; an unknown one with spaces for its dots and underscores. */
export function actionWords(code: string, lang: Lang): string {
  const words = ACTIONS[code];
  if (words) return words[lang];
  const plain = code.replace(/[._]+/g, ' ').trim();
  return plain.charAt(0).toUpperCase() + plain.slice(1);
}

/** A code-like value from the details in words where a table knows it, else with spaces for underscores. */
function valueWords(value: string, lang: Lang): string {
  for (const table of VALUE_TABLES) {
    const words = (CODES[table] as Record<string, Words>)[value];
    if (words) return words[lang];
  }
  return value.replace(/\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b/g, (code) => code.replace(/_/g, ' '));
}

/** The details as "key: value" pairs; nested values as JSON with their text leaves in words. */
function detailsText(details: Record<string, unknown>, lang: Lang): string {
  const leaf = (value: unknown): unknown =>
    typeof value === 'string'
      ? valueWords(value, lang)
      : Array.isArray(value)
        ? value.map(leaf)
        : value && typeof value === 'object'
          ? Object.fromEntries(Object.entries(value).map(([k, v]) => [valueWords(k, lang), leaf(v)]))
          : value;
  return Object.entries(details)
    .map(([key, value]) => {
      const shown = leaf(value);
      return `${valueWords(key, lang)}: ${typeof shown === 'string' ? shown : JSON.stringify(shown)}`;
    })
    .join(' · ');
}

const DAY = 86_400_000;
/** A whole configuration (config.baseline) is one entry's details: the table shows its start; the CSV has it all. */
const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max)} …` : text);

/** The audit trail for review (qa, admin): filters, the entries newest first in words, the chain's state, a CSV download. */
export function AuditView({ t, lang }: { t: Labels; lang: Lang }) {
  const w = W[lang];
  const [days, setDays] = useState(7);
  const [actor, setActor] = useState('');
  const [action, setAction] = useState('');
  const [review, setReview] = useState<AuditReview | null>(null);
  const [error, setError] = useState('');
  const query = () => {
    const q = new URLSearchParams();
    if (days > 0) q.set('from', String(Date.now() - days * DAY));
    if (actor.trim()) q.set('actor', actor.trim());
    if (action) q.set('action', action);
    return q.toString();
  };
  useEffect(() => {
    setError('');
    void api<AuditReview>(`/api/v1/audit?${query()}`)
      .then(setReview)
      .catch((err: Error) => setError(err.message));
  }, [days, actor, action]);
  const csv = () =>
    void download(`/api/v1/audit.csv?${query()}&limit=5000`, `audit-trail-${new Date().toISOString().slice(0, 10)}.csv`).catch((err: Error) =>
      setError(err.message),
    );
  const r = review;
  return html`<section class="audit">
    <h2>${t.audit}</h2>
    ${
      r
        ? r.verified.ok
          ? html`<p data-chain="ok"><span class="pill within_range">✓</span> ${w.verified(r.verified.entries)}</p>`
          : html`<p data-chain="broken" class="error" role="alert"><span class="pill excursion">✗</span> ${w.broken} ${r.verified.problem ?? ''}</p>`
        : null
    }
    <div class="filters">
      ${periodFilter(w.period, [1, 7, 30, 365, 0], days, lang, setDays)}
      <label>${w.actor} <input data-filter="actor" placeholder=${w.actorHint} value=${actor} onChange=${(e: Event) => setActor((e.target as HTMLInputElement).value)} /></label>
      <label>${w.action} <select data-filter="action" onChange=${(e: Event) => setAction((e.target as HTMLSelectElement).value)}>
        <option value="">${w.anyAction}</option>
        ${Object.keys(ACTIONS).map((code) => html`<option value=${code} selected=${code === action}>${actionWords(code, lang)}</option>`)}
      </select></label>
      <button data-action="audit-csv" onClick=${csv}>${w.csv}</button>
    </div>
    ${error ? html`<p class="error">${error}</p>` : null}
    ${
      !r
        ? error
          ? null
          : html`<p class="hint">…</p>`
        : r.entries.length === 0
          ? html`<p class="hint">${w.none}</p>`
          : html`<p class="hint">${w.shown(r.entries.length, r.matched)}</p>
          <div class="scroll"><table data-table="audit">
            <thead><tr><th>${w.seq}</th><th>${w.time}</th><th>${w.actor}</th><th>${w.printedName}</th><th>${w.action}</th><th>${w.target}</th><th>${w.details}</th></tr></thead>
            <tbody>${r.entries.map(
              (e) => html`<tr data-seq=${e.seq}>
                <td class="num">${e.seq}</td><td>${when(Date.parse(e.at))}</td>
                <td>${e.actor === 'system' ? CODES.actor.system[lang] : e.actor}</td><td>${e.printedName ?? ''}</td>
                <td data-action-code=${e.action}>${actionWords(e.action, lang)}</td><td>${e.target}</td>
                <td class="details" title=${clip(detailsText(e.details, lang), 4000)}>${clip(detailsText(e.details, lang), 300)}</td>
              </tr>`,
            )}</tbody>
          </table></div>`
    }
  </section>`;
}
