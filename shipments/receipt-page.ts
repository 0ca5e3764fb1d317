import { problems } from '../core/refusal.js';
import { receiptInputSchema, type Receipt } from './schema.js';
import type { ShipmentRecord } from './book.js';
import { INVALID_LINK, ShipmentError, type ShipmentService } from './service.js';
import { escapeHtml } from '../reports/render/html.js';

/**
 * The receiver's pages on the verification link (收货验收): a form without script (the CSP allows
 * none inline) and what is on record, in English and 简体中文 together.
 */

/** Both languages on one page: the receiver may read either, and has no account to carry a choice. */
const W = {
  title: 'Receipt of goods / 收货验收',
  shipment: 'Waybill / 运单',
  product: 'Product / 品名',
  batch: 'Batch / 批号',
  quantity: 'Quantity / 数量',
  consignee: 'Consignee / 收货单位',
  decision: 'Decision / 验收结论',
  accepted: 'Accept the goods / 接收',
  refused: 'Refuse the goods / 拒收',
  temperature: 'Temperature of the goods on arrival (°C) / 到货温度（°C）',
  name: 'Your name / 收货人姓名',
  comment: 'Comment / 备注',
  submit: 'Record / 提交',
  once: 'This is recorded once and cannot be changed afterwards. / 验收结果只能提交一次，提交后不可更改。',
  recorded: 'Recorded / 已记录',
  already: 'The receipt of this shipment is on record: / 本运单的验收结果已记录：',
  at: 'Recorded at / 记录时间',
  report: 'Open the temperature record / 查看温度记录',
  invalid: 'Not recorded / 未记录',
} as const;

const decisionWords = (d: Receipt['decision']) => (d === 'accepted' ? 'Accepted / 已接收' : 'Refused / 已拒收');

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex"><title>${escapeHtml(title)}</title><style>
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC",sans-serif;margin:0;padding:16px;background:#fafafa;color:#1b1b1b}
main{max-width:640px;margin:auto;background:#fff;border:1px solid #ddd;padding:20px}h1{font-size:20px}
label{display:block;margin:12px 0 4px;font-weight:600}input[type=text],input[type=number],textarea{width:100%;box-sizing:border-box;padding:6px;font:inherit}
fieldset{border:1px solid #ccc;margin:12px 0}th{text-align:left;padding-right:12px}.note{color:#555;font-size:13px}.error{color:#8a1c14;font-weight:600}
button{margin-top:14px;padding:8px 18px;font:inherit}</style></head><body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
}

function identity(record: ShipmentRecord): string {
  const s = record.shipment;
  const rows: Array<[string, string]> = [
    [W.shipment, s.id],
    [W.product, s.product],
    [W.batch, s.batch],
    [W.quantity, `${s.quantity} ${s.unit}`],
    [W.consignee, s.consignee],
  ];
  return `<table>${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('')}</table>`;
}

function receiptTable(receipt: Receipt): string {
  const rows: Array<[string, string]> = [
    [W.decision, decisionWords(receipt.decision)],
    [W.temperature, `${receipt.arrivalTemperature} °C`],
    [W.name, receipt.name],
    [W.comment, receipt.comment || '—'],
    [W.at, new Date(receipt.at).toISOString()],
  ];
  return `<table>${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('')}</table>`;
}

function form(token: string, record: ShipmentRecord, error?: string): string {
  const action = `/verify/${encodeURIComponent(token)}/receipt`;
  return `${identity(record)}${error ? `<p class="error">${escapeHtml(error)}</p>` : ''}<form method="post" action="${escapeHtml(action)}">
<fieldset><legend>${escapeHtml(W.decision)}</legend>
<label><input type="radio" name="decision" value="accepted" required> ${escapeHtml(W.accepted)}</label>
<label><input type="radio" name="decision" value="refused"> ${escapeHtml(W.refused)}</label></fieldset>
<label for="t">${escapeHtml(W.temperature)}</label><input id="t" type="number" name="arrivalTemperature" step="0.1" min="-100" max="100" required>
<label for="n">${escapeHtml(W.name)}</label><input id="n" type="text" name="name" maxlength="100" required>
<label for="c">${escapeHtml(W.comment)}</label><textarea id="c" name="comment" maxlength="1000" rows="4"></textarea>
<p class="note">${escapeHtml(W.once)}</p><button type="submit">${escapeHtml(W.submit)}</button></form>
<p><a href="/verify/${escapeHtml(encodeURIComponent(token))}">${escapeHtml(W.report)}</a></p>`;
}

/** What a link that does not work shows (one page, so a probe learns nothing). */
const invalidLinkPage = (title: string = W.title) => page(title, `<p>${escapeHtml(INVALID_LINK)}</p>`);

/** GET …/receive: the form, or what is on record once a receipt was taken. */
const receivePage = (token: string, record: ShipmentRecord) =>
  page(W.title, record.receipt ? `${identity(record)}<p>${escapeHtml(W.already)}</p>${receiptTable(record.receipt)}` : form(token, record));

/** The form again, with what was wrong with it. */
const formPage = (token: string, record: ShipmentRecord, problems: string) => page(W.title, form(token, record, problems));

const recordedPage = (record: ShipmentRecord, receipt: Receipt) => page(W.recorded, `${identity(record)}${receiptTable(receipt)}`);

/** A receipt refused (a second one, a closed shipment), with what is on record. */
const refusedPage = (message: string, receipt: Receipt | null) =>
  page(W.invalid, `<p class="error">${escapeHtml(message)}</p>${receipt ? receiptTable(receipt) : ''}`);

/** A page and the status it is answered with. */
export type ReceiptPage = { status: number; html: string };

/** GET …/receive: the form (or what is on record); a link that does not work is the one 404 page. */
export function receiveFormPage(shipments: ShipmentService, token: string): ReceiptPage {
  const found = shipments.resolveLink(token);
  return found ? { status: 200, html: receivePage(token, found.record) } : { status: 404, html: invalidLinkPage() };
}

/** POST …/receipt from the form: a person at a form gets a page back, also when something is wrong. */
export async function receiptFromForm(shipments: ShipmentService, token: string, body: unknown): Promise<ReceiptPage> {
  const found = shipments.resolveLink(token);
  if (!found) return { status: 404, html: invalidLinkPage(W.invalid) };
  const parsed = receiptInputSchema.safeParse(body);
  if (!parsed.success) return { status: 400, html: formPage(token, found.record, problems(parsed.error).join('; ')) };
  try {
    const { record, receipt } = await shipments.receive(token, parsed.data);
    return { status: 201, html: recordedPage(record, receipt) };
  } catch (err) {
    if (!(err instanceof ShipmentError)) throw err;
    return { status: err.status, html: refusedPage(err.message, found.record.receipt) };
  }
}
