import type { ReadingConflict } from '../conflicts.js';
import type { ReportLanguage } from '../schema.js';
import type { Block } from './document.js';
import type { Formatter } from './i18n.js';

/** The conflicting-readings section's labels, in English and Simplified Chinese. */
const LABELS: Record<ReportLanguage, Record<string, string>> = {
  en: {
    heading: 'Conflicting readings (a different reading arrived for a device time already stored)',
    sensor: 'Sensor',
    place: 'Place',
    taken: 'Taken at',
    values: 'Readings stored for that time, first arrived first',
    arrived: 'Arrived',
    unknown: 'before arrival times were kept',
    legend:
      'Both readings are kept: a stored reading is never overwritten. Each counts in every figure of this report, so an excursion in either shows. Investigate the device (clock, firmware, a second device with the same identity).',
  },
  'zh-CN': {
    heading: '冲突读数（同一设备时间已存读数后又收到不同读数）',
    sensor: '传感器',
    place: '位置',
    taken: '采集时间',
    values: '该时间存储的读数（按到达先后）',
    arrived: '到达时间',
    unknown: '当时未记录到达时间',
    legend:
      '两条读数均予保留：已存读数从不被覆盖。本报告的各项数值均计入两条读数，任一读数超标都会显示。请调查该设备（时钟、固件，或另一台使用相同身份的设备）。',
  },
};

/** The table of conflicting readings; nothing when there are none, so reports without them look as before. */
export function conflictBlocks(conflicts: readonly ReadingConflict[] | undefined, f: Formatter): Block[] {
  if (!conflicts?.length) return [];
  const t = LABELS[f.lang];
  const value = (r: ReadingConflict['readings'][number]) => `${r.temperature} °C${r.humidity === null ? '' : `, ${r.humidity} %RH`}`;
  return [
    {
      kind: 'table',
      heading: t.heading!,
      columns: [t.sensor!, t.place!, t.taken!, t.values!, t.arrived!],
      rows: conflicts.map((c) => [
        c.deviceId,
        c.locationId,
        f.when(c.at),
        c.readings.map(value).join(' | '),
        c.readings.map((r) => (r.receivedAt === null ? t.unknown! : f.when(r.receivedAt))).join(' | '),
      ]),
      empty: '—',
      widths: [1.2, 1.3, 1.3, 2.2, 2.4],
      note: t.legend!,
    },
  ];
}
