import type { ChartSeries, Excursion } from '../schema.js';
import type { Formatter } from './i18n.js';

export interface ChartInput {
  series: ChartSeries[];
  from: number;
  to: number;
  range: { min: number; max: number };
  excursions: Excursion[];
  /** Custody changes, drawn as dashed lines. */
  boundaries?: number[];
}

const COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22', '#d62728'];

const escapeXml = (text: string) => text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * A temperature chart as plain SVG with inline attributes only (no CSS, no scripts), so the same
 * string serves the HTML page and, through svg-to-pdfkit, the PDF as vectors.
 */
export function chartSvg(input: ChartInput, format: Formatter, fontFamily: string, width = 760, height = 300): string {
  const margin = { left: 52, right: 12, top: 12, bottom: 52 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  let low = input.range.min;
  let high = input.range.max;
  for (const s of input.series)
    for (const [, v] of s.points) {
      if (v < low) low = v;
      if (v > high) high = v;
    }
  const pad = Math.max(0.5, (high - low) * 0.08);
  low -= pad;
  high += pad;
  const span = Math.max(1, input.to - input.from);
  const x = (t: number) => margin.left + ((t - input.from) / span) * plotW;
  const y = (v: number) => margin.top + (1 - (v - low) / (high - low)) * plotH;
  const r = (n: number) => n.toFixed(1);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${escapeXml(fontFamily)}" font-size="9">`,
  ];
  parts.push(`<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="#ffffff" stroke="#999999" stroke-width="0.5"/>`);
  // The acceptable range, then what left it.
  parts.push(`<rect x="${margin.left}" y="${r(y(input.range.max))}" width="${plotW}" height="${r(y(input.range.min) - y(input.range.max))}" fill="#e6f4ea"/>`);
  for (const e of input.excursions) {
    const x1 = Math.max(margin.left, x(e.start));
    const x2 = Math.min(margin.left + plotW, x(e.end));
    if (x2 > x1) parts.push(`<rect x="${r(x1)}" y="${margin.top}" width="${r(Math.max(1, x2 - x1))}" height="${plotH}" fill="#fde2e1"/>`);
  }
  for (const limit of [input.range.min, input.range.max]) {
    parts.push(`<line x1="${margin.left}" y1="${r(y(limit))}" x2="${margin.left + plotW}" y2="${r(y(limit))}" stroke="#d62728" stroke-width="0.8"/>`);
    parts.push(`<text x="${margin.left + plotW - 2}" y="${r(y(limit) - 2)}" text-anchor="end" fill="#d62728">${limit} °C</text>`);
  }
  for (let i = 0; i <= 5; i++) {
    const v = low + ((high - low) * i) / 5;
    parts.push(`<line x1="${margin.left - 3}" y1="${r(y(v))}" x2="${margin.left}" y2="${r(y(v))}" stroke="#666666" stroke-width="0.5"/>`);
    parts.push(`<text x="${margin.left - 5}" y="${r(y(v) + 3)}" text-anchor="end" fill="#333333">${v.toFixed(1)}</text>`);
  }
  for (let i = 0; i <= 5; i++) {
    const t = input.from + (span * i) / 5;
    const anchor = i === 0 ? 'start' : i === 5 ? 'end' : 'middle';
    parts.push(`<line x1="${r(x(t))}" y1="${margin.top + plotH}" x2="${r(x(t))}" y2="${margin.top + plotH + 3}" stroke="#666666" stroke-width="0.5"/>`);
    parts.push(`<text x="${r(x(t))}" y="${margin.top + plotH + 13}" text-anchor="${anchor}" fill="#333333">${escapeXml(format.date(t))}</text>`);
    parts.push(`<text x="${r(x(t))}" y="${margin.top + plotH + 23}" text-anchor="${anchor}" fill="#333333">${escapeXml(format.time(t).slice(0, 5))}</text>`);
  }
  for (const b of input.boundaries ?? []) {
    parts.push(
      `<line x1="${r(x(b))}" y1="${margin.top}" x2="${r(x(b))}" y2="${margin.top + plotH}" stroke="#555555" stroke-width="0.8" stroke-dasharray="4,3"/>`,
    );
  }
  const devices = [...new Set(input.series.map((s) => s.deviceId))];
  for (const s of input.series) {
    if (!s.points.length) continue;
    const colour = COLOURS[devices.indexOf(s.deviceId) % COLOURS.length];
    const path = s.points.map(([t, v], i) => `${i ? 'L' : 'M'}${r(x(t))} ${r(y(v))}`).join('');
    parts.push(`<path d="${path}" fill="none" stroke="${colour}" stroke-width="0.9"/>`);
  }
  devices.forEach((device, i) => {
    const lx = margin.left + (i % 5) * (plotW / 5);
    const ly = height - 12 + Math.floor(i / 5) * 10 - (devices.length > 5 ? 8 : 0);
    parts.push(`<line x1="${r(lx)}" y1="${ly - 3}" x2="${r(lx + 14)}" y2="${ly - 3}" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="2"/>`);
    parts.push(`<text x="${r(lx + 18)}" y="${ly}" fill="#333333">${escapeXml(device)}</text>`);
  });
  parts.push(`<text x="4" y="${margin.top + 8}" fill="#333333">°C</text>`);
  parts.push('</svg>');
  return parts.join('');
}
