/**
 * Alert and incident events and notification channels in words (English and 简体中文), for the
 * board and the excursion report alike.
 */
type Words = { en: string; 'zh-CN': string };
const w = (en: string, zh: string): Words => ({ en, 'zh-CN': zh });

export const ALERT_EVENT_WORDS: Record<string, Words> = {
  pending: w('condition began', '出现异常'),
  activated: w('alarm raised', '报警触发'),
  cleared: w('cleared', '解除'),
  discarded: w('discarded (cleared within the delay)', '撤销（延时内恢复）'),
  retracted: w('retracted', '撤回'),
  acknowledged: w('acknowledged', '确认'),
  closed: w('closed', '关闭'),
  notified: w('notified', '已通知'),
  notification_failed: w('notification failed', '通知失败'),
  escalated: w('escalated', '已升级'),
  shelved: w('shelved', '搁置'),
  unshelved: w('unshelved', '取消搁置'),
  raised: w('alarm raised', '报警触发'),
  updated: w('updated (another sensor or rule joined, or a new peak)', '更新（新测点或规则加入，或出现新峰值）'),
  reopened: w('came back', '再次报警'),
  digested: w('in the daily digest', '已列入每日汇总'),
};

export const CHANNEL_WORDS: Record<string, Words> = {
  email: w('e-mail', '邮件'),
  webhook: w('SMS / webhook', '短信 / 网络回调'),
  sms: w('SMS', '短信'),
  mqtt: w('MQTT', 'MQTT'),
};

/** A code of one of the tables in words; an unknown one as written, without underscores. */
export const inWords = (table: Record<string, Words>, code: string, lang: 'en' | 'zh-CN'): string => table[code]?.[lang] ?? code.replace(/_/g, ' ');

/** Who did it: the service itself in words, a person by their user name. */
export const actorInWords = (actor: string, lang: 'en' | 'zh-CN'): string => (actor === 'system' ? (lang === 'zh-CN' ? '系统' : 'the system') : actor);

/**
 * Alert kinds, severities and states in words: the alarm messages (text.ts, whose types check that
 * every code is here) and the board use the same ones.
 */
export const ALERT_KIND_WORDS = {
  temperature_high: w('Temperature above range', '温度超上限'),
  temperature_low: w('Temperature below range', '温度超下限'),
  temperature_warning_high: w('Temperature near the upper limit', '温度接近上限（临界值）'),
  temperature_warning_low: w('Temperature near the lower limit', '温度接近下限（临界值）'),
  humidity_high: w('Humidity above range', '湿度超上限'),
  humidity_low: w('Humidity below range', '湿度超下限'),
  cumulative_time_out_of_range: w('Too much time out of range', '累计超标时间超限'),
  rate_of_change: w('Temperature changing too fast', '温度变化过快'),
  door_open: w('Door open too long', '开门时间过长'),
  battery_low: w('Sensor battery low', '传感器电量低'),
  device_silent: w('Sensor not reporting', '传感器无数据（通讯或供电中断）'),
  influxdb_unreachable: w('Database (InfluxDB) unreachable', '数据库（InfluxDB）无法连接'),
  spool_backlog: w('Readings not reaching the database', '数据积压，未写入数据库'),
  spool_full: w('Spool (local buffer) too large', '本地缓存（spool）占用过大'),
  backup_failed: w('Daily backup failed or overdue', '每日备份失败或逾期'),
  audit_broken: w('Audit trail damaged', '审计追踪记录损坏'),
  clock_off: w('Server clock off', '服务器时钟偏差过大'),
  calibration_due: w('Sensor calibration due', '传感器校准即将到期'),
  calibration_overdue: w('Sensor calibration overdue', '传感器校准已过期'),
  reading_conflict: w('Conflicting readings from a sensor', '传感器读数冲突'),
  stability_budget_low: w('Batch stability budget running low', '批次稳定性预算即将用尽'),
  stability_budget_exhausted: w('Batch stability budget used up', '批次稳定性预算已用尽'),
} satisfies Record<string, Words>;

export const SEVERITY_WORDS = {
  info: w('Information', '提示'),
  warning: w('Warning', '预警'),
  minor: w('Minor', '一般'),
  major: w('Major', '严重'),
  critical: w('Critical', '紧急'),
} satisfies Record<string, Words>;

/** Alert and incident states (the incident states are a subset); shelved is the board's view of a shelf. */
export const ALERT_STATE_WORDS = {
  pending: w('Pending', '待触发'),
  active: w('Active', '报警中'),
  acknowledged: w('Acknowledged', '已确认'),
  cleared: w('Cleared', '已恢复'),
  closed: w('Closed', '已关闭'),
  discarded: w('Recovered within the delay', '延时内已恢复'),
  retracted: w('Retracted', '已撤回'),
  shelved: w('Shelved', '已搁置'),
} satisfies Record<string, Words>;
