import { writeFileSync } from 'node:fs';
import { call, endpoint, type ServiceFlags } from './service-client.js';

/**
 * coldchain report epcis <shipment>: the shipment as a GS1 EPCIS 2.0 JSON-LD document, fetched
 * from the running service (GET /api/v1/shipments/:id/epcis), to --out or standard output.
 */
export async function reportEpcisCommand(id: string, flags: ServiceFlags & { out?: string; tz?: string }): Promise<void> {
  const { base, headers } = endpoint(flags);
  const query = flags.tz ? `?${new URLSearchParams({ tz: flags.tz })}` : '';
  const response = (await call(`${base}/api/v1/shipments/${encodeURIComponent(id)}/epcis${query}`, { headers }, 'raw')) as Response;
  const body = Buffer.from(await response.arrayBuffer());
  if (!flags.out) {
    process.stdout.write(body);
    return;
  }
  writeFileSync(flags.out, body);
  const events = (JSON.parse(body.toString('utf8')) as { epcisBody: { eventList: unknown[] } }).epcisBody.eventList.length;
  process.stderr.write(`wrote ${flags.out}: EPCIS 2.0 document of shipment ${id}, ${events} event(s), ${body.length} bytes\n`);
}
