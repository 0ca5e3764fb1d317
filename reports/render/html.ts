import QRCode from 'qrcode';
import type { ReportLanguage } from '../schema.js';
import type { Cell, ReportDocument } from './document.js';

export const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const cell = (value: Cell) => (typeof value === 'number' ? `<td class="num">${value}</td>` : `<td>${escapeHtml(value)}</td>`);

const STYLE = `
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif;margin:0;padding:16px;color:#1b1b1b;background:#fafafa;font-size:14px}
main{max-width:1100px;margin:auto;background:#fff;padding:20px;border:1px solid #ddd}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:22px 0 8px;border-bottom:1px solid #ccc;padding-bottom:3px}
.sub{color:#555;margin-bottom:12px}
table{border-collapse:collapse;width:100%;font-size:12.5px}th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f0f3f6}td.num{text-align:right;font-variant-numeric:tabular-nums}
table.fields th{width:34%;font-weight:600}
.verdict{padding:10px 14px;border-radius:6px;font-weight:700;font-size:16px;margin:14px 0}
.verdict.ok{background:#e6f4ea;color:#17602a;border:1px solid #9bd3a8}.verdict.bad{background:#fde2e1;color:#8a1c14;border:1px solid #f1a19a}
.verdict ul{font-weight:400;font-size:13px;margin:6px 0 0}
.signature{border:2px solid #444;padding:8px 12px;border-radius:4px}
.chart svg{width:100%;height:auto}.scroll{overflow-x:auto}
.link{display:flex;gap:16px;align-items:center}.link svg{width:140px;height:140px}
p.note{color:#555;font-size:12px;margin:6px 0 0}
footer{margin-top:20px;color:#666;font-size:11px;word-break:break-all}
@media print{body{background:#fff;padding:0}main{border:0;max-width:none}h2{break-after:avoid}tr{break-inside:avoid}}
`;

/** One self-contained page: inline CSS, inline SVG chart and QR code, every string escaped. */
export async function renderHtml(doc: ReportDocument, lang: ReportLanguage): Promise<Buffer> {
  const out: string[] = [
    `<!doctype html><html lang="${lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(`${doc.title} — ${doc.subtitle}`)}</title><style>${STYLE}</style></head><body><main>`,
    `<h1>${escapeHtml(doc.title)}</h1><div class="sub">${escapeHtml(doc.subtitle)}</div>`,
  ];
  for (const block of doc.blocks) {
    switch (block.kind) {
      case 'verdict':
        out.push(
          `<div class="verdict ${block.ok ? 'ok' : 'bad'}">${escapeHtml(block.text)}${block.reasons.length ? `<ul>${block.reasons.map((r) => `<li>${escapeHtml(r)}</li>`).join('')}</ul>` : ''}</div>`,
        );
        break;
      case 'fields':
        out.push(
          `${block.heading ? `<h2>${escapeHtml(block.heading)}</h2>` : ''}<table class="fields">${block.rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th>${cell(v)}</tr>`).join('')}</table>`,
        );
        break;
      case 'table':
        out.push(`<h2>${escapeHtml(block.heading)}</h2>`);
        out.push(
          block.rows.length
            ? `<div class="scroll"><table><thead><tr>${block.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr></thead><tbody>${block.rows.map((r) => `<tr>${r.map(cell).join('')}</tr>`).join('')}</tbody></table></div>`
            : `<p>${escapeHtml(block.empty)}</p>`,
        );
        if (block.note && block.rows.length) out.push(`<p class="note">${escapeHtml(block.note)}</p>`);
        break;
      case 'chart':
        out.push(`<h2>${escapeHtml(block.heading)}</h2><div class="chart">${block.svg('sans-serif')}</div>`);
        break;
      case 'signature':
        out.push(`<h2>${escapeHtml(block.heading)}</h2>`);
        out.push(
          block.rows
            ? `<div class="signature"><table class="fields">${block.rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('')}</table></div>`
            : `<p>${escapeHtml(block.empty)}</p>`,
        );
        break;
      case 'link': {
        const qr = await QRCode.toString(block.url, { type: 'svg', margin: 1, errorCorrectionLevel: 'M' });
        out.push(
          `<h2>${escapeHtml(block.heading)}</h2><div class="link">${qr}<div><a href="${escapeHtml(block.url)}">${escapeHtml(block.url)}</a><p>${escapeHtml(block.hint)}</p></div></div>`,
        );
        break;
      }
    }
  }
  out.push(`<footer>${escapeHtml(doc.footer)}</footer></main></body></html>`);
  return Buffer.from(out.join('\n'), 'utf8');
}
