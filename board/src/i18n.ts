import { AUDIT_ACTION_WORDS } from '../../audit/actions.js';
import { ALERT_EVENT_WORDS, ALERT_KIND_WORDS, ALERT_STATE_WORDS, CHANNEL_WORDS, SEVERITY_WORDS } from '../../alerts/event-words.js';

/** The board's labels in English and Simplified Chinese; the type makes a missing translation a compile error. */
const en = {
  title: 'Cold-chain monitor',
  signIn: 'Sign in',
  signOut: 'Sign out',
  user: 'User',
  password: 'Password',
  live: 'Live',
  alerts: 'Alerts',
  fleet: 'Fleet',
  shipments: 'Shipments',
  devices: 'Devices',
  ok: 'OK',
  warning: 'Warning',
  alarm: 'Alarm',
  silent: 'Silent',
  noData: 'no data',
  ago: 'ago',
  range: 'Range',
  humidity: 'Humidity',
  mute: 'Mute',
  unmute: 'Sound on',
  newAlarms: 'unacknowledged alarm(s)',
  acknowledge: 'Acknowledge',
  close: 'Close (QA)',
  cancel: 'Cancel',
  sign: 'Sign',
  meaning: 'Meaning of the signature',
  comment: 'Comment (what was done)',
  signatureHint: 'Electronic signature: re-enter your password. Your printed name, the time and the meaning are recorded.',
  history: 'History',
  state: 'State',
  kind: 'Kind',
  severity: 'Severity',
  sensor: 'Sensor',
  place: 'Place',
  occurred: 'Occurred',
  cleared: 'Cleared',
  peak: 'Peak',
  acknowledgedBy: 'Acknowledged by',
  closedBy: 'Closed by',
  noAlerts: 'No alerts.',
  vehicles: 'Vehicles',
  lastPosition: 'Last position',
  connectivity: 'Connectivity',
  online: 'online',
  offline: 'offline',
  mapNoTiles: 'No map tiles configured (board.tileUrl): tracks are drawn on a blank map.',
  waybill: 'Waybill',
  product: 'Product',
  batch: 'Batch',
  consignee: 'Consignee',
  disposition: 'QA disposition',
  notReviewed: 'not reviewed',
  timeline: 'Temperature across the legs',
  preCooling: 'Pre-cooling before loading',
  preCoolingPassed: 'passed',
  preCoolingFailed: 'failed',
  receipt: 'Receipt by the consignee',
  notReceived: 'not yet recorded',
  arrivalTemperature: 'on arrival',
  stability: 'Stability budget of batch',
  stabilityTotal: 'total',
  stabilityFreeze: 'freeze events left',
  stabilityLeft: 'left of',
  download: 'Download',
  lastSeen: 'Last seen',
  battery: 'Battery',
  firmware: 'Firmware',
  rejected24h: 'Rejected (24 h)',
  why: 'Why',
  stream: 'Live updates',
  connected: 'connected',
  reconnecting: 'reconnecting…',
  language: '中文',
  wrongPassword: 'Wrong user name or password.',
  site: 'Site',
  sensors: 'Sensors',
  late: 'found late',
  outOfRange: 'out of range',
  minShort: 'min',
  role: 'Role',
  shelve: 'Shelve',
  unshelve: 'Unshelve',
  shelvedUntil: 'shelved until',
  reason: 'Reason',
  duration: 'For how long',
  since: 'Since',
  what: 'What happened',
  where: 'Where',
  howFar: 'How far out',
  action: 'What to do',
  trend: 'Trend',
  lastHour: 'Last hour',
  memberAlerts: 'Sensor alarms',
  incident: 'Alarm',
  performance: 'Alarm performance',
  audit: 'Audit trail',
  meaningAck: 'acknowledged',
  meaningClose: 'closed after review',
  meaningShelve: 'shelved: known cause, being handled',
  meaningUnshelve: 'unshelved',
  time: 'Time',
  mkt: 'MKT',
  min: 'min',
  max: 'max',
  completeness: 'data complete',
  noIncidents: 'No alarms.',
  showHistory: 'History',
  hideHistory: 'Hide history',
  by: 'by',
};
export type Labels = typeof en;

