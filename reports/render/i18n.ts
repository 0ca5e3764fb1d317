import type { ReportLanguage } from '../schema.js';

/**
 * Every label a report prints, in English and Simplified Chinese. The Chinese follows the
 * wording of the GSP annex where it has one (温湿度记录, 超标, 平均动力学温度). A new label
 * is added to both languages at once: the type makes a missing translation a compile error.
 */
const en = {
  shipmentReportTitle: 'Full-chain cold-chain temperature record',
  gspRecordTitle: 'Temperature and humidity record (GSP)',
  excursionReportTitle: 'Temperature excursion report',
  waybill: 'Waybill',
  product: 'Product',
  productProfile: 'Product profile',
  batch: 'Batch / lot',
  expiry: 'Expiry',
  quantity: 'Quantity',
  shipper: 'Shipper',
  consignee: 'Consignee',
  createdAt: 'Created',
  generatedAt: 'Generated',
  timeZone: 'Time zone',
  verdict: 'Verdict',
  within_range: 'Within range',
  excursion: 'Excursion — needs QA review',
  needsReview: 'Needs QA review',
  reviewReasons: 'Reasons for review',
  overall: 'Whole shipment',
  segments: 'Custody segments',
  segment: 'Segment',
  place: 'Place',
  site: 'Site',
  zone: 'Zone',
  vehicle: 'Vehicle',
  vehicleType: 'Vehicle type',
  plate: 'Plate',
  sensors: 'Sensors',
  sensor: 'Sensor',
  start: 'Start',
  end: 'End',
  duration: 'Duration',
  ongoing: 'ongoing',
  open: 'open',
  readings: 'Readings',
  min: 'Min',
  max: 'Max',
  mean: 'Mean',
  mkt: 'Mean kinetic temperature (MKT)',
  mktShort: 'MKT',
  activationEnergy: 'Activation energy ΔH',
  range: 'Acceptable range',
  timeOutOfRange: 'Time out of range',
  timeAbove: 'Time above range',
  timeBelow: 'Time below range',
  excursions: 'Excursions',
  noExcursions: 'No excursions.',
  band: 'Band',
  above: 'above',
  below: 'below',
  limit: 'Limit',
  peak: 'Peak',
  degreeMinutes: 'Degree-minutes (°C·min)',
  humidity: 'Humidity',
  completeness: 'Data completeness',
  expected: 'expected',
  present: 'present',
  missingBySequence: 'missing by sequence',
  gaps: 'Data gaps',
  noGaps: 'No data gaps.',
  missingReadings: 'Missing readings',
  alarms: 'Alarms',
  noAlarms: 'No alarms.',
  kind: 'Kind',
  severity: 'Severity',
  state: 'State',
  occurred: 'Occurred',
  cleared: 'Cleared',
  acknowledged: 'Acknowledged',
  closed: 'Closed',
  late: 'late',
  lateData: 'Late data (arrived long after it was taken)',
  noLateData: 'No late data.',
  lateSummary: '{n} readings arrived late, up to {delay} after they were taken',
  lateCount: '{n} late',
  lateMark: 'LATE',
  receivedLate: 'Arrived late (received at)',
  received: 'Received',
  maxDelay: 'Longest delay',
  lateLegend:
    'LATE: the reading arrived more than {threshold} after it was taken (store-and-forward backlog or back-dated upload); it is shown at the time it was taken, with when it arrived, and counts in every figure like any other reading.',
  lateThreshold: 'max(2 × the device interval, {min})',
  custody: 'Chain of custody',
  event: 'Event',
  by: 'By',
  source: 'Source',
  note: 'Note',
  supersededBy: 'superseded by',
  corrects: 'corrects',
  stored: 'stored',
  loaded: 'loaded',
  unloaded: 'unloaded',
  delivered: 'delivered',
  disposition: 'QA disposition',
  notReviewed: 'Not yet reviewed by QA.',
  released: 'Released',
  quarantined: 'Quarantined',
  rejected: 'Rejected',
  signature: 'Electronic signature',
  signedBy: 'Signed by',
  signedAt: 'Signed at',
  meaning: 'Meaning',
  comment: 'Comment',
  digest: 'SHA-256 of the readings used',
  verification: 'Receiver verification',
  verificationHint: 'Scan or open to see this record online (read only).',
  validUntil: 'Valid until',
  chart: 'Temperature',
  date: 'Date',
  time: 'Time',
  temperature: 'Temperature (°C)',
  humidityRh: 'Humidity (%RH)',
  outOfRange: 'Out of range',
  yes: 'yes',
  no: 'no',
  recordingInterval: 'Recording interval',
  normalInterval: 'Normal interval',
  outOfRangeInterval: 'Interval while out of range',
  period: 'Period',
  alert: 'Alert',
  threshold: 'Threshold',
  trail: 'Notification and signature trail',
  actor: 'Actor',
  channel: 'Channel',
  recipient: 'Recipient',
  outcome: 'Outcome',
  page: 'Page',
  of: 'of',
  noReadings: 'No readings.',
  cold_room: 'cold room',
  freezer: 'freezer',
  ambient_zone: 'ambient zone',
  vehicle_compartment: 'vehicle compartment',
  hours: 'h',
  minutes: 'min',
  days: 'd',
};

