import { type Command, InvalidArgumentError } from 'commander';
import type { CalibrationAnswer, CalibrationList, CertificateAdded } from '../api/calibration.js';
import type { CalibrationState } from '../calibration/schema.js';
import { endpoint, call, type ServiceFlags } from './service-client.js';
import { namesFrom } from './names.js';
import { readSignature } from './prompt.js';

type Point = { quantity: 'temperature' | 'humidity'; reference: number; reading: number };

/** "--point 5:5.12" (reference:reading), repeatable. */
const pointParser =
  (quantity: Point['quantity']) =>
  (value: string, previous: Point[] = []): Point[] => {
    const match = /^(-?\d+(?:\.\d+)?):(-?\d+(?:\.\d+)?)$/.exec(value.trim());
    if (!match) throw new InvalidArgumentError(`"${value}" is not reference:reading, e.g. 5:5.12 (${quantity === 'temperature' ? '°C' : '%RH'})`);
    return [...previous, { quantity, reference: Number(match[1]), reading: Number(match[2]) }];
  };

const positive = (value: string): number => {
  const n = Number(value);
  if (!(n > 0)) throw new InvalidArgumentError('expected a positive number');
  return n;
};

const STATE_WORDS: Record<CalibrationState, string> = {
  valid: 'calibrated',
  due: 'calibration due soon',
  overdue: 'CALIBRATION OVERDUE',
  failed: 'FAILED CALIBRATION',
  none: 'NO CERTIFICATE ON FILE',
};

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

type AddFlags = ServiceFlags & {
  number: string;
  lab: string;
  calibrated: string;
  due: string;
  point?: Point[];
  rhPoint?: Point[];
  supersedes?: string;
  note?: string;
  model?: string;
  serial?: string;
  accuracy?: number;
  accuracyRh?: number;
  user: string;
  meaning: string;
  comment: string;
};

export async function calibrationAddCommand(deviceId: string, flags: AddFlags): Promise<void> {
  const points = [...(flags.point ?? []), ...(flags.rhPoint ?? [])];
  if (!points.length) throw new Error('give at least one calibration point: --point reference:reading (°C) or --rh-point reference:reading (%RH)');
  const identity = [flags.model, flags.serial, flags.accuracy];
  if (identity.some((v) => v !== undefined) && identity.some((v) => v === undefined))
    throw new Error('--model, --serial and --accuracy go together (the sensor as calibrated)');
  const { base, headers } = endpoint(flags);
  const body = {
    ...(await readSignature(flags)),
    certificate: {
      number: flags.number,
      laboratory: flags.lab,
      calibratedAt: flags.calibrated,
      dueAt: flags.due,
      points,
      ...(flags.supersedes ? { supersedes: flags.supersedes } : {}),
      ...(flags.note ? { note: flags.note } : {}),
    },
    ...(flags.model
      ? {
          sensor: {
            model: flags.model,
            serial: flags.serial,
            accuracy: { temperature: flags.accuracy, ...(flags.accuracyRh !== undefined ? { humidity: flags.accuracyRh } : {}) },
          },
        }
      : {}),
  };
  const { sensor, certificate } = (await call(`${base}/api/v1/calibration/${encodeURIComponent(deviceId)}/certificates`, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
  })) as CertificateAdded;
  process.stdout.write(
    `recorded certificate ${certificate.number} of ${deviceId} (${certificate.laboratory}), valid ${day(certificate.validFrom)} to ${certificate.dueAt}; signed by ${certificate.recordedBy}\n`,
  );
  process.stdout.write(`${deviceId}: ${STATE_WORDS[sensor.state]}\n`);
  for (const problem of sensor.problems) process.stdout.write(`  ! ${problem}\n`);
}

export async function calibrationListCommand(flags: ServiceFlags & { json?: boolean }): Promise<void> {
  const { base, headers } = endpoint(flags);
  const answer = (await call(`${base}/api/v1/calibration`, { headers })) as CalibrationList;
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
    return;
  }
  const names = namesFrom(flags.config);
  for (const s of answer.sensors) {
    const cert = s.certificate ? `certificate ${s.certificate.number}, valid ${day(s.certificate.validFrom)} to ${day(s.certificate.validTo - 1)}` : '—';
    const identity = s.model
      ? `${s.model} #${s.serial}, ±${s.accuracy?.temperature} °C${s.accuracy?.humidity ? ` ±${s.accuracy.humidity} %RH` : ''}`
      : 'model unknown';
    process.stdout.write(`${s.deviceId}  ${names.device(s.deviceId)}  ${STATE_WORDS[s.state]}  ${cert}  ${identity}\n`);
    for (const problem of s.problems) process.stdout.write(`  ! ${problem}\n`);
  }
  if (!answer.sensors.length) process.stdout.write('no sensors\n');
  const flagged = answer.sensors.filter((s) => s.state === 'none' || s.state === 'failed' || s.state === 'overdue').length;
  process.stdout.write(`${answer.count} sensor${answer.count === 1 ? '' : 's'}, ${flagged} not calibrated\n`);
}

