import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseYamlWith } from '../core/config/load.js';
import { recipientSchema, smsSchema, smtpSchema } from '../core/config/schema.js';
import { durationMs, parseDuration } from '../core/duration.js';

/**
 * The watchdog's own small file: which service to watch, how often, when it counts as down, and
 * whom to tell. It runs on a second host, so it cannot read the service's configuration: the
 * channels are written here in the same shapes (`notifications.smtp`, `notifications.sms`,
 * `sites[].recipients`).
 */
export const watchdogConfigSchema = z
  .object({
    url: z.url().optional().describe('The service to watch (its /healthz is polled); --url wins.'),
    name: z.string().min(1).default('coldchain').describe('How messages name the watched service, e.g. "Shanghai DC monitoring".'),
    interval: durationMs.prefault('30s').describe('Time between two checks.'),
    timeout: durationMs.prefault('5s').describe('A check that has no answer within this long failed.'),
    downAfter: z
      .union([
        z
          .number()
          .int()
          .min(1)
          .transform((checks) => ({ checks })),
        z.string().transform((text, ctx) => {
          const forMs = parseDuration(text);
          if (forMs === undefined) {
            ctx.addIssue({ code: 'custom', message: `"${text}" is neither a number of checks nor a duration; write e.g. 3 or 2m` });
            return z.NEVER;
          }
          return { forMs };
        }),
      ])
      .default({ checks: 3 })
      .describe('Down after this many failed checks in a row (a number), or after failing this long (a duration, e.g. 2m).'),
    remindEvery: durationMs.prefault('1h').describe('While it stays down, the alarm is repeated this often (one alarm per outage otherwise).'),
    smtp: smtpSchema.optional(),
    sms: smsSchema.optional(),
    recipients: z.array(recipientSchema).min(1, 'name at least one recipient (email, phone or webhook)'),
  })
  .refine((c) => c.timeout <= c.interval, { message: 'timeout must not be longer than interval', path: ['timeout'] })
  .superRefine((c, ctx) => {
    c.recipients.forEach((r, i) => {
      if (r.email && !c.smtp) ctx.addIssue({ code: 'custom', path: ['recipients', i, 'email'], message: 'an e-mail recipient needs smtp' });
      if (r.phone && !c.sms) ctx.addIssue({ code: 'custom', path: ['recipients', i, 'phone'], message: 'an SMS recipient needs sms (a provider)' });
    });
  });
export type WatchdogConfig = z.output<typeof watchdogConfigSchema>;

export function loadWatchdogConfig(file: string): WatchdogConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`watchdog file ${file}: ${(err as Error).message}`);
  }
  return parseYamlWith(watchdogConfigSchema, text, file, 'watchdog configuration');
}