export type Labels = typeof en;

const zhCN: Labels = {
  shipmentReportTitle: '全程冷链温度记录',
  gspRecordTitle: '温湿度记录（GSP）',
  excursionReportTitle: '温度超标报告',
  waybill: '运单号',
  product: '品名',
  productProfile: '储运条件',
  batch: '批号',
  expiry: '有效期',
  quantity: '数量',
  shipper: '发货方',
  consignee: '收货方',
  createdAt: '创建时间',
  generatedAt: '生成时间',
  timeZone: '时区',
  verdict: '结论',
  within_range: '全程符合温度要求',
  excursion: '存在超标 — 需质量部门审核',
  needsReview: '需质量审核',
  reviewReasons: '审核原因',
  overall: '全程汇总',
  segments: '交接段',
  segment: '段',
  place: '位置',
  site: '场所',
  zone: '库区',
  vehicle: '车辆',
  vehicleType: '车型',
  plate: '车牌',
  sensors: '测点',
  sensor: '测点',
  start: '开始',
  end: '结束',
  duration: '时长',
  ongoing: '持续中',
  open: '进行中',
  readings: '读数',
  min: '最低',
  max: '最高',
  mean: '平均',
  mkt: '平均动力学温度（MKT）',
  mktShort: 'MKT',
  activationEnergy: '活化能 ΔH',
  range: '允许范围',
  timeOutOfRange: '超标时长',
  timeAbove: '高于上限时长',
  timeBelow: '低于下限时长',
  excursions: '超标事件',
  noExcursions: '无超标。',
  band: '方向',
  above: '高于上限',
  below: '低于下限',
  limit: '限值',
  peak: '峰值',
  degreeMinutes: '度分钟（°C·min）',
  humidity: '湿度',
  completeness: '数据完整性',
  expected: '应有',
  present: '实有',
  missingBySequence: '按序号缺失',
  gaps: '数据中断',
  noGaps: '无数据中断。',
  missingReadings: '缺失读数',
  alarms: '报警',
  noAlarms: '无报警。',
  kind: '类型',
  severity: '级别',
  state: '状态',
  occurred: '发生',
  cleared: '解除',
  acknowledged: '确认',
  closed: '关闭',
  late: '迟到数据',
  lateData: '迟到数据（采集后很久才上传）',
  noLateData: '无迟到数据。',
  lateSummary: '{n} 条读数迟到上传，最长在采集后 {delay} 才收到',
  lateCount: '迟到 {n} 条',
  lateMark: '迟到',
  receivedLate: '迟到（接收时间）',
  received: '接收时间',
  maxDelay: '最长延迟',
  lateLegend: '迟到：读数在采集后超过 {threshold} 才收到（断点续传或补传的数据）；按采集时间列出并注明接收时间，与其他读数一样计入全部统计。',
  lateThreshold: 'max(2 × 设备记录间隔, {min})',
  custody: '交接记录',
  event: '事件',
  by: '经手人',
  source: '来源',
  note: '备注',
  supersededBy: '已被更正：',
  corrects: '更正',
  stored: '入库',
  loaded: '装车',
  unloaded: '卸货',
  delivered: '交付',
  disposition: '质量处置',
  notReviewed: '尚未经质量部门审核。',
  released: '放行',
  quarantined: '隔离',
  rejected: '拒收',
  signature: '电子签名',
  signedBy: '签名人',
  signedAt: '签名时间',
  meaning: '签名含义',
  comment: '意见',
  digest: '所用读数的 SHA-256 摘要',
  verification: '收货验证',
  verificationHint: '扫码或打开链接在线查看本记录（只读）。',
  validUntil: '有效期至',
  chart: '温度',
  date: '日期',
  time: '时间',
  temperature: '温度（°C）',
  humidityRh: '湿度（%RH）',
  outOfRange: '超标',
  yes: '是',
  no: '否',
  recordingInterval: '记录间隔',
  normalInterval: '正常记录间隔',
  outOfRangeInterval: '超标时记录间隔',
  period: '期间',
  alert: '报警',
  threshold: '阈值',
  trail: '通知与签名记录',
  actor: '操作人',
  channel: '渠道',
  recipient: '接收人',
  outcome: '结果',
  page: '第',
  of: '页，共',
  noReadings: '无读数。',
  cold_room: '冷库',
  freezer: '冷冻库',
  ambient_zone: '常温库区',
  vehicle_compartment: '车厢',
  hours: '小时',
  minutes: '分',
  days: '天',
};