export async function calibrationShowCommand(deviceId: string, flags: ServiceFlags): Promise<void> {
  const { base, headers } = endpoint(flags);
  const { sensor, certificates } = (await call(`${base}/api/v1/calibration/${encodeURIComponent(deviceId)}`, { headers })) as CalibrationAnswer;
  const names = namesFrom(flags.config);
  process.stdout.write(`${sensor.deviceId} (${names.device(sensor.deviceId)}) at ${sensor.locationId}: ${STATE_WORDS[sensor.state]}\n`);
  if (sensor.model)
    process.stdout.write(
      `model ${sensor.model}, serial ${sensor.serial}, declared accuracy ±${sensor.accuracy?.temperature} °C${sensor.accuracy?.humidity ? `, ±${sensor.accuracy.humidity} %RH` : ''}\n`,
    );
  for (const problem of sensor.problems) process.stdout.write(`! ${problem}\n`);
  for (const c of certificates) {
    const marks = [c.supersededBy ? `superseded by ${c.supersededBy}` : '', c.supersedes ? `corrects ${c.supersedes}` : ''].filter(Boolean).join('; ');
    process.stdout.write(`\ncertificate ${c.number}${marks ? ` (${marks})` : ''}: ${c.laboratory}, calibrated ${c.calibratedAt}, due ${c.dueAt}\n`);
    if (c.recordedBy) process.stdout.write(`  recorded by ${c.recordedBy}${c.recordedAt ? ` at ${c.recordedAt}` : ''}\n`);
    for (const p of c.points) {
      const unit = p.quantity === 'temperature' ? '°C' : '%RH';
      const error = p.error ?? Number((p.reading - p.reference).toFixed(4));
      process.stdout.write(`  reference ${p.reference} ${unit}  reading ${p.reading} ${unit}  error found ${error > 0 ? '+' : ''}${error} ${unit}\n`);
    }
    for (const problem of c.problems) process.stdout.write(`  ! ${problem}\n`);
  }
  if (!certificates.length) process.stdout.write('no certificates on file\n');
}

/** `coldchain calibration add|list|show`, through the running service (its API, a token from a file or the environment). */
export function calibrationCommands(program: Command, apiOptions: (command: Command) => Command): void {
  const calibration = program.command('calibration').description("sensors' calibration certificates and accuracy against GSP (through the running service)");
  apiOptions(
    calibration
      .command('add')
      .description(
        'record a calibration certificate with an electronic signature (password from stdin or prompted); certificates are never changed, a correction supersedes',
      )
      .argument('<device>', 'sensor (device id)')
      .requiredOption('--number <text>', 'certificate number')
      .requiredOption('--lab <name>', 'calibration laboratory')
      .requiredOption('--calibrated <date>', 'date of calibration, YYYY-MM-DD')
      .requiredOption('--due <date>', 'next calibration due, YYYY-MM-DD')
      .option('--point <reference:reading>', 'a temperature point in °C, e.g. 5:5.12 (repeat for each point)', pointParser('temperature'))
      .option('--rh-point <reference:reading>', 'a humidity point in %RH, e.g. 75:76.4 (repeat)', pointParser('humidity'))
      .option('--supersedes <number>', 'the earlier certificate this one corrects or replaces')
      .option('--note <text>', 'a note')
      .option('--model <text>', "the sensor's model (with --serial and --accuracy; needed with the first certificate)")
      .option('--serial <text>', "the sensor's serial number")
      .option('--accuracy <°C>', 'declared accuracy, ± °C', positive)
      .option('--accuracy-rh <%RH>', 'declared humidity accuracy, ± %RH', positive)
      .requiredOption('--user <name>', 'who signs (role qa or admin)')
      .option('--meaning <text>', 'meaning of the signature', 'calibration certificate checked against the original')
      .requiredOption('--comment <text>', 'e.g. where the original is filed'),
  ).action(calibrationAddCommand);
  apiOptions(calibration.command('list').description("every sensor's calibration now, flagged against GSP").option('--json', 'the API answer as JSON')).action(
    calibrationListCommand,
  );
  apiOptions(calibration.command('show').description("one sensor's certificates, points and errors found").argument('<device>', 'sensor (device id)')).action(
    calibrationShowCommand,
  );
}
