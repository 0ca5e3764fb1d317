import { existsSync, readFileSync } from 'node:fs';
import * as fontkit from 'fontkit';
import PDFDocument from 'pdfkit';
import QRCode from 'qrcode';
import SVGtoPDF from 'svg-to-pdfkit';
import type { Cell, ReportDocument } from './document.js';

/** Debian's fonts-wqy-microhei: CJK glyphs (pdfkit's built-in fonts have none) and Latin alike. */
export const CJK_FONT_FILE = '/usr/share/fonts/truetype/wqy/wqy-microhei.ttc';
const CJK_FONT_NAME = 'WenQuanYiMicroHei';
const CJK = /[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]/;

/**
 * The font parsed once per process (each report worker keeps it): pdfkit given the file's bytes
 * parses its tables again for every document, which was most of a PDF's font embedding
 * (`end()` of a page of CJK text: 100–170 ms with the bytes, 7–40 ms with the parsed font).
 */
let cjkFont: fontkit.Font | undefined;
function loadCjkFont(): fontkit.Font | undefined {
  if (!cjkFont && existsSync(CJK_FONT_FILE)) cjkFont = fontkit.create(readFileSync(CJK_FONT_FILE), CJK_FONT_NAME);
  return cjkFont;
}

const PAGE = { width: 841.89, height: 595.28, margin: 36 };
const COLOURS = { text: '#1b1b1b', muted: '#555555', rule: '#bbbbbb', header: '#e9eef3', ok: '#17602a', okBg: '#e6f4ea', bad: '#8a1c14', badBg: '#fde2e1' };

function documentText(doc: ReportDocument): string {
  return JSON.stringify(doc.blocks.map((b) => ('svg' in b ? b.heading : b))) + doc.title + doc.subtitle;
}

/**
 * A4 landscape, vector throughout (the chart through svg-to-pdfkit, the QR code as squares),
 * "page x of y" and the digest on every page. Long tables run over as many pages as they need,
 * with their header repeated.
 */