export const LABELS: Record<ReportLanguage, Labels> = { en, 'zh-CN': zhCN };

/** Formats times, durations and numbers the same way in every format of one report. */
export class Formatter {
  readonly t: Labels;
  private readonly dateTime: Intl.DateTimeFormat;
  private readonly dateOnly: Intl.DateTimeFormat;
  private readonly timeOnly: Intl.DateTimeFormat;

  constructor(
    readonly lang: ReportLanguage,
    readonly timeZone: string,
  ) {
    this.t = LABELS[lang];
    const common = { timeZone, hourCycle: 'h23' } as const;
    this.dateTime = new Intl.DateTimeFormat('sv-SE', {
      ...common,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    this.dateOnly = new Intl.DateTimeFormat('sv-SE', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    this.timeOnly = new Intl.DateTimeFormat('sv-SE', { ...common, hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }

  /** ISO-like "2026-11-22 08:00:00", in the report's zone (sv-SE gives that order). */
  when(ms: number | null | undefined): string {
    return ms === null || ms === undefined ? '—' : this.dateTime.format(ms);
  }

  date(ms: number): string {
    return this.dateOnly.format(ms);
  }

  time(ms: number): string {
    return this.timeOnly.format(ms);
  }

  duration(ms: number): string {
    const minutes = Math.round(ms / 60_000);
    const days = Math.floor(minutes / 1440);
    const hours = Math.floor((minutes % 1440) / 60);
    const rest = minutes % 60;
    const { days: d, hours: h, minutes: m } = this.t;
    const sep = this.lang === 'zh-CN' ? '' : ' ';
    const parts: string[] = [];
    if (days) parts.push(`${days}${sep}${d}`);
    if (days || hours) parts.push(`${hours}${sep}${h}`);
    parts.push(`${String(rest).padStart(days || hours ? 2 : 1, '0')}${sep}${m}`);
    return parts.join(' ');
  }

  celsius(value: number | null | undefined): string {
    return value === null || value === undefined ? '—' : `${value.toFixed(2)} °C`;
  }

  number(value: number, digits = 2): string {
    return value.toFixed(digits);
  }

  percent(value: number): string {
    return `${value.toFixed(2)} %`;
  }

  /** A label with `{name}` placeholders filled in. */
  fill(template: string, values: Record<string, string | number>): string {
    return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in values ? String(values[name]) : whole));
  }

  /** A label for a value that has one (events, decisions, kinds), the value itself otherwise. */
  label(key: string): string {
    return (this.t as Record<string, string>)[key] ?? key;
  }
}
