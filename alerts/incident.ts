import { z } from 'zod';
import { alertKinds, severities } from '../core/config/alert-rules.js';
import { eventTrailFields } from './book.js';
import { signatureRecordSchema } from '../audit/e-signature.js';
import { signatureInput } from '../audit/signature-record.js';
import { alarmTextSchema } from './text.js';

export const incidentStates = ['active', 'acknowledged', 'cleared', 'closed'] as const;

/** Who shelved an incident's alarms, why, and until when (ISA-18.2: audited and time-limited). */
export const shelfSchema = z.object({
  by: z.string(),
  printedName: z.string(),
  at: z.number(),
  until: z.number(),
  reason: z.string(),
});
export type Shelf = z.infer<typeof shelfSchema>;

/**
 * What people are alarmed about: one condition at one place, however many of its sensors see
 * it and whichever rules they break (ISA-18.2: one event, one alarm). The per-sensor alerts stay
 * on record as its members.
 */
export const incidentSchema = z.object({
  id: z.string(),
  siteId: z.string(),
  locationId: z.string(),
  state: z.enum(incidentStates),
  /** The highest severity among its alerts. */
  severity: z.enum(severities),
  /** The member kind that says most about what happened (an excursion before its warning). */
  headline: z.enum(alertKinds),
  kinds: z.array(z.enum(alertKinds)),
  deviceIds: z.array(z.string()),
  alertIds: z.array(z.string()),
  /** Device time the first member's condition began. */
  occurredAt: z.number(),
  /** Processing time the incident was raised. */
  detectedAt: z.number(),
  /** Device time the last member cleared; null while any member is active. */
  clearedAt: z.number().nullable(),
  /** Found well after it happened (store-and-forward upload). */
  late: z.boolean(),
  /** How people are told, from the notification policy: page (tiers), board only, or the daily digest. */
  notify: z.enum(['page', 'board', 'digest']),
  acknowledged: signatureRecordSchema.nullable(),
  closed: signatureRecordSchema.nullable(),
  shelved: shelfSchema.nullable(),
  /** Highest escalation tier notified so far (0: none yet). */
  tier: z.number(),
  lastNotifiedAt: z.number().nullable(),
});
export type Incident = z.infer<typeof incidentSchema>;

export const incidentEventTypes = [
  'raised',
  'updated',
  'acknowledged',
  'cleared',
  'reopened',
  'closed',
  'shelved',
  'unshelved',
  'notified',
  'notification_failed',
  'escalated',
  'digested',
] as const;

/** One transition or notification of an incident, as stored in InfluxDB (`incident_events`). */
export const incidentEventSchema = z.object({
  incidentId: z.string(),
  event: z.enum(incidentEventTypes),
  /** The incident as it was right after this event. */
  incident: incidentSchema,
  ...eventTrailFields,
});
export type IncidentEvent = z.infer<typeof incidentEventSchema>;

/** An incident as people see it (AlertService.view): with the names of its place and site and its text in both languages. */
export const incidentViewSchema = incidentSchema.extend({
  siteName: z.string(),
  locationName: z.string(),
  text: z.object({ en: alarmTextSchema, 'zh-CN': alarmTextSchema }),
});
export type IncidentView = z.infer<typeof incidentViewSchema>;

/** What acknowledging, closing or unshelving an alert or incident takes: an e-signature. */
export const alarmSignatureInputSchema = signatureInput('"acknowledged" or "corrective action taken"');
/** Shelving also says for how long (at most alarms.maxShelve). */
export const shelveInputSchema = alarmSignatureInputSchema.extend({ duration: z.string().min(1, 'say how long, e.g. 2h (at most alarms.maxShelve)') });