export async function renderPdf(report: ReportDocument, meta: { title: string; lang: string }): Promise<Buffer> {
  const font = loadCjkFont();
  if (!font && (meta.lang === 'zh-CN' || CJK.test(documentText(report)))) {
    throw new Error(
      `the PDF needs a CJK font and ${CJK_FONT_FILE} is missing; install the Debian package fonts-wqy-microhei (apt-get install fonts-wqy-microhei)`,
    );
  }
  const pdf = new PDFDocument({
    size: 'A4',
    layout: 'landscape',
    margin: PAGE.margin,
    bufferPages: true,
    info: { Title: meta.title, Author: 'coldchain', Creator: 'coldchain-telemetry', CreationDate: new Date() },
    lang: meta.lang,
  });
  const chunks: Buffer[] = [];
  pdf.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => {
    pdf.on('end', resolve);
    pdf.on('error', reject);
  });
  const fontName = font ? 'cjk' : 'Helvetica';
  // pdfkit takes a fontkit font as it is (PDFFontFactory.open); its types know only file sources.
  if (font) pdf.registerFont('cjk', font as unknown as Buffer, CJK_FONT_NAME);
  pdf.font(fontName);

  const left = PAGE.margin;
  const usable = PAGE.width - 2 * PAGE.margin;
  const bottom = PAGE.height - PAGE.margin - 22;
  const ensure = (height: number) => {
    if (pdf.y + height > bottom) pdf.addPage();
  };
  /** A heading never ends a page: it moves along with the first `need` points of what it heads. */
  const heading = (text: string, need = 60) => {
    ensure(30 + need);
    pdf.moveDown(0.6).fontSize(12).fillColor(COLOURS.text).text(text, left, pdf.y, { width: usable });
    pdf
      .moveTo(left, pdf.y + 1)
      .lineTo(left + usable, pdf.y + 1)
      .lineWidth(0.5)
      .strokeColor(COLOURS.rule)
      .stroke();
    pdf.moveDown(0.3);
  };
  const format = (cell: Cell) => (typeof cell === 'number' ? String(cell) : cell);

  pdf.fontSize(18).fillColor(COLOURS.text).text(report.title, left, PAGE.margin, { width: usable });
  pdf.fontSize(10).fillColor(COLOURS.muted).text(report.subtitle, { width: usable });
  pdf.moveDown(0.5);

  for (const block of report.blocks) {
    switch (block.kind) {
      case 'fields': {
        if (block.heading) heading(block.heading);
        pdf.fontSize(9);
        for (const [key, value] of block.rows) {
          const text = format(value);
          const h = Math.max(pdf.heightOfString(key, { width: 200 }), pdf.heightOfString(text, { width: usable - 210 })) + 3;
          ensure(h);
          const y = pdf.y;
          pdf.fillColor(COLOURS.muted).text(key, left, y, { width: 200 });
          pdf.fillColor(COLOURS.text).text(text, left + 210, y, { width: usable - 210 });
          pdf.y = y + h;
        }
        break;
      }
      case 'verdict': {
        pdf.fontSize(13);
        const lines = [block.text, ...block.reasons.map((r) => `• ${r}`)];
        const h = lines.reduce((sum, l, i) => sum + pdf.fontSize(i ? 9 : 13).heightOfString(l, { width: usable - 20 }), 0) + 14;
        ensure(h + 8);
        pdf.moveDown(0.4);
        const y = pdf.y;
        pdf.rect(left, y, usable, h).fillAndStroke(block.ok ? COLOURS.okBg : COLOURS.badBg, block.ok ? COLOURS.ok : COLOURS.bad);
        pdf
          .fillColor(block.ok ? COLOURS.ok : COLOURS.bad)
          .fontSize(13)
          .text(block.text, left + 10, y + 7, { width: usable - 20 });
        pdf.fontSize(9);
        for (const reason of block.reasons) pdf.text(`• ${reason}`, { width: usable - 20 });
        pdf.y = y + h + 4;
        break;
      }
      case 'chart': {
        const height = 250;
        heading(block.heading, height);
        const { svg, polylines } = splitPolylines(block.svg(fontName));
        const top = pdf.y;
        SVGtoPDF(pdf, svg, left, top, { width: usable, height, preserveAspectRatio: 'xMinYMin meet', fontCallback: () => fontName });
        drawPolylines(pdf, polylines, svg, left, top, usable, height);
        pdf.y = top + height + 4;
        break;
      }
      case 'table':
        heading(block.heading);
        drawTable(
          pdf,
          block.columns,
          block.rows.map((r) => r.map(format)),
          block.empty,
          block.widths,
          { left, usable, bottom },
        );
        if (block.note && block.rows.length) {
          pdf.fontSize(8);
          ensure(pdf.heightOfString(block.note, { width: usable }) + 6);
          pdf.fillColor(COLOURS.muted).text(block.note, left, pdf.y + 3, { width: usable });
        }
        break;
      case 'signature': {
        heading(block.heading);
        pdf.fontSize(9);
        if (!block.rows) {
          pdf.fillColor(COLOURS.muted).text(block.empty, left, pdf.y, { width: usable });
          break;
        }
        const h = block.rows.reduce((sum, [, v]) => sum + pdf.heightOfString(v, { width: usable - 230 }) + 3, 0) + 10;
        ensure(h);
        const top = pdf.y;
        pdf.rect(left, top, usable, h).lineWidth(1.2).strokeColor(COLOURS.text).stroke();
        let y = top + 5;
        for (const [key, value] of block.rows) {
          pdf.fillColor(COLOURS.muted).text(key, left + 8, y, { width: 200 });
          pdf.fillColor(COLOURS.text).text(value, left + 218, y, { width: usable - 230 });
          y += pdf.heightOfString(value, { width: usable - 230 }) + 3;
        }
        pdf.y = top + h + 4;
        break;
      }
      case 'link': {
        const size = 110;
        heading(block.heading, size + 10);
        const top = pdf.y;
        drawQr(pdf, block.url, left, top, size);
        pdf
          .fontSize(9)
          .fillColor(COLOURS.text)
          .text(block.url, left + size + 14, top + 10, { width: usable - size - 14, link: block.url, underline: true });
        pdf.fillColor(COLOURS.muted).text(block.hint, { width: usable - size - 14 });
        pdf.y = top + size + 6;
        break;
      }
    }
  }

  const range = pdf.bufferedPageRange();
  for (let i = 0; i < range.count; i++) {
    pdf.switchToPage(range.start + i);
    const page = meta.lang === 'zh-CN' ? `第 ${i + 1} 页，共 ${range.count} 页` : `Page ${i + 1} of ${range.count}`;
    // Writing below the bottom margin would make pdfkit start a new page: lift it for the footer.
    const margin = pdf.page.margins.bottom;
    pdf.page.margins.bottom = 0;
    pdf
      .fontSize(7)
      .fillColor(COLOURS.muted)
      .text(report.footer, left, PAGE.height - PAGE.margin - 14, { width: usable - 110, lineBreak: false, ellipsis: true, height: 10 });
    pdf.text(page, left + usable - 100, PAGE.height - PAGE.margin - 14, { width: 100, align: 'right', lineBreak: false });
    pdf.page.margins.bottom = margin;
  }
  pdf.end();
  await done;
  return Buffer.concat(chunks);
}

