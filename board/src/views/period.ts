import { html } from 'htm/preact';
import type { Lang } from '../i18n.js';

/** The periods a view can be filtered to, by days back from now (0: everything). */
const PERIODS: Record<Lang, Record<number, string>> = {
  en: { 1: 'last 24 hours', 7: 'last 7 days', 30: 'last 30 days', 365: 'last 12 months', 0: 'everything' },
  'zh-CN': { 1: '最近24小时', 7: '最近7天', 30: '最近30天', 365: '最近12个月', 0: '全部' },
};

/** A view's period filter: `label` and a select of `choices` (days back, 0: everything); `onDays` gets the one picked. */
export function periodFilter(label: string, choices: number[], days: number, lang: Lang, onDays: (days: number) => void) {
  return html`<label>${label} <select data-filter="days" onChange=${(e: Event) => onDays(Number((e.target as HTMLSelectElement).value))}>
        ${choices.map((d) => html`<option value=${d} selected=${d === days}>${PERIODS[lang][d]}</option>`)}
      </select></label>`;
}
