import { isMap, isSeq } from 'yaml';
import type { AuditLog } from '../audit/audit-log.js';
import { noteConfigEdit } from '../audit/config-changes.js';
import { verifySigner } from '../audit/e-signature.js';
import { editConfig } from '../core/config/edit.js';
import type { Device } from '../core/config/schema.js';
import type { Logger } from '../core/logger.js';
import type { Registry } from '../core/registry.js';
import { Refusal } from '../core/refusal.js';
import { declaredAccuracyProblems } from './accuracy.js';
import type { Certificate, CertificateInput, CertificateView, SensorCalibrationStatus } from './schema.js';
import { calibrationAt, certificatePeriods, type CertificatePeriod } from './status.js';

export class CalibrationError extends Refusal<400 | 404 | 409> {}

export type { CertificateView, SensorCalibrationStatus };

const view = (p: CertificatePeriod): CertificateView => ({
  ...p.certificate,
  validFrom: p.from,
  validTo: p.to,
  supersededBy: p.supersededBy ?? null,
  problems: p.problems,
});

/** A sensor's status at `now`, with GSP's accuracy checked against its place's range. */
export function sensorStatus(registry: Registry, device: Device, now: number): SensorCalibrationStatus {
  const placed = registry.device(device.id);
  const cal = device.calibration;
  const verdict = calibrationAt(certificatePeriods(cal), now, registry.config.alarms.calibration.dueLead);
  const problems: string[] = [];
  if (verdict.reason) problems.push(verdict.reason);
  if (cal && placed) problems.push(...declaredAccuracyProblems(cal, placed.profile.temperature, placed.profile.humidity !== undefined));
  const current = verdict.certificate;
  return {
    deviceId: device.id,
    name: device.name ?? null,
    locationId: device.location,
    model: cal?.model ?? null,
    serial: cal?.serial ?? null,
    accuracy: cal?.accuracy ?? null,
    state: verdict.state,
    certificate: current
      ? { number: current.certificate.number, laboratory: current.certificate.laboratory, validFrom: current.from, validTo: current.to }
      : null,
    problems,
    certificates: cal?.certificates.length ?? 0,
  };
}

/**
 * Sensors' calibration records. They live in the configuration, under each device
 * (`devices[].calibration`), so that `coldchain check`, reports (built from the configuration in
 * worker threads) and the board see them with the rest of the sensor's registration; see the
 * README for why this is durable and audited. A certificate is added, signed, through here: the
 * config file is edited atomically (core/config/edit.ts), the signed addition goes to the audit
 * trail, and the reload that follows is audited as a configuration change. Certificates are
 * never changed: a correction is a new one naming the old in `supersedes`.
 */