const zhCN: Labels = {
  title: '冷链监控',
  signIn: '登录',
  signOut: '退出',
  user: '用户名',
  password: '密码',
  live: '实时',
  alerts: '报警',
  fleet: '车队',
  shipments: '运单',
  devices: '设备',
  ok: '正常',
  warning: '预警',
  alarm: '报警',
  silent: '离线',
  noData: '无数据',
  ago: '前',
  range: '范围',
  humidity: '湿度',
  mute: '静音',
  unmute: '开启声音',
  newAlarms: '条未确认报警',
  acknowledge: '确认',
  close: '关闭（质量）',
  cancel: '取消',
  sign: '签名',
  meaning: '签名含义',
  comment: '处理意见',
  signatureHint: '电子签名：请再次输入密码。系统将记录您的姓名、时间和签名含义。',
  history: '记录',
  state: '状态',
  kind: '类型',
  severity: '级别',
  sensor: '测点',
  place: '位置',
  occurred: '发生',
  cleared: '解除',
  peak: '峰值',
  acknowledgedBy: '确认人',
  closedBy: '关闭人',
  noAlerts: '无报警。',
  vehicles: '车辆',
  lastPosition: '最后位置',
  connectivity: '连接',
  online: '在线',
  offline: '离线',
  mapNoTiles: '未配置地图瓦片（board.tileUrl）：轨迹绘制在空白地图上。',
  waybill: '运单号',
  product: '品名',
  batch: '批号',
  consignee: '收货方',
  disposition: '质量处置',
  notReviewed: '未审核',
  timeline: '各段温度',
  preCooling: '装车前预冷',
  preCoolingPassed: '合格',
  preCoolingFailed: '不合格',
  receipt: '收货验收',
  notReceived: '尚未记录',
  arrivalTemperature: '到货温度',
  stability: '批次稳定性预算',
  stabilityTotal: '合计',
  stabilityFreeze: '剩余冻结次数',
  stabilityLeft: '剩余，共',
  download: '下载',
  lastSeen: '最后上报',
  battery: '电量',
  firmware: '固件',
  rejected24h: '拒收（24小时）',
  why: '原因',
  stream: '实时更新',
  connected: '已连接',
  reconnecting: '重新连接中…',
  language: 'English',
  wrongPassword: '用户名或密码错误。',
  site: '站点',
  sensors: '测点',
  late: '延迟发现',
  outOfRange: '超出范围',
  minShort: '分钟',
  role: '角色',
  shelve: '搁置',
  unshelve: '取消搁置',
  shelvedUntil: '搁置至',
  reason: '原因',
  duration: '搁置时长',
  since: '开始于',
  what: '发生了什么',
  where: '位置',
  howFar: '超出程度',
  action: '处理措施',
  trend: '趋势',
  lastHour: '最近一小时',
  memberAlerts: '各测点报警',
  incident: '报警',
  performance: '报警绩效',
  audit: '审计追踪',
  meaningAck: '已确认报警',
  meaningClose: '审核后关闭',
  meaningShelve: '搁置：原因已知，正在处理',
  meaningUnshelve: '取消搁置',
  time: '时间',
  mkt: '平均动力学温度',
  min: '最低',
  max: '最高',
  completeness: '数据完整率',
  noIncidents: '无报警。',
  showHistory: '记录',
  hideHistory: '收起记录',
  by: '由',
};

export type Lang = 'en' | 'zh-CN';
export const LABELS: Record<Lang, Labels> = { en, 'zh-CN': zhCN };

export function savedLang(): Lang {
  const saved = localStorage.getItem('coldchain.lang');
  if (saved === 'en' || saved === 'zh-CN') return saved;
  return navigator.language.startsWith('zh') ? 'zh-CN' : 'en';
}

export function age(ms: number, lang: Lang): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const [value, unit] =
    s < 60
      ? [s, lang === 'en' ? 's' : '秒']
      : s < 3600
        ? [Math.round(s / 60), lang === 'en' ? 'min' : '分']
        : s < 172_800
          ? [Math.round(s / 3600), lang === 'en' ? 'h' : '小时']
          : [Math.round(s / 86_400), lang === 'en' ? 'd' : '天'];
  return lang === 'en' ? `${value} ${unit} ago` : `${value}${unit}前`;
}

export const when = (ms: number | null | undefined) => (ms ? new Date(ms).toLocaleString('sv-SE') : '—');

/**
 * Kinds, severities, states, events and channels are alerts/event-words.ts's, shared with the alarm
 * messages (that module has no imports, so neither zod nor node types reach the bundle).
 *
 * Every code a person may see (alert kinds, states, severities, custody events, …) in words, in
 * both languages. Codes stay in the API; the board never prints one.
 */
type Words = { en: string; 'zh-CN': string };
const w = (en: string, zh: string): Words => ({ en, 'zh-CN': zh });

