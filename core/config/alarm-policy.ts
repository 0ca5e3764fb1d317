import { z } from 'zod';
import { durationMs } from '../duration.js';
import { alertKinds, type severities } from './alert-rules.js';

export const notifyModes = ['page', 'board', 'digest'] as const;
export type NotifyMode = (typeof notifyModes)[number];

/** Text people read, in English and Simplified Chinese; one string serves both. */
export const localizedText = z.union([z.string().min(1), z.object({ en: z.string().min(1), 'zh-CN': z.string().min(1) })]);
export type LocalizedText = z.infer<typeof localizedText>;

/**
 * Alarm management (ANSI/ISA-18.2): how each severity reaches people, what to do per kind of
 * alarm, folding of chattering alarms, and shelving limits. The defaults are what a pharma site
 * would accept: excursions and communication loss page the tiers, warnings show on the board
 * (GSP 临界值: on site) without waking anyone, informational notes go to the daily digest.
 */
export const alarmsSchema = z.object({
  /** Per severity: page (tiers, reminders), board (banner and list, no message), digest (daily e-mail). */
  notify: z
    .object({
      critical: z.enum(notifyModes).default('page'),
      major: z.enum(notifyModes).default('page'),
      minor: z.enum(notifyModes).default('board'),
      warning: z.enum(notifyModes).default('board'),
      info: z.enum(notifyModes).default('digest'),
    })
    .prefault({}),
  digestAt: z
    .string()
    .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'write a time of day as HH:MM')
    .default('08:00')
    .describe('Local time (HH:MM, in reports.timeZone) the daily digest goes to tier-1 recipients.'),
  procedures: z
    .partialRecord(z.enum(alertKinds), localizedText)
    .default({})
    .describe('What to do, per alert kind, shown with every alarm; a sensible default exists for each kind.'),
  foldWindow: durationMs.prefault('30m').describe('A rule that breaks again this soon after clearing continues the same alert (folded, counted).'),
  chatterCount: z.number().int().min(2).default(3).describe('An alert that relapses this many times within the fold window is flagged chattering.'),
  incidentMerge: durationMs.prefault('30m').describe("A new alert at a place joins the place's incident if it began this soon after the incident cleared."),
  maxShelve: durationMs.prefault('24h').describe('Longest an operator may shelve an incident (it comes back by itself).'),
});
export type AlarmPolicy = z.infer<typeof alarmsSchema>;

export const severityOrder: Record<(typeof severities)[number], number> = { info: 0, warning: 1, minor: 2, major: 3, critical: 4 };
