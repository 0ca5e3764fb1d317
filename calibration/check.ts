import type { Finding } from '../core/config/compliance.js';
import type { Config } from '../core/config/schema.js';
import { declaredAccuracyProblems } from './accuracy.js';
import { calibrationAt, certificatePeriods } from './status.js';

/**
 * `coldchain check`'s calibration findings (GSP: the monitoring equipment calibrated, within its
 * accuracy): a sensor without a valid certificate now, a certificate that failed, one overdue,
 * a declared accuracy coarser than GSP for its place. A certificate due within
 * `alarms.calibration.dueLead` is a warning.
 */
export function calibrationFindings(config: Config, now = Date.now()): Finding[] {
  const findings: Finding[] = [];
  const places = new Map(config.sites.flatMap((s) => s.locations.map((l) => [l.id, l])));
  config.devices.forEach((device, d) => {
    const name = device.name ?? device.id;
    const cal = device.calibration;
    if (!cal) {
      findings.push({
        level: 'error',
        path: ['devices', d],
        rule: 'calibration',
        message: `${name}: no calibration on file (model, serial, accuracy and a certificate: coldchain calibration add ${device.id})`,
      });
      return;
    }
    const verdict = calibrationAt(certificatePeriods(cal), now, config.alarms.calibration.dueLead);
    const certificates = ['devices', d, 'calibration', 'certificates'];
    if (verdict.state === 'none' || verdict.state === 'failed' || verdict.state === 'overdue')
      findings.push({ level: 'error', path: certificates, rule: 'calibration', message: `${name}: not calibrated: ${verdict.reason}` });
    else if (verdict.state === 'due' && verdict.certificate)
      findings.push({
        level: 'warning',
        path: certificates,
        rule: 'calibration',
        message: `${name}: certificate ${verdict.certificate.certificate.number} runs out on ${verdict.certificate.certificate.dueAt}; book the calibration`,
      });
    const place = places.get(device.location);
    const profile = place && config.profiles.find((p) => p.id === place.profile);
    if (profile)
      for (const problem of declaredAccuracyProblems(cal, profile.temperature, profile.humidity !== undefined))
        findings.push({ level: 'error', path: ['devices', d, 'calibration', 'accuracy'], rule: 'accuracy', message: `${name}: ${problem}` });
  });
  return findings;
}
