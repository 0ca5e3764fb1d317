import type { Cell, ReportDocument } from './document.js';
import { LABELS } from './i18n.js';
import { redactRecipient, redactUrls } from '../../alerts/redact.js';

/** The event table's recipient and outcome columns, in either language. */
const RECIPIENT_HEADERS = new Set(Object.values(LABELS).map((l) => l.recipient));
const OUTCOME_HEADERS = new Set(Object.values(LABELS).map((l) => l.outcome));

/**
 * A table's rows with recipients' webhook keys and phone numbers redacted (issue 12, item 14):
 * events recorded before the notifier kept them redacted still hold them, and a CSV goes to
 * whoever asked for the report, viewers included.
 */
function redactedRows(columns: string[], rows: Cell[][]): Cell[][] {
  const recipient = columns.findIndex((c) => RECIPIENT_HEADERS.has(c));
  const outcome = columns.findIndex((c) => OUTCOME_HEADERS.has(c));
  if (recipient < 0 && outcome < 0) return rows;
  return rows.map((row) =>
    row.map((cell, i) => (typeof cell !== 'string' ? cell : i === recipient ? redactRecipient(cell) : i === outcome ? redactUrls(cell) : cell)),
  );
}

/**
 * A text cell that a spreadsheet would run as a formula gets a leading apostrophe (OWASP's
 * advice for CSV injection); numbers are written as numbers, so −18.5 stays a number.
 */
export function csvCell(cell: Cell): string {
  if (typeof cell === 'number') return Number.isFinite(cell) ? String(cell) : '';
  const defused = /^[=+\-@\t\r]/.test(cell) ? `'${cell}` : cell;
  return /[",\r\n']/.test(defused) || defused !== cell ? `"${defused.replace(/"/g, '""')}"` : defused;
}

const line = (cells: Cell[]) => cells.map(csvCell).join(',');

/** UTF-8 with a BOM (so spreadsheets read Chinese labels right), CRLF lines per RFC 4180. */
export function renderCsv(doc: ReportDocument): Buffer {
  const lines: string[] = [line([doc.title]), line([doc.subtitle])];
  for (const block of doc.blocks) {
    lines.push('');
    switch (block.kind) {
      case 'verdict':
        lines.push(line([block.text]), ...block.reasons.map((r) => line(['', r])));
        break;
      case 'fields':
        if (block.heading) lines.push(line([block.heading]));
        lines.push(...block.rows.map(([k, v]) => line([k, v])));
        break;
      case 'table':
        lines.push(
          line([block.heading]),
          line(block.columns),
          ...(block.rows.length ? redactedRows(block.columns, block.rows).map(line) : [line([block.empty])]),
        );
        if (block.note && block.rows.length) lines.push(line([block.note]));
        break;
      case 'signature':
        lines.push(line([block.heading]), ...(block.rows ? block.rows.map(([k, v]) => line([k, v])) : [line([block.empty])]));
        break;
      case 'link':
        lines.push(line([block.heading, block.url]), line(['', block.hint]));
        break;
      case 'chart':
        lines.pop(); // a chart has no place in a CSV; its data are the tables
        break;
    }
  }
  lines.push('', line([doc.footer]));
  return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`${lines.join('\r\n')}\r\n`, 'utf8')]);
}
