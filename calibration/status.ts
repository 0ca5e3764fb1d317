import { certificateProblems } from './accuracy.js';
import { validFrom, validTo, type CalibrationState, type Certificate, type SensorCalibration } from './schema.js';

/** A certificate with the period it counts for (epoch ms, `to` exclusive) and what is wrong with it. */
export interface CertificatePeriod {
  certificate: Certificate;
  from: number;
  to: number;
  /** Number of the certificate that corrects this one (it then no longer counts). */
  supersededBy?: string;
  /** Points whose error found exceeds GSP's limit or the declared accuracy (empty: it passed). */
  problems: string[];
}

/** Every certificate of a sensor with its period; superseded ones are marked (they stay on record). */
export function certificatePeriods(calibration: SensorCalibration | undefined): CertificatePeriod[] {
  if (!calibration) return [];
  const supersededBy = new Map(calibration.certificates.filter((c) => c.supersedes).map((c) => [c.supersedes!, c.number]));
  return calibration.certificates.map((certificate) => ({
    certificate,
    from: validFrom(certificate),
    to: validTo(certificate),
    ...(supersededBy.has(certificate.number) ? { supersededBy: supersededBy.get(certificate.number)! } : {}),
    problems: certificateProblems(certificate, calibration.accuracy),
  }));
}

/** The certificate in force at `t`: of those not superseded and calibrated by then, the latest calibration. */
export function certificateAt(periods: readonly CertificatePeriod[], t: number): CertificatePeriod | undefined {
  let best: CertificatePeriod | undefined;
  for (const p of periods) if (!p.supersededBy && p.from <= t && (!best || p.from >= best.from)) best = p;
  return best;
}

export interface CalibrationVerdict {
  state: CalibrationState;
  certificate?: CertificatePeriod;
  /** Why the sensor is not calibrated at that time, in words (states none, failed, overdue). */
  reason?: string;
}

/**
 * A sensor's calibration at `t`: `none` (no certificate yet), `failed` (the certificate in force
 * found errors beyond GSP or the declared accuracy), `overdue` (past its due date), `due` (within
 * `dueLeadMs` of it) or `valid`. Readings taken while none, failed or overdue are out of calibration.
 */
export function calibrationAt(periods: readonly CertificatePeriod[], t: number, dueLeadMs = 0): CalibrationVerdict {
  const current = certificateAt(periods, t);
  if (!current) {
    const first = periods.filter((p) => !p.supersededBy).sort((a, b) => a.from - b.from)[0];
    return {
      state: 'none',
      reason: first ? `no certificate in force before ${new Date(first.from).toISOString().slice(0, 10)}` : 'no calibration certificate on file',
    };
  }
  const number = current.certificate.number;
  if (current.problems.length) return { state: 'failed', certificate: current, reason: current.problems.join('; ') };
  if (t >= current.to)
    return { state: 'overdue', certificate: current, reason: `certificate ${number} ran out on ${current.certificate.dueAt} (calibration overdue)` };
  if (t >= current.to - dueLeadMs) return { state: 'due', certificate: current };
  return { state: 'valid', certificate: current };
}

export const outOfCalibration = (state: CalibrationState): boolean => state === 'none' || state === 'failed' || state === 'overdue';
