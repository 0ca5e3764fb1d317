import type { CalibrationSection } from '../calibration-status.js';
import type { ReportLanguage } from '../schema.js';
import type { Block } from './document.js';
import type { Formatter } from './i18n.js';

/** The calibration section's labels, in English and Simplified Chinese (GSP: 校准, 校准证书). */
const LABELS: Record<ReportLanguage, Record<string, string>> = {
  en: {
    heading: 'Sensor calibration at the time of the readings',
    sensor: 'Sensor',
    model: 'Model / serial',
    accuracy: 'Declared accuracy',
    certificate: 'Certificate',
    laboratory: 'Laboratory',
    validFrom: 'Valid from',
    validTo: 'Valid to',
    readings: 'Readings',
    flagged: 'Out of calibration',
    none: 'No certificate on file',
    runs: 'Readings taken while the sensor was out of calibration',
    noRuns: 'Every reading was taken by a calibrated sensor.',
    reason: 'Why',
    start: 'From',
    end: 'To',
    place: 'Place',
    legend:
      'Values are shown as measured; calibration errors are recorded, never applied as offsets. GSP accuracy: ±0.5 °C in 0–40 °C, ±1.0 °C in −25–0 °C, ±5 %RH.',
    column: 'Out of calibration',
    yes: 'yes',
    stateNone: 'no certificate',
    stateFailed: 'failed calibration',
    stateOverdue: 'calibration overdue',
  },
  'zh-CN': {
    heading: '读数期间传感器的校准状态',
    sensor: '传感器',
    model: '型号 / 序列号',
    accuracy: '标称精度',
    certificate: '校准证书',
    laboratory: '校准机构',
    validFrom: '有效期自',
    validTo: '有效期至',
    readings: '读数',
    flagged: '超出校准有效期',
    none: '无校准证书',
    runs: '传感器超出校准有效期时的读数',
    noRuns: '所有读数均由在校准有效期内的传感器测得。',
    reason: '原因',
    start: '起',
    end: '止',
    place: '位置',
    legend: '数值按实测显示；校准误差仅作记录，从不用于修正读数。GSP 精度要求：0–40 °C 范围内 ±0.5 °C，−25–0 °C 范围内 ±1.0 °C，湿度 ±5 %RH。',
    column: '超出校准有效期',
    yes: '是',
    stateNone: '无证书',
    stateFailed: '校准不合格',
    stateOverdue: '校准已过期',
  },
};

export const calibrationLabel = (f: Formatter, key: 'column' | 'yes'): string => LABELS[f.lang][key]!;

const STATE_KEY = { none: 'stateNone', failed: 'stateFailed', overdue: 'stateOverdue' } as const;

/** The calibration table, and the runs of readings out of calibration; nothing for a report without the section. */
export function calibrationBlocks(section: CalibrationSection | undefined, f: Formatter): Block[] {
  if (!section?.sensors.length) return [];
  const t = LABELS[f.lang];
  const day = (ms: number) => f.date(ms);
  const rows = section.sensors.flatMap((s) => {
    const sensor = s.name ? `${s.deviceId} (${s.name})` : s.deviceId;
    const model = s.model ? `${s.model} / ${s.serial}` : '—';
    const accuracy = s.accuracy ? `±${s.accuracy.temperature} °C${s.accuracy.humidity !== undefined ? `, ±${s.accuracy.humidity} %RH` : ''}` : '—';
    const flagged = [s.outOfCalibration ? `${s.outOfCalibration}` : '0', ...s.problems].join('; ');
    if (!s.certificates.length) return [[sensor, model, accuracy, t.none!, '—', '—', '—', s.readings, flagged]];
    // validTo is exclusive: the last valid day is the day before it.
    return s.certificates.map((c) => [sensor, model, accuracy, c.number, c.laboratory, day(c.validFrom), day(c.validTo - 1), c.readings, flagged]);
  });
  return [
    {
      kind: 'table',
      heading: t.heading!,
      columns: [t.sensor!, t.model!, t.accuracy!, t.certificate!, t.laboratory!, t.validFrom!, t.validTo!, t.readings!, t.flagged!],
      rows,
      empty: '—',
      widths: [1.4, 1.3, 0.9, 1, 1.4, 0.8, 0.8, 0.6, 1.6],
      note: t.legend!,
    },
    {
      kind: 'table',
      heading: t.runs!,
      columns: [t.sensor!, t.place!, t.start!, t.end!, t.readings!, t.reason!],
      rows: section.runs.map((r) => [`${r.deviceId} (${t[STATE_KEY[r.state]]})`, r.locationId, f.when(r.start), f.when(r.end), r.readings, r.reason]),
      empty: t.noRuns!,
      widths: [1.4, 1.2, 1.2, 1.2, 0.6, 2.6],
    },
  ];
}
