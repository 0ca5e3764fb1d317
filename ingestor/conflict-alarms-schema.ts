import { z } from 'zod';
import { durationMs } from '../core/duration.js';
import { severities } from '../core/config/alert-rules.js';

export const conflictAlarmsSchema = z
  .object({
    enabled: z.boolean().default(true).describe('Raise reading_conflict when a sensor sends a different reading for a device time already stored.'),
    severity: z.enum(severities).default('major').describe('Severity of reading_conflict (major: pages QA, see alarms.notify).'),
    quietAfter: durationMs
      .prefault('15m')
      .describe("The alarm clears this long after the sensor's last conflicting reading (it stays unacknowledged until QA signs it)."),
  })
  .prefault({})
  .describe("Data-integrity alarms, raised to QA at the `system` place of the sensor's site.");
export type ConflictAlarmsConfig = z.infer<typeof conflictAlarmsSchema>;
