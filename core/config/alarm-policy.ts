import { z } from 'zod';
import { durationMs } from '../duration.js';
import { alertKinds, severities } from './alert-rules.js';
import { calibrationAlarmsSchema } from '../../calibration/schema.js';
import { conflictAlarmsSchema } from '../../ingestor/conflict-alarms-schema.js';
import { stabilityAlarmsSchema } from '../../stability/schema.js';

/** An NTP server as alarms.system.ntp names it: `host`, `host:port` or `[v6]:port`. */
const NTP_SERVER = /^(?:\[(?<v6>[0-9A-Fa-f:]+)\]|(?<host>[A-Za-z0-9.-]+))(?::(?<port>\d{1,5}))?$/;

/** Host and port of a server of alarms.system.ntp (port 123 by default). */
export function ntpServer(text: string): { host: string; port: number } {
  const groups = NTP_SERVER.exec(text)?.groups;
  return { host: groups?.v6 ?? groups?.host ?? text, port: groups?.port ? Number(groups.port) : 123 };
}

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
  system: z
    .object({
      enabled: z.boolean().default(true).describe('Raise alarms about the monitoring system itself (InfluxDB, spool, backup, audit trail).'),
      severity: z.enum(severities).default('major').describe('Severity of system alarms (major pages by default, see alarms.notify).'),
      influxdbAfter: durationMs.prefault('5m').describe('InfluxDB unreachable (ping and writer) this long raises the InfluxDB alarm.'),
      spoolAge: durationMs
        .prefault('15m')
        .describe('The oldest record waiting in the spool older than this raises the spool-backlog alarm (clears below half of it).'),
      spoolBytes: z
        .number()
        .int()
        .positive()
        .default(1024 * 1024 * 1024)
        .describe('Spool bytes waiting for InfluxDB above this raise the spool-full alarm (clears below 80 % of it).'),
      clearAfter: durationMs.prefault('1m').describe('A system alarm clears only after its condition has been gone this long (no flapping).'),
      ntp: z
        .array(
          z
            .string()
            .regex(NTP_SERVER, 'must be host or host:port (an IPv6 address in brackets)')
            .refine((text) => ntpServer(text).port <= 65_535, 'the port must be at most 65535'),
        )
        .default([])
        .describe(
          "NTP servers the server clock is checked against (SNTP, host or host:port, port 123 by default), in order: your site's time servers. None, or none answering: the clock is checked against the devices' clocks (median of at least 3 live devices).",
        ),
      clockTolerance: durationMs
        .prefault('1m')
        .describe('The server clock off by more than this (NTP, or the devices) raises the clock alarm (clears below half of it).'),
      clockCheckEvery: durationMs.prefault('10m').describe('How often the NTP servers are asked.'),
    })
    .prefault({})
    .describe(
      'Alarms about the monitoring system itself, raised at a `system` place of every site and sent like any other incident: InfluxDB unreachable, spool backlog or size, the daily backup failed or overdue, the audit trail broken at start, the server clock off.',
    ),
  calibration: calibrationAlarmsSchema,
  integrity: conflictAlarmsSchema,
  stability: stabilityAlarmsSchema,
});
export type AlarmPolicy = z.infer<typeof alarmsSchema>;

export const severityOrder: Record<(typeof severities)[number], number> = { info: 0, warning: 1, minor: 2, major: 3, critical: 4 };
