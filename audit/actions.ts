import { inWords } from '../alerts/event-words.js';

/**
 * What each audit action is, in words (English and 简体中文), for everything a person reads: the
 * board's audit view, the audit trail's PDF and CSV. An action not listed (a newer server's, or a
 * custom one) is shown as written, without underscores.
 */
type Words = { en: string; 'zh-CN': string };
const w = (en: string, zh: string): Words => ({ en, 'zh-CN': zh });

export const AUDIT_ACTION_WORDS: Record<string, Words> = {
  'alert.acknowledge': w('Alert acknowledged', '报警已确认'),
  'alert.close': w('Alert closed', '报警已关闭'),
  'incident.acknowledge': w('Alarm acknowledged', '报警事件已确认'),
  'incident.close': w('Alarm closed', '报警事件已关闭'),
  'incident.shelve': w('Alarm shelved', '报警已搁置'),
  'incident.unshelve': w('Alarm unshelved', '报警已取消搁置'),
  'alarm.test': w('Test alarm sent', '报警测试'),
  'config.change': w('Configuration changed', '配置已更改'),
  'config.baseline': w('Configuration baseline recorded', '配置基线已记录'),
  'retention.shorten': w('Retention shortened (records deleted)', '数据保留期已缩短（记录已删除）'),
  'signature.refused': w('Signature refused', '电子签名被拒绝'),
  'security.lockout': w('Sign-in locked out', '登录已锁定'),
  'session.start': w('Signed in to the board', '登录看板'),
  'session.refused': w('Sign-in refused', '登录被拒绝'),
  'mqtt.login.refused': w('Device connection refused', '设备连接被拒绝'),
  'audit.recovered': w('Audit trail repaired after a crash', '审计追踪崩溃后已修复'),
  'calibration.certificate.add': w('Calibration certificate recorded', '校准证书已录入'),
  'calibration.certificate.correct': w('Calibration certificate superseded by a correction', '校准证书已由更正证书替代'),
  'calibration_alarm.raised': w('Calibration alarm raised', '校准报警已触发'),
  'calibration_alarm.cleared': w('Calibration alarm cleared', '校准报警已恢复'),
  'stability.add_back': w('Stability budget given back after an investigation', '调查后补回稳定性预算'),
  'stability_alarm.raised': w('Stability budget alarm raised', '稳定性预算报警已触发'),
  'stability_alarm.cleared': w('Stability budget alarm cleared', '稳定性预算报警已恢复'),
  'integrity_alarm.raised': w('Conflicting-readings alarm raised', '读数冲突报警已触发'),
  'integrity_alarm.cleared': w('Conflicting-readings alarm cleared', '读数冲突报警已恢复'),
  'shipment.create': w('Shipment created', '运单已创建'),
  'shipment.custody': w('Custody recorded', '交接已记录'),
  'shipment.custody.correct': w('Custody corrected', '交接已更正'),
  'shipment.disposition': w('QA disposition', '质量处置'),
  'shipment.link.create': w('Receiver link created', '收货验证链接已创建'),
  'shipment.link.revoke': w('Receiver link revoked', '收货验证链接已撤销'),
  'shipment.pre_cooling': w('Pre-cooling checked before loading', '装车前预冷已核查'),
  'shipment.receipt': w('Receipt recorded by the receiver', '收货方已记录验收结果'),
  'shipment.consignee_notified': w('Consignee notified of an excursion', '已通知收货方超标情况'),
  'disposition released': w('Released by QA', '质量放行'),
  'disposition quarantined': w('Quarantined by QA', '质量隔离'),
  'disposition rejected': w('Rejected by QA', '质量拒收'),
};

/** An action in words in the given language. */
export const auditActionWords = (action: string, lang: 'en' | 'zh-CN'): string => inWords(AUDIT_ACTION_WORDS, action, lang);