export const CODES = {
  kind: ALERT_KIND_WORDS,
  state: ALERT_STATE_WORDS,
  severity: SEVERITY_WORDS,
  event: ALERT_EVENT_WORDS,
  notify: {
    page: w('pages people', '通知值班人员'),
    board: w('board only', '仅看板'),
    digest: w('daily digest', '每日汇总'),
  },
  custody: {
    stored: w('Stored', '入库'),
    loaded: w('Loaded', '装车'),
    unloaded: w('Unloaded', '卸货'),
    delivered: w('Delivered', '交付'),
  },
  shipmentState: {
    created: w('Created', '已创建'),
    in_storage: w('In storage', '在库'),
    in_transit: w('In transit', '运输中'),
    delivered: w('Delivered', '已交付'),
  },
  decision: {
    released: w('Released', '放行'),
    quarantined: w('Quarantined', '隔离'),
    rejected: w('Rejected', '拒收'),
  },
  receipt: {
    accepted: w('Accepted', '接收'),
    refused: w('Refused', '拒收'),
  },
  stabilityState: {
    ok: w('Within budget', '在预算之内'),
    low: w('Running low', '即将用尽'),
    exhausted: w('Used up — QA investigation before release', '已用尽 — 放行前须由质量部门调查'),
    no_stability_data: w('No stability data for this product', '该产品无稳定性数据'),
  },
  verdict: {
    within_range: w('Within range', '全程符合温度要求'),
    excursion: w('Excursion — needs QA review', '存在超标 — 需质量部门审核'),
  },
  locationKind: {
    cold_room: w('Cold room', '冷库'),
    freezer: w('Freezer', '冷冻库'),
    ambient_zone: w('Ambient zone', '常温库区'),
    vehicle_compartment: w('Vehicle compartment', '车厢'),
  },
  siteKind: {
    warehouse: w('Warehouse', '仓库'),
    vehicle: w('Vehicle', '车辆'),
  },
  rejectReason: {
    malformed_json: w('Not valid JSON', '非法 JSON'),
    invalid_reading: w('Invalid reading', '读数无效'),
    impossible_value: w('Physically impossible value', '数值超出物理极限'),
    timestamp_in_future: w('Time in the future', '时间在未来'),
    timestamp_too_old: w('Time too old', '时间过旧'),
    payload_too_large: w('Message too large', '消息过大'),
    batch_too_large: w('Batch too large', '批量过大'),
    empty_batch: w('Empty batch', '空批量'),
    unknown_device: w('Unknown device', '未登记设备'),
    topic_not_allowed: w('Topic not allowed', '主题不允许'),
    invalid_custody_event: w('Invalid custody event', '交接事件无效'),
  },
  channel: CHANNEL_WORDS,
  actor: {
    system: w('system', '系统'),
  },
  auditAction: AUDIT_ACTION_WORDS,
  role: {
    admin: w('Administrator', '管理员'),
    operator: w('Operator', '操作员'),
    qa: w('QA', '质量'),
    viewer: w('Viewer', '只读'),
  },
} satisfies Record<string, Record<string, Words>>;

export type CodeTable = keyof typeof CODES;

/** A code in words; an unknown code (a newer server) is still shown without underscores. */
export function say(table: CodeTable, code: string | null | undefined, lang: Lang): string {
  if (!code) return '—';
  const words = (CODES[table] as Record<string, Words>)[code];
  if (words) return words[lang];
  const plain = code.replace(/_/g, ' ');
  return plain.charAt(0).toUpperCase() + plain.slice(1);
}

const minutes = (ms: number, lang: Lang) => {
  const m = ms / 60_000;
  const text =
    m >= 120 ? `${(m / 60).toFixed(1)} ${lang === 'en' ? 'h' : '小时'}` : `${m < 10 ? m.toFixed(1) : Math.round(m)} ${lang === 'en' ? 'min' : '分钟'}`;
  return lang === 'en' ? text : text.replace(' ', '');
};

/** An alert's peak (or threshold) with its unit: °C, %RH, °C/h, %, or a duration for doors and silence. */
export function amount(kind: string, value: number | null | undefined, lang: Lang): string {
  if (value == null || !Number.isFinite(value)) return '—';
  if (kind.startsWith('temperature_')) return `${value.toFixed(1)} °C`;
  if (kind.startsWith('humidity_')) return `${value.toFixed(0)} %RH`;
  if (kind === 'rate_of_change') return `${value.toFixed(1)} °C/h`;
  if (kind === 'battery_low') return `${value.toFixed(0)} %`;
  if (kind === 'door_open' || kind === 'device_silent' || kind === 'cumulative_time_out_of_range') return minutes(value, lang);
  if (kind === 'influxdb_unreachable' || kind === 'spool_backlog' || kind === 'clock_off') return minutes(value, lang);
  if (kind === 'spool_full') return `${(value / 1_048_576).toFixed(0)} MB`;
  if (kind === 'backup_failed' || kind === 'audit_broken') return '—';
  // Calibration alarms: the certificate's due time (a date) as peak; calibration_due's threshold is its lead time (days).
  // Conflicting readings: the shared device time as threshold, the arrival of the different reading as peak.
  if (kind === 'reading_conflict') return new Date(value).toISOString().slice(0, 16).replace('T', ' ');
  // Stability budgets: what is left and the alarm level, % of the allowance.
  if (kind === 'stability_budget_low' || kind === 'stability_budget_exhausted') return `${Math.round(value * 10) / 10} %`;
  if (kind === 'calibration_due' || kind === 'calibration_overdue')
    return value > 1e11 ? new Date(value).toISOString().slice(0, 10) : `${Math.round(value / 86_400_000)} ${lang === 'en' ? 'd' : '天'}`;
  return String(value);
}
