import { z } from 'zod';
import { durationMs } from '../core/duration.js';
import { signatureInput } from '../audit/signature-record.js';

/** A calendar date (a UTC day) or an instant with its offset, e.g. 2026-06-01 or 2026-06-01T09:30:00+08:00. */
export const calibrationDate = z.union([z.iso.date(), z.iso.datetime({ offset: true })], {
  error: 'write a date as YYYY-MM-DD (a UTC day) or an instant with its offset, e.g. 2026-06-01T09:30:00+08:00',
});

/** When a certificate starts to count: its calibration date (a date: that UTC day's start). */
export const validFrom = (cert: { calibratedAt: string }): number =>
  cert.calibratedAt.length === 10 ? Date.parse(`${cert.calibratedAt}T00:00:00Z`) : Date.parse(cert.calibratedAt);

/** When it stops counting: the due date (a date: the end of that UTC day, i.e. the next day's start). */
export const validTo = (cert: { dueAt: string }): number =>
  cert.dueAt.length === 10 ? Date.parse(`${cert.dueAt}T00:00:00Z`) + 86_400_000 : Date.parse(cert.dueAt);

export const measuredQuantities = ['temperature', 'humidity'] as const;

/**
 * One calibration point as the laboratory found it: the reference (standard) value, what the
 * sensor read, and the error found (reading − reference; computed when the certificate leaves it
 * out). Values are recorded, never applied: readings are not offset by them.
 */
export const calibrationPointSchema = z
  .object({
    quantity: z.enum(measuredQuantities).default('temperature'),
    reference: z.number().describe('Value of the reference standard, °C or %RH.'),
    reading: z.number().describe('What the sensor read at that point.'),
    error: z.number().optional().describe('Error found (reading − reference) as the certificate states it; computed when absent.'),
  })
  .superRefine((p, ctx) => {
    if (p.error !== undefined && Math.abs(p.error - (p.reading - p.reference)) > 0.0051)
      ctx.addIssue({
        code: 'custom',
        path: ['error'],
        message: `error ${p.error} does not match reading − reference = ${Number((p.reading - p.reference).toFixed(3))}; copy the certificate's figures as they are`,
      });
  });

/**
 * A calibration certificate (校准证书) of one sensor. Certificates are only ever added: a wrong
 * one is corrected by a new entry naming it in `supersedes` (the old one stays on record).
 */
export const certificateSchema = z.object({
  number: z.string().trim().min(1).max(100).describe('Certificate number, unique per sensor.'),
  laboratory: z.string().trim().min(1).max(200).describe('The calibration laboratory (accredited, e.g. CNAS).'),
  calibratedAt: calibrationDate.describe('Date of calibration: the certificate is valid from then.'),
  dueAt: calibrationDate.describe('Next calibration due: the certificate is valid through this day.'),
  points: z.array(calibrationPointSchema).min(1, 'a certificate lists at least one calibration point').max(50),
  supersedes: z.string().trim().min(1).max(100).optional().describe('Number of an earlier certificate of this sensor this one corrects or replaces.'),
  note: z.string().trim().max(500).optional(),
  recordedBy: z.string().optional().describe('Who recorded it (printed name of the signer, through the API or CLI).'),
  recordedAt: z.iso.datetime({ offset: true }).optional(),
});

