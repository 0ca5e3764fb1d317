/**
 * The requirements a validation run shows are met, each with the clause it comes from as
 * `docs/compliance.md` writes it in its first column (tests/validate.test.ts checks that every
 * clause is there), in English and 简体中文.
 */
export interface Requirement {
  id: string;
  /** The regulation and the clause's row in docs/compliance.md. */
  source: 'China GSP annex' | '21 CFR Part 11';
  clause: string;
  en: string;
  zh: string;
}

export const REQUIREMENTS = [
  {
    id: 'GSP-RECORD',
    source: 'China GSP annex',
    clause: 'record fields: temperature, humidity, date, time, location, store zone or vehicle type',
    en: 'Readings are recorded with their values, time and place',
    zh: '记录温湿度数值、日期时间和位置',
  },
  {
    id: 'GSP-ALARM',
    source: 'China GSP annex',
    clause: 'alarms at the warning threshold (临界值) and out of range',
    en: 'Out-of-range conditions raise an alarm',
    zh: '超出范围时报警',
  },
  {
    id: 'GSP-ALARM-NOTIFY',
    source: 'China GSP annex',
    clause: 'alarms on site and at a designated place',
    en: 'Alarms reach the designated people',
    zh: '报警送达指定人员',
  },
  {
    id: 'GSP-ALARM-SMS',
    source: 'China GSP annex',
    clause: 'alarms by SMS to at least 3 designated people',
    en: 'Alarms by SMS to at least 3 people (configuration)',
    zh: '短信报警至少 3 人（配置）',
  },
  {
    id: 'GSP-IMMUTABLE',
    source: 'China GSP annex',
    clause: 'recorded data cannot be modified or deleted',
    en: 'Stored data cannot be altered: storage requires authentication; bad input is refused, not stored as readings',
    zh: '数据不可修改：存储需认证；异常数据被拒收',
  },
  {
    id: 'GSP-BACKUP',
    source: 'China GSP annex',
    clause: 'daily backup',
    en: 'A daily backup is configured',
    zh: '已配置每日备份',
  },
  {
    id: 'GSP-RETENTION',
    source: 'China GSP annex',
    clause: 'retention ≥ 5 years',
    en: 'Records are kept at least 5 years',
    zh: '记录保存至少 5 年',
  },
  {
    id: 'GSP-SENSORS',
    source: 'China GSP annex',
    clause: 'sensors per store (2, one per 100 m² cold / 300 m² other) and vehicle (2, one per further 20 m³); refresh ≤ 1 min; SMS to 3; retention; backup',
    en: 'The configuration meets the GSP sensor, refresh and alarm rules',
    zh: '配置符合 GSP 测点、刷新和报警要求',
  },
  {
    id: 'CFR-11.10(a)',
    source: '21 CFR Part 11',
    clause: '11.10(a) validation',
    en: 'The installed system is validated: versions recorded, running and healthy',
    zh: '系统经过验证：记录版本，运行正常',
  },
  {
    id: 'CFR-11.10(b)',
    source: '21 CFR Part 11',
    clause: '11.10(b) accurate and complete copies',
    en: 'Accurate and complete copies of records, with digests',
    zh: '准确完整的记录副本（含摘要）',
  },
  {
    id: 'CFR-11.10(c)',
    source: '21 CFR Part 11',
    clause: '11.10(c) protection of records',
    en: 'Records are protected: acknowledged data is stored, storage authenticated, backed up',
    zh: '记录受保护：确认即存储，存储需认证，有备份',
  },
  {
    id: 'CFR-11.10(d)',
    source: '21 CFR Part 11',
    clause: '11.10(d) limited access',
    en: 'Access is limited to authorised users',
    zh: '仅限授权用户访问',
  },
  {
    id: 'CFR-11.10(e)',
    source: '21 CFR Part 11',
    clause: '11.10(e) audit trail: secure, time-stamped, never hiding earlier values',
    en: 'A secure, time-stamped audit trail records the actions',
    zh: '安全、带时间戳的审计追踪记录操作',
  },
  {
    id: 'CFR-11.10(g)',
    source: '21 CFR Part 11',
    clause: '11.10(g) authority checks',
    en: 'Only authorised people may sign',
    zh: '仅授权人员可签名',
  },
  {
    id: 'CFR-11.10(h)',
    source: '21 CFR Part 11',
    clause: '11.10(h) device checks',
    en: 'Data comes only from known devices and is checked for validity',
    zh: '数据仅来自已知设备并经有效性检查',
  },
  {
    id: 'CFR-11.50',
    source: '21 CFR Part 11',
    clause: '11.50 signature manifestation',
    en: 'Signed records show printed name, date and time, and meaning',
    zh: '签名记录显示姓名、日期时间和含义',
  },
  {
    id: 'CFR-11.200(a)',
    source: '21 CFR Part 11',
    clause: '11.200(a) two identification components',
    en: 'Signing needs user name and password',
    zh: '签名需要用户名和密码',
  },
] as const satisfies readonly Requirement[];

export type RequirementId = (typeof REQUIREMENTS)[number]['id'];
