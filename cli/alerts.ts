import { call, endpoint, type ServiceFlags } from './service-client.js';
import { readSignature } from './prompt.js';
import type { AlarmTestAnswer, AlertAnswer, AlertList } from '../api/alerts.js';
import { kindLabels, severityLabels, stateLabels } from '../alerts/text.js';
import { namesFrom } from './names.js';

type AlertsFlags = ServiceFlags;

export async function alertsListCommand(flags: AlertsFlags & { state?: string; site?: string }): Promise<void> {
  const { base, headers } = endpoint(flags);
  const query = new URLSearchParams(Object.entries({ state: flags.state, site: flags.site }).filter(([, v]) => v) as Array<[string, string]>);
  const { alerts } = (await call(`${base}/api/v1/alerts?${query}`, { headers })) as AlertList;
  // Words and names, as everywhere a person reads alarms; the id stays first to act on it.
  const names = namesFrom(flags.config);
  const rows = alerts.map((a) =>
    [
      a.id,
      stateLabels[a.state].en,
      severityLabels[a.severity].en,
      kindLabels[a.kind].en,
      names.place(a.siteId, a.locationId),
      names.device(a.deviceId),
      names.time(a.occurredAt),
      a.late ? 'found late' : '',
    ]
      .join('  ')
      .trimEnd(),
  );
  process.stdout.write(rows.length ? `${rows.join('\n')}\n` : 'no alerts\n');
}

export async function alertsSignCommand(
  action: 'ack' | 'close',
  id: string,
  flags: AlertsFlags & { user: string; meaning: string; comment: string },
): Promise<void> {
  const { base, headers } = endpoint(flags);
  const signature = await readSignature(flags);
  const { alert } = (await call(`${base}/api/v1/alerts/${encodeURIComponent(id)}/${action}`, {
    method: 'POST',
    headers,
    body: JSON.stringify(signature),
  })) as AlertAnswer;
  const signed = action === 'ack' ? alert.acknowledged : alert.closed;
  process.stdout.write(
    `alert ${id} is now ${alert.state}; signed by ${signed?.printedName} at ${new Date(signed?.at ?? 0).toISOString()} — "${flags.meaning}"\n`,
  );
}

export async function alertsTestCommand(flags: AlertsFlags & { site: string }): Promise<void> {
  const { base, headers } = endpoint(flags);
  const result = (await call(`${base}/api/v1/sites/${encodeURIComponent(flags.site)}/alarm-test`, { method: 'POST', headers, body: '{}' })) as AlarmTestAnswer;
  const lines = result.attempts.map((a) => `tier ${a.tier}  ${a.channel.padEnd(7)}  ${a.ok ? 'ok    ' : 'FAILED'}  ${a.recipient}: ${a.outcome}`);
  const failed = result.attempts.filter((a) => !a.ok).length;
  process.stdout.write(
    `${lines.join('\n')}${lines.length ? '\n' : ''}test alarm for ${flags.site}: ${result.attempts.length} messages, ${failed} failed (recorded in the audit trail)\n`,
  );
  if (!result.attempts.length) process.stdout.write('the site has no recipients (sites[].recipients)\n');
  if (failed || !result.attempts.length) process.exitCode = 1;
}
