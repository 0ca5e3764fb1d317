import { z } from 'zod';
import type { Config } from '../core/config/schema.js';
import { Refusal } from '../core/refusal.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { Incident } from './incident.js';
import type { Attempt, Notifier } from './notifier.js';
import type { AlarmText, Lang } from './text.js';

export interface AlarmTestResult {
  siteId: string;
  at: number;
  attempts: Array<Attempt & { tier: number }>;
}
/** What a test answers: every channel and tier tried, each with its outcome. */
export const alarmTestResultSchema = z.object({
  siteId: z.string(),
  at: z.number(),
  attempts: z.array(z.object({ tier: z.number(), channel: z.enum(['email', 'webhook', 'sms']), recipient: z.string(), ok: z.boolean(), outcome: z.string() })),
});

export class AlarmTestError extends Refusal<404> {
  constructor(message: string) {
    super(message, 404);
  }
}

/** A site asked for that the registry does not know, and those it does (the alarm test's 404, the performance report's 400). */
export const noSuchSite = (siteId: string, known: readonly string[]) =>
  `no site ${JSON.stringify(siteId.slice(0, 64))}; known sites: ${known.join(', ') || 'none'}`;

/**
 * A test alarm through every channel of every tier of one site (WHO TRS 961 Annex 9: alarm
 * systems are tested periodically): one message per recipient, each outcome written to the audit
 * trail, so the record shows when the alarm path was last proven and what failed.
 */
export async function runAlarmTest(
  deps: { config: Config; notifier: Notifier; audit: AuditLog },
  siteId: string,
  actor: string,
  now = Date.now(),
): Promise<AlarmTestResult> {
  const site = deps.config.sites.find((s) => s.id === siteId);
  if (!site)
    throw new AlarmTestError(
      noSuchSite(
        siteId,
        deps.config.sites.map((s) => s.id),
      ),
    );
  const name = site.name ?? site.id;
  const when = new Date(now).toISOString().slice(0, 16).replace('T', ' ');
  const text: Record<Lang, AlarmText> = {
    en: {
      title: `TEST of the alarm system, ${name}: no action needed`,
      what: 'This is a test of the alarm channels, not an alarm.',
      where: name,
      since: `${when} UTC`,
      howFar: '—',
      action: 'No action needed. If this message was expected and arrived, the channel works.',
      trend: '—',
    },
    'zh-CN': {
      title: `报警系统测试，${name}：无需处理`,
      what: '这是报警通道的测试，不是报警。',
      where: name,
      since: `${when} UTC`,
      howFar: '—',
      action: '无需处理。如果按预期收到此消息，说明该通道工作正常。',
      trend: '—',
    },
  };
  // A stand-in incident, so every channel sends exactly what it sends for a real one.
  const incident: Incident = {
    id: `test_${siteId}_${now}`,
    siteId,
    locationId: site.locations[0]!.id,
    state: 'active',
    severity: 'info',
    headline: 'device_silent',
    kinds: [],
    deviceIds: [],
    alertIds: [],
    occurredAt: now,
    detectedAt: now,
    clearedAt: null,
    late: false,
    notify: 'page',
    acknowledged: null,
    closed: null,
    shelved: null,
    tier: 0,
    lastNotifiedAt: null,
  };
  const attempts: AlarmTestResult['attempts'] = [];
  for (const recipient of site.recipients) {
    for (const attempt of await deps.notifier.notify(incident, text, [recipient], 'test')) attempts.push({ ...attempt, tier: recipient.tier });
  }
  await deps.audit.append({
    actor,
    action: 'alarm.test',
    target: siteId,
    details: {
      attempts: attempts.map((a) => ({ tier: a.tier, channel: a.channel, recipient: a.recipient, ok: a.ok, outcome: a.outcome })),
      failed: attempts.filter((a) => !a.ok).length,
    },
  });
  return { siteId, at: now, attempts };
}
