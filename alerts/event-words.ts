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