function drawTable(
  pdf: PDFKit.PDFDocument,
  columns: string[],
  rows: string[][],
  empty: string,
  weights: number[] | undefined,
  box: { left: number; usable: number; bottom: number },
) {
  pdf.fontSize(8);
  if (!rows.length) {
    pdf.fillColor(COLOURS.muted).text(empty, box.left, pdf.y, { width: box.usable });
    return;
  }
  const w = weights ?? columns.map(() => 1);
  const total = w.reduce((a, b) => a + b, 0);
  const widths = w.map((x) => (x / total) * box.usable);
  const xs = widths.map((_, i) => box.left + widths.slice(0, i).reduce((a, b) => a + b, 0));
  const pad = 2.5;
  // Thousands of short rows (a month of GSP records) are drawn on one line each without
  // measuring; tables with free text (comments, signatures) wrap and are measured.
  const fast = rows.length > 300;
  const lineHeight = pdf.currentLineHeight(true) + 2 * pad;
  const rowHeight = (cells: string[]) =>
    fast ? lineHeight : Math.max(...cells.map((c, i) => pdf.heightOfString(c, { width: widths[i]! - 2 * pad }))) + 2 * pad;
  const header = () => {
    const h = rowHeight(columns);
    const y = pdf.y;
    pdf.rect(box.left, y, box.usable, h).fill(COLOURS.header);
    pdf.fillColor(COLOURS.text);
    columns.forEach((c, i) => pdf.text(c, xs[i]! + pad, y + pad, { width: widths[i]! - 2 * pad, ...(fast ? { lineBreak: false, height: lineHeight } : {}) }));
    pdf.y = y + h;
  };
  if (pdf.y + 2 * lineHeight > box.bottom) pdf.addPage();
  header();
  rows.forEach((cells, r) => {
    const h = rowHeight(cells);
    if (pdf.y + h > box.bottom) {
      pdf.addPage();
      header();
    }
    const y = pdf.y;
    if (r % 2) pdf.rect(box.left, y, box.usable, h).fill('#f7f7f7');
    pdf.fillColor(COLOURS.text);
    cells.forEach((c, i) => pdf.text(c, xs[i]! + pad, y + pad, { width: widths[i]! - 2 * pad, ...(fast ? { lineBreak: false, height: lineHeight } : {}) }));
    pdf.y = y + h;
  });
  pdf.x = box.left;
}

/** The QR code as vector squares, so it prints sharp at any size. */
function drawQr(pdf: PDFKit.PDFDocument, url: string, x: number, y: number, size: number) {
  const qr = QRCode.create(url, { errorCorrectionLevel: 'M' });
  const n = qr.modules.size;
  const quiet = 2;
  const cell = size / (n + 2 * quiet);
  pdf.rect(x, y, size, size).fill('#ffffff');
  for (let row = 0; row < n; row++) {
    for (let col = 0; col < n; col++) {
      if (qr.modules.get(row, col)) pdf.rect(x + (col + quiet) * cell, y + (row + quiet) * cell, cell + 0.05, cell + 0.05);
    }
  }
  pdf.fill('#000000');
}

/**
 * The chart's series (one `<path>` each, hundreds of points) drawn straight with pdfkit: through
 * svg-to-pdfkit they were most of a 30-day report's PDF time (the path strings parsed into shape
 * objects). The rest of the chart still goes through svg-to-pdfkit. The series are the chart's
 * only paths and come after everything in the plot, the legend below it aside, so drawing them
 * last stacks them as before; stroke settings are svg-to-pdfkit's for them (SVG defaults).
 */
const SERIES_PATH = /<path d="([^"]*)" fill="none" stroke="(#[0-9a-fA-F]{6})" stroke-width="([0-9.]+)"\/>/g;

interface Polyline {
  colour: string;
  width: number;
  points: number[];
}

export function splitPolylines(svg: string): { svg: string; polylines: Polyline[] } {
  const polylines: Polyline[] = [];
  const rest = svg.replace(SERIES_PATH, (_, d: string, colour: string, width: string) => {
    const points: number[] = [];
    // `M x y` then `L x y` …, as chart-svg.ts writes them.
    for (const step of d.split(/[ML]/)) {
      if (!step) continue;
      const space = step.indexOf(' ');
      points.push(Number(step.slice(0, space)), Number(step.slice(space + 1)));
    }
    polylines.push({ colour, width: Number(width), points });
    return '';
  });
  return { svg: rest, polylines };
}

function drawPolylines(pdf: PDFKit.PDFDocument, polylines: Polyline[], svg: string, left: number, top: number, width: number, height: number): void {
  const box = /viewBox="0 0 ([0-9.]+) ([0-9.]+)"/.exec(svg);
  if (!box || !polylines.length) return;
  // preserveAspectRatio xMinYMin meet: one scale, anchored at the top left.
  const scale = Math.min(width / Number(box[1]), height / Number(box[2]));
  pdf.save();
  pdf.transform(scale, 0, 0, scale, left, top);
  // Clipped to the viewport, as svg-to-pdfkit clips the whole chart.
  pdf.rect(0, 0, width / scale, height / scale).clip();
  for (const { colour, width: lineWidth, points } of polylines) {
    let length = 0;
    for (let i = 2; i < points.length; i += 2) length += Math.hypot(points[i]! - points[i - 2]!, points[i + 1]! - points[i - 1]!);
    // A path of no length draws nothing with butt caps (svg-to-pdfkit skips it too).
    if (length === 0) continue;
    // The state first: PDF allows no state change between a path's construction and its painting.
    pdf.strokeColor(colour).lineWidth(lineWidth).miterLimit(4).lineJoin('miter').lineCap('butt').undash();
    pdf.moveTo(points[0]!, points[1]!);
    for (let i = 2; i < points.length; i += 2) pdf.lineTo(points[i]!, points[i + 1]!);
    pdf.stroke();
  }
  pdf.restore();
}
