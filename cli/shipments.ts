import { writeFileSync } from 'node:fs';
import { endpoint, call, type ServiceFlags } from './service-client.js';
import { readSignature } from './prompt.js';
import type { CustodyAnswer, DispositionAnswer, ShipmentAnswer, ShipmentList } from '../api/shipments.js';

export async function shipmentCreateCommand(
  flags: ServiceFlags & {
    id?: string;
    product: string;
    profile: string;
    batch: string;
    expiry?: string;
    quantity: string;
    unit: string;
    shipper: string;
    consignee: string;
    consigneeEmail?: string;
    consigneePhone?: string;
  },
): Promise<void> {
  const { base, headers } = endpoint(flags);
  const body = {
    ...(flags.id ? { id: flags.id } : {}),
    product: flags.product,
    profile: flags.profile,
    batch: flags.batch,
    ...(flags.expiry ? { expiry: flags.expiry } : {}),
    quantity: Number(flags.quantity),
    unit: flags.unit,
    shipper: flags.shipper,
    consignee: flags.consignee,
    ...(flags.consigneeEmail ? { consigneeEmail: flags.consigneeEmail } : {}),
    ...(flags.consigneePhone ? { consigneePhone: flags.consigneePhone } : {}),
  };
  const { shipment } = (await call(`${base}/api/v1/shipments`, { method: 'POST', headers, body: JSON.stringify(body) })) as ShipmentAnswer;
  process.stdout.write(`created shipment ${shipment.id}\n`);
}

export async function shipmentCustodyCommand(
  id: string,
  event: string,
  flags: ServiceFlags & { location?: string; at?: string; corrects?: string; note?: string; by?: string },
): Promise<void> {
  const { base, headers } = endpoint(flags);
  const body = {
    event,
    ...(flags.location ? { locationId: flags.location } : {}),
    at: flags.at ?? new Date().toISOString(),
    ...(flags.corrects ? { corrects: flags.corrects } : {}),
    ...(flags.note ? { note: flags.note } : {}),
    ...(flags.by ? { by: flags.by } : {}),
  };
  const { custody, shipment } = (await call(`${base}/api/v1/shipments/${encodeURIComponent(id)}/custody`, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
  })) as CustodyAnswer;
  process.stdout.write(
    `recorded ${custody.id}: ${event}${flags.location ? ` at ${flags.location}` : ''} ${new Date(custody.at).toISOString()}; shipment ${shipment.id} is now ${shipment.state}\n`,
  );
}

export async function shipmentListCommand(flags: ServiceFlags & { state?: string; from?: string; to?: string }): Promise<void> {
  const { base, headers } = endpoint(flags);
  const query = new URLSearchParams(Object.entries({ state: flags.state, from: flags.from, to: flags.to }).filter(([, v]) => v) as Array<[string, string]>);
  const { shipments } = (await call(`${base}/api/v1/shipments?${query}`, { headers })) as ShipmentList;
  const rows = shipments.map((s) =>
    [s.id, s.state, s.location ?? '-', s.disposition?.decision ?? 'not reviewed', `${s.product} (${s.batch})`, `→ ${s.consignee}`].join('  '),
  );
  process.stdout.write(rows.length ? `${rows.join('\n')}\n` : 'no shipments\n');
}

export async function shipmentDispositionCommand(
  id: string,
  decision: string,
  flags: ServiceFlags & { user: string; meaning: string; comment: string },
): Promise<void> {
  const { base, headers } = endpoint(flags);
  const signature = await readSignature(flags);
  const { disposition } = (await call(`${base}/api/v1/shipments/${encodeURIComponent(id)}/disposition`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ decision, ...signature }),
  })) as DispositionAnswer;
  process.stdout.write(`shipment ${id} ${decision}; signed by ${disposition.printedName} at ${new Date(disposition.at).toISOString()} — "${flags.meaning}"\n`);
}

type ReportFlags = ServiceFlags & { format: string; out?: string; lang?: string; tz?: string; signed?: boolean };

/** Fetches a report from the running service and writes it to --out (or stdout for text formats). */
async function fetchReport(path: string, flags: ReportFlags, extra: Record<string, string> = {}): Promise<void> {
  const { base, headers } = endpoint(flags);
  const query = new URLSearchParams({ format: flags.format, ...(flags.lang ? { lang: flags.lang } : {}), ...(flags.tz ? { tz: flags.tz } : {}), ...extra });
  const started = Date.now();
  process.stderr.write(`generating ${flags.format} report…\n`);
  const response = await call(`${base}${path}?${query}`, { headers }, 'raw');
  const body = Buffer.from(await (response as Response).arrayBuffer());
  if (flags.out) {
    writeFileSync(flags.out, body);
    process.stderr.write(`wrote ${flags.out} (${body.length} bytes) in ${Date.now() - started} ms\n`);
  } else if (flags.format === 'pdf') {
    throw new Error('a PDF needs --out FILE');
  } else {
    process.stdout.write(body);
  }
}

export function reportShipmentCommand(id: string, flags: ReportFlags): Promise<void> {
  // --signed: the report as the QA disposition was signed on it (issue 13, item 6).
  return fetchReport(`/api/v1/shipments/${encodeURIComponent(id)}/report`, flags, flags.signed ? { version: 'signed' } : {});
}

export function reportRecordCommand(flags: ReportFlags & { location: string; from: string; to?: string }): Promise<void> {
  return fetchReport(`/api/v1/locations/${encodeURIComponent(flags.location)}/record`, flags, { from: flags.from, ...(flags.to ? { to: flags.to } : {}) });
}

export function reportExcursionCommand(alertId: string, flags: ReportFlags): Promise<void> {
  return fetchReport(`/api/v1/alerts/${encodeURIComponent(alertId)}/report`, flags);
}