export class CalibrationService {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly deps: {
      registry: () => Registry;
      /** Re-reads the config file now (RegistryHolder.reload), so an answer shows what was just recorded. */
      reload: () => boolean;
      configFile: string;
      dataDir: string;
      audit: AuditLog;
      log: Logger;
    },
  ) {}

  list(now = Date.now()): SensorCalibrationStatus[] {
    const registry = this.deps.registry();
    return registry.config.devices.map((d) => sensorStatus(registry, d, now));
  }

  get(deviceId: string, now = Date.now()): { sensor: SensorCalibrationStatus; certificates: CertificateView[] } {
    const registry = this.deps.registry();
    const device = registry.config.devices.find((d) => d.id === deviceId);
    if (!device) throw new CalibrationError(`no sensor ${deviceId}`, 404);
    return { sensor: sensorStatus(registry, device, now), certificates: certificatePeriods(device.calibration).map(view) };
  }

  add(deviceId: string, input: CertificateInput): Promise<{ sensor: SensorCalibrationStatus; certificate: CertificateView }> {
    const work = async () => {
      const registry = this.deps.registry();
      const device = registry.config.devices.find((d) => d.id === deviceId);
      if (!device) throw new CalibrationError(`no sensor ${deviceId}`, 404);
      this.checkAddition(device, input);
      const user = await verifySigner({ users: registry.config.users, accounts: registry.config.accounts, audit: this.deps.audit }, input, {
        action: `calibration certificate ${input.certificate.number}`,
        target: deviceId,
        roles: ['qa', 'admin'],
        what: 'record a calibration certificate',
      });
      const certificate: Certificate = { ...input.certificate, recordedBy: user.fullName, recordedAt: new Date().toISOString() };
      // The service's own edit is noted like a CLI edit, so the configuration change it causes names its author.
      noteConfigEdit(this.deps.dataDir, `calibration add ${deviceId} ${certificate.number} (signed by ${user.name} through the API)`);
      try {
        editConfig(this.deps.configFile, (doc, current) => {
          const index = current.devices.findIndex((d) => d.id === deviceId);
          const now = current.devices[index];
          if (!now) throw new CalibrationError(`no sensor ${deviceId} in ${this.deps.configFile}`, 404);
          this.checkAddition(now, input);
          const devices = doc.get('devices');
          const node = isSeq(devices) ? devices.items[index] : undefined;
          if (!isMap(node)) throw new Error(`devices[${index}] in ${this.deps.configFile} is not a mapping`);
          const sensor = input.sensor ?? { model: now.calibration!.model, serial: now.calibration!.serial, accuracy: now.calibration!.accuracy };
          if (!now.calibration) node.set('calibration', doc.createNode({ ...sensor, certificates: [certificate] }));
          else {
            if (input.sensor) for (const [k, v] of Object.entries(input.sensor)) doc.setIn(['devices', index, 'calibration', k], doc.createNode(v));
            const list = doc.getIn(['devices', index, 'calibration', 'certificates']);
            if (isSeq(list)) {
              list.flow = false;
              list.add(doc.createNode(certificate));
            } else doc.setIn(['devices', index, 'calibration', 'certificates'], doc.createNode([certificate]));
          }
        });
      } catch (err) {
        if (err instanceof CalibrationError) throw err;
        // A result that would not validate (e.g. due before calibrated) is the caller's to fix.
        throw new CalibrationError((err as Error).message, 400);
      }
      await this.deps.audit.append({
        actor: user.name,
        printedName: user.fullName,
        action: input.certificate.supersedes ? 'calibration.certificate.correct' : 'calibration.certificate.add',
        target: deviceId,
        details: { certificate, ...(input.sensor ? { sensor: input.sensor } : {}), meaning: input.meaning, comment: input.comment },
      });
      if (!this.deps.reload()) this.deps.log.error({ deviceId }, 'the certificate was written but the configuration did not reload');
      const recorded = this.get(deviceId);
      this.deps.log.info({ deviceId, certificate: certificate.number, state: recorded.sensor.state }, 'calibration certificate recorded');
      return { sensor: recorded.sensor, certificate: recorded.certificates.find((c) => c.number === certificate.number)! };
    };
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** What makes an addition impossible, before anyone is asked to sign. */
  private checkAddition(device: Device, input: CertificateInput): void {
    const cal = device.calibration;
    if (!cal && !input.sensor)
      throw new CalibrationError(
        `sensor ${device.id} has no calibration on file yet: give its model, serial and declared accuracy with the first certificate`,
        400,
      );
    const existing = cal?.certificates ?? [];
    const number = input.certificate.number;
    if (existing.some((c) => c.number === number))
      throw new CalibrationError(
        `sensor ${device.id} already has certificate ${number}; certificates are never changed — record a new one with supersedes: "${number}"`,
        409,
      );
    const supersedes = input.certificate.supersedes;
    if (supersedes !== undefined) {
      if (!existing.some((c) => c.number === supersedes))
        throw new CalibrationError(`certificate.supersedes: sensor ${device.id} has no certificate ${supersedes}`, 400);
      const already = existing.find((c) => c.supersedes === supersedes);
      if (already)
        throw new CalibrationError(`certificate.supersedes: ${supersedes} was already superseded by ${already.number}; supersede that one instead`, 409);
    }
  }
}