/** The sensor as calibrated: model, serial, declared accuracy, and its certificates (devices[].calibration). */
export const sensorCalibrationSchema = z
  .object({
    model: z.string().trim().min(1).max(100),
    serial: z.string().trim().min(1).max(100),
    accuracy: z
      .object({
        temperature: z.number().positive().describe("Declared accuracy, ± °C, over the place's range (the maker's data sheet)."),
        humidity: z.number().positive().optional().describe('Declared accuracy, ± %RH, for sensors that measure humidity.'),
      })
      .describe('Declared accuracy, checked against GSP: ±0.5 °C in 0–40 °C, ±1.0 °C in −25–0 °C, ±5 %RH.'),
    certificates: z.array(certificateSchema).default([]),
  })
  .superRefine((c, ctx) => {
    const numbers = new Map<string, number>();
    c.certificates.forEach((cert, i) => {
      if (numbers.has(cert.number))
        ctx.addIssue({
          code: 'custom',
          path: ['certificates', i, 'number'],
          message: `certificate "${cert.number}" is already certificates[${numbers.get(cert.number)}]; a correction is a new certificate naming it in supersedes`,
        });
      numbers.set(cert.number, i);
      if (cert.supersedes !== undefined && !c.certificates.slice(0, i).some((x) => x.number === cert.supersedes))
        ctx.addIssue({ code: 'custom', path: ['certificates', i, 'supersedes'], message: `no earlier certificate "${cert.supersedes}" of this sensor` });
      if (validTo(cert) <= validFrom(cert))
        ctx.addIssue({ code: 'custom', path: ['certificates', i, 'dueAt'], message: `due ${cert.dueAt} is before the calibration date ${cert.calibratedAt}` });
    });
  });

/** alarms.calibration: when calibration_due and calibration_overdue are raised, and how loud. */
export const calibrationAlarmsSchema = z
  .object({
    enabled: z.boolean().default(true).describe('Raise calibration_due and calibration_overdue for sensors with calibration on file.'),
    dueLead: durationMs.prefault('30d').describe('calibration_due is raised this long before the certificate runs out.'),
    dueSeverity: z.enum(['info', 'warning', 'minor', 'major', 'critical']).default('warning').describe('Severity of calibration_due (warning: on the board).'),
    overdueSeverity: z
      .enum(['info', 'warning', 'minor', 'major', 'critical'])
      .default('major')
      .describe('Severity of calibration_overdue (major: pages, see alarms.notify).'),
  })
  .prefault({})
  .describe("Calibration alarms, raised at the `system` place of the sensor's site.");

/** POST /api/v1/calibration/:deviceId/certificates: the certificate, signed; model/serial/accuracy set the sensor's identity (first certificate, or a changed sensor). */
export const certificateInputSchema = signatureInput('"calibration certificate checked against the original"').extend({
  certificate: certificateSchema.omit({ recordedBy: true, recordedAt: true }),
  sensor: z
    .object({
      model: z.string().trim().min(1).max(100),
      serial: z.string().trim().min(1).max(100),
      accuracy: z.object({ temperature: z.number().positive(), humidity: z.number().positive().optional() }),
    })
    .optional(),
});

export const calibrationStates = ['valid', 'due', 'overdue', 'failed', 'none'] as const;
export type CalibrationState = (typeof calibrationStates)[number];

export type CalibrationPoint = z.infer<typeof calibrationPointSchema>;
export type Certificate = z.infer<typeof certificateSchema>;
export type SensorCalibration = z.infer<typeof sensorCalibrationSchema>;
export type CalibrationAlarms = z.infer<typeof calibrationAlarmsSchema>;
export type CertificateInput = z.infer<typeof certificateInputSchema>;

/** A certificate as the API shows it: as recorded, with its period and what was found wrong. */
export const certificateViewSchema = certificateSchema.extend({
  validFrom: z.number(),
  validTo: z.number(),
  supersededBy: z.string().nullable(),
  problems: z.array(z.string()),
});
export type CertificateView = z.infer<typeof certificateViewSchema>;

/** One sensor's calibration now, as lists show it: identity, state, the certificate in force, and what is flagged. */
export const sensorCalibrationStatusSchema = z.object({
  deviceId: z.string(),
  name: z.string().nullable(),
  locationId: z.string(),
  model: z.string().nullable(),
  serial: z.string().nullable(),
  accuracy: z.object({ temperature: z.number(), humidity: z.number().optional() }).nullable(),
  state: z.enum(calibrationStates),
  /** The certificate in force now (null: none). */
  certificate: z.object({ number: z.string(), laboratory: z.string(), validFrom: z.number(), validTo: z.number() }).nullable(),
  /** Why it is not calibrated now, or why its accuracy falls short of GSP (empty: nothing to flag). */
  problems: z.array(z.string()),
  certificates: z.number(),
});
export type SensorCalibrationStatus = z.infer<typeof sensorCalibrationStatusSchema>;
