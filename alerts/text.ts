import { z } from 'zod';
import type { AlertKind } from '../core/config/alert-rules.js';
import type { severities } from '../core/config/alert-rules.js';
import type { LocalizedText } from '../core/config/alarm-policy.js';
import type { locationKinds } from '../core/config/schema.js';
import type { SignatureRecord } from '../audit/e-signature.js';
import type { Alert, alertStates } from './book.js';
import { ALERT_KIND_WORDS, ALERT_STATE_WORDS, SEVERITY_WORDS } from './event-words.js';
import type { Incident, Shelf } from './incident.js';

/**
 * Alarm rationalization (ISA-18.2, DESIGN.md §5): every alarm says in plain words what happened,
 * where (names, not ids), since when, how far and how long out, what to do, and where the
 * temperature is heading — in English and Simplified Chinese. Nothing a person reads carries a
 * raw code: kinds, severities, states and place kinds all have words.
 */
export const alarmTextSchema = z.object({
  /** One line a pager or SMS can carry. */
  title: z.string(),
  what: z.string(),
  where: z.string(),
  since: z.string(),
  howFar: z.string(),
  action: z.string(),
  trend: z.string(),
});
export type AlarmText = z.infer<typeof alarmTextSchema>;

export type Lang = 'en' | 'zh-CN';
export type Words = Record<Lang, string>;
type Severity = (typeof severities)[number];
type StateCode = (typeof alertStates)[number];
type LocationKind = (typeof locationKinds)[number];

export interface AlarmContext {
  siteName: string;
  locationName: string;
  locationKind: LocationKind;
  vehicle?: { plate?: string; type?: string };
  deviceNames: Record<string, string>;
  range: { temperature: { min: number; max: number }; humidity?: { min: number; max: number } };
  /** `alarms.procedures[kind]` from the config; without it the default for the kind is used. */
  procedure?: LocalizedText;
  /** Last hour of temperature per sensor, [ts ms, °C]: at least its first, lowest, highest and last points (what the trend sentence says). */
  trend?: Array<{ deviceId: string; points: Array<[number, number]> }>;
  timeZone: string;
  now: number;
  /** The cumulative rule's sliding window (ms), when known: "… within 24 h". */
  cumulativeWindowMs?: number;
}

// The words live in event-words.ts (browser-safe, the board's too); these types make a missing code a compile error.
export const kindLabels: Record<AlertKind, Words> = ALERT_KIND_WORDS;
export const severityLabels: Record<Severity, Words> = SEVERITY_WORDS;
export const stateLabels: Record<StateCode, Words> = ALERT_STATE_WORDS;

/** Where system alarms are placed: a `system` place of every site (not a location of the registry). */
export const SYSTEM_PLACE_PREFIX = 'system:';
export const systemPlaceId = (siteId: string) => `${SYSTEM_PLACE_PREFIX}${siteId}`;
export const isSystemPlace = (locationId: string) => locationId.startsWith(SYSTEM_PLACE_PREFIX);
export const systemPlaceName: Words = { en: 'Monitoring system', 'zh-CN': '监控系统' };
const systemKindSet = new Set<AlertKind>(['influxdb_unreachable', 'spool_backlog', 'spool_full', 'backup_failed', 'audit_broken', 'clock_off']);
const isSystem = (kind: AlertKind) => systemKindSet.has(kind);
/** Calibration alarms are about one sensor but placed at the site's `system` place (calibration/alarms.ts). */
const isCalibration = (kind: AlertKind) => kind === 'calibration_due' || kind === 'calibration_overdue';
/** About one sensor, placed at its site's `system` place: calibration and data-integrity alarms. */
const isSensorRecord = (kind: AlertKind) => isCalibration(kind) || kind === 'reading_conflict';
/** Stability budget alarms are about one batch (its id in deviceId), placed at the site's `system` place (stability/alarms.ts). */
const isStability = (kind: AlertKind) => kind === 'stability_budget_low' || kind === 'stability_budget_exhausted';
/** Kinds at a site's `system` place: their place is the monitoring system, and they have no temperature trend. */
const atSystemPlace = (kind: AlertKind) => isSystem(kind) || isSensorRecord(kind) || isStability(kind);

export const locationKindLabels: Record<LocationKind, Words> = {
  cold_room: { en: 'cold room', 'zh-CN': '冷库' },
  freezer: { en: 'freezer', 'zh-CN': '冷冻库' },
  ambient_zone: { en: 'ambient zone', 'zh-CN': '常温库区' },
  vehicle_compartment: { en: 'vehicle compartment', 'zh-CN': '车厢' },
};

const excursionStore: Words = {
  en: '1. Check that the door is shut and the cooling unit is running (power, alarm panel, set point, defrost). 2. If the temperature is not back in range within 30 min, move the goods to the backup cold store. 3. Put the affected goods on hold (quarantine) until QA decides on them. 4. Record what you found and did in the acknowledgement comment.',
  'zh-CN':
    '1. 检查库门是否关闭、制冷机组是否运行（电源、报警面板、设定温度、除霜）。2. 如 30 分钟内温度未恢复到范围内，将货物转移至备用冷库。3. 受影响的货物暂停发货（隔离），待质量部门处理。4. 在确认报警的备注中记录检查结果和所采取的措施。',
};
const excursionVehicle: Words = {
  en: '1. Stop where it is safe; check that the compartment doors are shut and the refrigeration unit is running (fuel or power, set point, defrost). 2. Inform dispatch. 3. If the temperature is not back in range within 30 min, transfer the goods to a backup vehicle or the nearest qualified cold store. 4. Mark the affected goods for QA review on arrival (quarantine). 5. Record what you found and did in the acknowledgement comment.',
  'zh-CN':
    '1. 在安全处停车，检查车厢门是否关闭、冷机是否运行（燃油或电源、设定温度、除霜）。2. 通知调度。3. 如 30 分钟内温度未恢复，将货物转至备用车辆或最近的合格冷库。4. 受影响货物到达后交质量部门审核（隔离）。5. 在确认报警的备注中记录检查结果和所采取的措施。',
};
const excursionLowStore: Words = {
  en: "1. Check the cooling unit's set point and thermostat, and that goods are not against the evaporator. 2. If the temperature is not back in range within 30 min, move the goods to the backup cold store. 3. Put goods that must not freeze on hold (quarantine) until QA decides on them. 4. Record what you found and did in the acknowledgement comment.",
  'zh-CN':
    '1. 检查制冷机组的设定温度和温控器，确认货物未贴近蒸发器。2. 如 30 分钟内温度未恢复到范围内，将货物转移至备用冷库。3. 不得冻结的货物暂停发货（隔离），待质量部门处理。4. 在确认报警的备注中记录检查结果和所采取的措施。',
};
const warning: Words = {
  en: 'The temperature is close to its limit: check the door and the cooling unit now, pause loading, and watch the trend. Get the backup store ready in case it goes out of range. Note what you found in the acknowledgement comment.',
  'zh-CN': '温度已接近限值：立即检查门和制冷机组，暂停装卸，关注温度趋势；做好转移到备用库的准备。在确认报警的备注中记录检查结果。',
};
const humidity: Words = {
  en: 'Check door seals, the dehumidifier or humidifier, and for condensation or wet packaging. If humidity is not back in range within 2 h, inform QA, who decide whether moisture-sensitive goods are put on hold. Record what you found in the acknowledgement comment.',
  'zh-CN':
    '检查门封条、除湿机或加湿器，以及是否有冷凝水或包装受潮。如 2 小时内湿度未恢复，通知质量部门，由其决定是否隔离对湿度敏感的货物。在确认报警的备注中记录检查结果。',
};

/** What to do when nothing is configured for the kind: concrete steps a site would accept. */
export function defaultProcedure(kind: AlertKind, locationKind: LocationKind): Words {
  const vehicle = locationKind === 'vehicle_compartment';
  switch (kind) {
    case 'temperature_high':
      return vehicle ? excursionVehicle : excursionStore;
    case 'temperature_low':
      return vehicle ? excursionVehicle : excursionLowStore;
    case 'temperature_warning_high':
    case 'temperature_warning_low':
      return warning;
    case 'humidity_high':
    case 'humidity_low':
      return humidity;
    case 'cumulative_time_out_of_range':
      return {
        en: 'The total time out of range has used up its budget: inform QA today. QA reviews the stability data of the stored products and decides on release or quarantine. Look for the repeated cause (door practice, defrost, cooling capacity) and record it in the acknowledgement comment.',
        'zh-CN':
          '累计超标时间已超出允许值：当天通知质量部门，由其根据产品稳定性数据决定放行或隔离。查找反复超标的原因（开门习惯、除霜、制冷能力），并在确认报警的备注中记录。',
      };
    case 'rate_of_change':
      return {
        en: 'Check whether the sensor was moved, touched or left outside the load, and whether the cooling unit shows a fault. Confirm the temperature with a calibrated hand-held thermometer and record both readings in the acknowledgement comment.',
        'zh-CN': '检查传感器是否被移动、触碰或离开货物区域，制冷机组是否有故障。用经校准的手持温度计核对温度，并在确认报警的备注中记录两个读数。',
      };
    case 'door_open':
      return vehicle
        ? {
            en: 'Close the compartment door now (finish loading first if under way). Check the door seal and lock, and that the temperature recovers within 15 min. Record the reason in the acknowledgement comment.',
            'zh-CN': '立即关闭车厢门（如正在装卸，完成后立即关闭）。检查门封条和门锁，确认温度在 15 分钟内恢复。在确认报警的备注中记录开门原因。',
          }
        : {
            en: 'Close the door now (finish loading first if under way). Check the door seal and the door closer, and that the temperature recovers within 15 min. Record the reason in the acknowledgement comment.',
            'zh-CN': '立即关门（如正在装卸，完成后立即关闭）。检查门封条和闭门器，确认温度在 15 分钟内恢复。在确认报警的备注中记录开门原因。',
          };
    case 'battery_low':
      return {
        en: "Replace or charge the sensor's battery within 24 h (spare batteries are in the maintenance kit), then check on the board that the sensor reports again.",
        'zh-CN': '在 24 小时内更换或充电传感器电池（备用电池在维护工具包中），之后在看板上确认传感器恢复上报。',
      };
    case 'influxdb_unreachable':
    case 'spool_backlog':
    case 'spool_full':
    case 'backup_failed':
    case 'audit_broken':
    case 'clock_off':
      return systemProcedures[kind];
    case 'calibration_due':
    case 'calibration_overdue':
      return calibrationProcedures[kind];
    case 'reading_conflict':
      return {
        en: '1. QA: open the GSP record or the readings of the sensor and compare the values listed for each conflicting time; both are kept, neither is deleted. 2. Check the device: its clock, its firmware, and that no second device uses the same identity (device token). 3. Assess the effect on the goods and record the finding in the acknowledgement comment.',
        'zh-CN':
          '1. 质量部门：打开该传感器的温湿度记录或读数，逐一比对冲突时间点的各条读数；两条读数均予保留，均不删除。2. 检查设备：时钟、固件，以及是否有另一台设备使用相同身份（设备令牌）。3. 评估对货物的影响，并在确认报警的备注中记录结论。',
      };
    case 'stability_budget_low':
    case 'stability_budget_exhausted':
      return stabilityProcedures[kind];
    case 'device_silent':
      return {
        en: "Check the sensor's power and its network (gateway, SIM or Wi-Fi). Until data is back, read the temperature with a calibrated hand-held thermometer every 30 min and write it down. If the sensor stays offline for more than 2 h, replace it. Readings stored on the sensor upload when it reconnects.",
        'zh-CN':
          '检查传感器的电源和网络（网关、SIM 卡或 Wi-Fi）。数据恢复前，每 30 分钟用经校准的手持温度计测温并手工记录。如传感器离线超过 2 小时，予以更换。传感器离线期间存储的数据会在恢复连接后补传。',
      };
  }
}

const systemProcedures: Record<'influxdb_unreachable' | 'spool_backlog' | 'spool_full' | 'backup_failed' | 'audit_broken' | 'clock_off', Words> = {
  clock_off: {
    en: "Every reading, alarm and signature is time-stamped by this server's clock (devices' own times are kept as sent). 1. Tell IT now. 2. Check the server's time synchronisation (chrony or systemd-timesyncd: synchronised? which server?) and correct the clock. 3. Note the period and size of the difference: QA assesses records, alarm times and signatures made meanwhile. 4. Record the cause and the assessment in the acknowledgement comment.",
    'zh-CN':
      '每条读数、报警和电子签名都以本服务器的时钟记录时间（设备上传的时间按原样保存）。1. 立即通知 IT。2. 检查服务器的时间同步（chrony 或 systemd-timesyncd 是否已同步、同步到哪台服务器）并校正时钟。3. 记下偏差的时段和大小：由质量部门评估期间的记录、报警时间和签名。4. 在确认报警的备注中记录原因和评估结论。',
  },
  influxdb_unreachable: {
    en: "Readings are kept safe in the spool on disk meanwhile, but reports, the board's history and alarm rebuilds depend on InfluxDB. 1. Tell IT now. 2. Check the InfluxDB process or server (running? disk full? network?) and the service log (coldchain start). 3. Check the spool's free disk space. 4. Once it is back, check on the board that the history fills in, and record the outage and its cause in the acknowledgement comment.",
    'zh-CN':
      '期间读数安全保存在磁盘上的本地缓存（spool）中，但报表、看板历史和报警重建都依赖 InfluxDB。1. 立即通知 IT。2. 检查 InfluxDB 进程或服务器（是否运行、磁盘是否已满、网络是否正常）以及服务日志。3. 检查本地缓存所在磁盘的剩余空间。4. 恢复后在看板上确认历史数据已补齐，并在确认报警的备注中记录中断情况和原因。',
  },
  spool_backlog: {
    en: 'Readings are received and kept on disk but are not being written to InfluxDB in time, so the board and reports lag behind. 1. Tell IT now. 2. Check InfluxDB (reachable? refusing writes? disk full?) and the service log for writer errors and dead letters. 3. Check the free disk space of the data directory. 4. Record the cause in the acknowledgement comment once the backlog has drained.',
    'zh-CN':
      '读数已接收并保存在磁盘上，但未能及时写入 InfluxDB，看板和报表因此滞后。1. 立即通知 IT。2. 检查 InfluxDB（能否连接、是否拒绝写入、磁盘是否已满）以及服务日志中的写入错误和死信记录。3. 检查数据目录所在磁盘的剩余空间。4. 积压清空后，在确认报警的备注中记录原因。',
  },
  spool_full: {
    en: 'The local buffer of readings not yet in InfluxDB is large: if the disk fills up, new readings can no longer be accepted. 1. Tell IT now. 2. Free disk space or enlarge the data volume. 3. Restore the connection to InfluxDB so the buffer drains (see the service log). 4. Record the cause in the acknowledgement comment.',
    'zh-CN':
      '尚未写入 InfluxDB 的本地缓存已很大：磁盘一旦写满，将无法再接收新读数。1. 立即通知 IT。2. 清理磁盘空间或扩容数据卷。3. 恢复与 InfluxDB 的连接，使缓存写出（见服务日志）。4. 在确认报警的备注中记录原因。',
  },
  backup_failed: {
    en: 'The GSP record has no recent backup. 1. Tell IT today. 2. Check the service log for the backup error (backup directory writable? disk full? InfluxDB reachable?). 3. Run a backup by hand (coldchain backup) and check it completes. 4. Record the cause and the backup made in the acknowledgement comment.',
    'zh-CN':
      'GSP 记录近期没有备份。1. 当天通知 IT。2. 查看服务日志中的备份错误（备份目录是否可写、磁盘是否已满、InfluxDB 能否连接）。3. 手动执行一次备份（coldchain backup）并确认完成。4. 在确认报警的备注中记录原因和补做的备份。',
  },
  audit_broken: {
    en: 'The audit trail did not verify when the service started: an entry was altered, removed or damaged. 1. Inform QA today: this is a data-integrity deviation. 2. Do not edit or delete the audit file. 3. Run coldchain audit verify to see where the chain breaks, and compare with the latest backup. 4. Record the findings in the acknowledgement comment and open a deviation report.',
    'zh-CN':
      '服务启动时审计追踪校验未通过：有记录被修改、删除或损坏。1. 当天通知质量部门：这是数据完整性偏差。2. 不要编辑或删除审计文件。3. 运行 coldchain audit verify 查看链条断开的位置，并与最近的备份比对。4. 在确认报警的备注中记录检查结果并提交偏差报告。',
  },
};

const calibrationProcedures: Record<'calibration_due' | 'calibration_overdue', Words> = {
  calibration_due: {
    en: "1. Book the sensor's calibration with an accredited laboratory (or swap in a calibrated spare) before the due date. 2. When the new certificate arrives, record it with its points and errors found (coldchain calibration add); the alarm then clears. 3. Note the booking in the acknowledgement comment.",
    'zh-CN':
      '1. 在到期前向有资质的校准机构预约该传感器的校准（或换上已校准的备用传感器）。2. 收到新的校准证书后，连同校准点和示值误差一并录入（coldchain calibration add），报警随即恢复。3. 在确认报警的备注中记录预约情况。',
  },
  calibration_overdue: {
    en: '1. Inform QA today: readings of this sensor since the due date are out of calibration and reports flag them. 2. Calibrate or replace the sensor now; until then, check the place with a calibrated hand-held thermometer twice a day and write it down. 3. Record the new certificate (coldchain calibration add). 4. QA assesses the readings taken while it was overdue; record the outcome in the acknowledgement comment.',
    'zh-CN':
      '1. 当天通知质量部门：该传感器到期后的读数已超出校准有效期，报表中会标注。2. 立即校准或更换传感器；在此之前，每天两次用经校准的手持温度计核对并手工记录。3. 录入新的校准证书（coldchain calibration add）。4. 由质量部门评估超期期间的读数，并在确认报警的备注中记录结论。',
  },
};

const stabilityProcedures: Record<'stability_budget_low' | 'stability_budget_exhausted', Words> = {
  stability_budget_low: {
    en: "1. Tell QA today: little of this batch's stability budget is left (coldchain batch stability BATCH shows the ledger). 2. Route the batch's remaining legs and storage to avoid any further excursion; check the reefer and the cold rooms it will pass. 3. Record in the acknowledgement comment what was arranged.",
    'zh-CN':
      '1. 当天通知质量部门：该批次剩余的稳定性预算已不多（coldchain batch stability 批号 可查看台账）。2. 安排该批次后续的运输与储存，避免再次超标；检查其将经过的冷藏车和冷库。3. 在确认报警的备注中记录所作安排。',
  },
  stability_budget_exhausted: {
    en: "1. Quarantine the batch at every place that holds it: do not release or dispense it. 2. QA opens an investigation against the product's stability data (the ledger lists every excursion, where and how long). 3. Only QA decides: release after a signed add-back with the investigation's number (coldchain batch add-back), or reject. 4. Record the decision in the acknowledgement comment.",
    'zh-CN':
      '1. 在所有存放该批次的地点将其隔离：不得放行或发放。2. 质量部门依据产品稳定性数据开展调查（台账列出每次超标的地点与时长）。3. 仅由质量部门决定：凭调查编号签名补回预算后放行（coldchain batch add-back），或拒收。4. 在确认报警的备注中记录决定。',
  },
};

export const localize = (text: LocalizedText, lang: Lang): string => (typeof text === 'string' ? text : text[lang]);

// ---- figures in words ----------------------------------------------------------------------

const num = (n: number, digits = 1): string => {
  const r = Number(n.toFixed(digits));
  return String(Object.is(r, -0) ? 0 : r);
};
const celsius = (n: number) => `${num(n)} °C`;
const rh = (n: number) => `${num(n)} %RH`;

/** "1 h 5 min" / "1小时5分钟"; seconds only under a minute, minutes dropped beyond a day. */
export function formatDuration(ms: number, lang: Lang): string {
  const zh = lang === 'zh-CN';
  const safe = Math.max(0, ms);
  if (safe < 60_000) {
    const s = Math.round(safe / 1000);
    return zh ? `${s}秒` : `${s} s`;
  }
  const minutes = Math.round(safe / 60_000);
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  if (d > 0) return zh ? `${d}天${h ? `${h}小时` : ''}` : `${d} d${h ? ` ${h} h` : ''}`;
  if (h > 0) return zh ? `${h}小时${m ? `${m}分钟` : ''}` : `${h} h${m ? ` ${m} min` : ''}`;
  return zh ? `${m}分钟` : `${m} min`;
}

// One formatter per time zone: making an Intl.DateTimeFormat costs far more than formatting with
// one, and every open incident's text on every board overview formats several times.
const timeFormats = new Map<string, Intl.DateTimeFormat>();

/** "2024-05-01 14:05" in the given zone (24-hour clock, the same in both languages). */
export function formatTime(ts: number, timeZone: string): string {
  let format = timeFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    timeFormats.set(timeZone, format);
  }
  const parts = format.formatToParts(new Date(ts));
  const get = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}`;
}

// ---- what is being described ----------------------------------------------------------------

/** One alert, or an incident's headline members folded together. */
interface Situation {
  kind: AlertKind;
  severity: Severity;
  state: StateCode;
  ongoing: boolean;
  occurredAt: number;
  clearedAt: number | null;
  detectedAt: number;
  late: boolean;
  threshold: number;
  /** The worst figure in the kind's unit: °C, %RH, %, °C/h, or ms (door open, silent gap, cumulative). */
  worst: number;
  /** How long the condition lasted (or has lasted so far). */
  spanMs: number;
  /** Sensors that see the headline condition. */
  seenBy: string[];
  otherKinds: AlertKind[];
  relapses: number;
  chattering: boolean;
  acknowledged: SignatureRecord | null;
  closed: SignatureRecord | null;
  shelved: Shelf | null;
  incident: boolean;
}

// Kinds whose worst value is the lowest one.
const lowKinds = new Set<AlertKind>([
  'temperature_low',
  'temperature_warning_low',
  'humidity_low',
  'battery_low',
  'calibration_due',
  'calibration_overdue',
  // Stability budgets: the figure is what is left, % of the allowance.
  'stability_budget_low',
  'stability_budget_exhausted',
]);

const spanOf = (a: Alert, now: number) => Math.max(0, a.durationMs ?? (a.clearedAt ?? now) - a.occurredAt);

/** The worst figure of one alert; door and silence grow while open, which `peak` only catches up with on changes. */
function figureOf(a: Alert, now: number): number {
  // A folded door alert spans its relapses and the closed time between them: then only the peak is the longest opening.
  if (a.kind === 'door_open') return a.relapses > 0 ? a.peak : Math.max(a.peak, spanOf(a, now));
  // device_silent: occurredAt is the last reading + the timeout, so the gap runs from occurredAt − threshold.
  if (a.kind === 'device_silent') return Math.max(a.peak, (a.clearedAt ?? now) - (a.occurredAt - a.threshold));
  return a.peak;
}

const alertOngoing = (a: Alert) => a.clearedAt === null && (a.state === 'pending' || a.state === 'active' || a.state === 'acknowledged');

function fold(
  kind: AlertKind,
  members: Alert[],
  now: number,
): { threshold: number; worst: number; spanMs: number; occurredAt: number; clearedAt: number | null } {
  const figures = members.map((m) => figureOf(m, now));
  const worst = lowKinds.has(kind) ? Math.min(...figures) : Math.max(...figures);
  // The threshold of the sensor that saw the worst value (they normally share one).
  const threshold = members[figures.indexOf(worst)]!.threshold;
  const occurredAt = Math.min(...members.map((m) => m.occurredAt));
  const open = members.some(alertOngoing);
  const clearedAt = open ? null : Math.max(...members.map((m) => m.clearedAt ?? m.occurredAt + spanOf(m, now)));
  return { threshold, worst, spanMs: Math.max(0, (clearedAt ?? now) - occurredAt), occurredAt, clearedAt };
}

// ---- sentences ------------------------------------------------------------------------------

const zhList = (items: string[]) => items.join('、');
const enList = (items: string[]) => items.join(', ');

function deviceName(ctx: AlarmContext, id: string): string {
  return ctx.deviceNames[id] ?? id;
}

/** "Cold room 1 (Shanghai distribution centre)" — short, for the title. */
function shortPlace(ctx: AlarmContext, lang: Lang): string {
  const plate = ctx.vehicle?.plate;
  if (lang === 'zh-CN') return `${ctx.locationName}（${ctx.siteName}${plate ? `，${plate}` : ''}）`;
  return `${ctx.locationName} (${ctx.siteName}${plate ? `, ${plate}` : ''})`;
}

function sensorsShort(s: Situation, ctx: AlarmContext, lang: Lang): string {
  if (s.seenBy.length === 1) return lang === 'zh-CN' ? `传感器 ${deviceName(ctx, s.seenBy[0]!)}` : `sensor ${deviceName(ctx, s.seenBy[0]!)}`;
  return lang === 'zh-CN' ? `${s.seenBy.length}个传感器` : `${s.seenBy.length} sensors`;
}

/** The condition in one phrase, used by the title and the "what" line. */
function headline(s: Situation, ctx: AlarmContext, lang: Lang): string {
  const zh = lang === 'zh-CN';
  const D = (ms: number) => formatDuration(ms, lang);
  const { threshold: thr, worst: v, spanMs } = s;
  const zhFor = s.ongoing ? '已' : '持续';
  const { min, max } = ctx.range.temperature;
  switch (s.kind) {
    case 'temperature_high':
      return zh
        ? `温度高于 ${celsius(thr)} ${zhFor} ${D(spanMs)}，最高 ${celsius(v)}`
        : `temperature above ${celsius(thr)} for ${D(spanMs)}, up to ${celsius(v)}`;
    case 'temperature_low':
      return zh
        ? `温度低于 ${celsius(thr)} ${zhFor} ${D(spanMs)}，最低 ${celsius(v)}`
        : `temperature below ${celsius(thr)} for ${D(spanMs)}, down to ${celsius(v)}`;
    case 'temperature_warning_high':
      return zh
        ? `温度接近上限 ${celsius(max)}：高于临界值 ${celsius(thr)} ${zhFor} ${D(spanMs)}，最高 ${celsius(v)}`
        : `temperature near the ${celsius(max)} limit: above ${celsius(thr)} for ${D(spanMs)}, up to ${celsius(v)}`;
    case 'temperature_warning_low':
      return zh
        ? `温度接近下限 ${celsius(min)}：低于临界值 ${celsius(thr)} ${zhFor} ${D(spanMs)}，最低 ${celsius(v)}`
        : `temperature near the ${celsius(min)} limit: below ${celsius(thr)} for ${D(spanMs)}, down to ${celsius(v)}`;
    case 'humidity_high':
      return zh ? `湿度高于 ${rh(thr)} ${zhFor} ${D(spanMs)}，最高 ${rh(v)}` : `humidity above ${rh(thr)} for ${D(spanMs)}, up to ${rh(v)}`;
    case 'humidity_low':
      return zh ? `湿度低于 ${rh(thr)} ${zhFor} ${D(spanMs)}，最低 ${rh(v)}` : `humidity below ${rh(thr)} for ${D(spanMs)}, down to ${rh(v)}`;
    case 'cumulative_time_out_of_range': {
      const window = ctx.cumulativeWindowMs;
      return zh
        ? `${window ? `${D(window)}内` : ''}累计超标 ${D(v)}，超过允许的 ${D(thr)}`
        : `out of range for ${D(v)} in total${window ? ` within ${D(window)}` : ''}, more than the ${D(thr)} allowed`;
    }
    case 'rate_of_change':
      return zh ? `温度变化速率 ${num(v)} °C/小时（限值 ${num(thr)} °C/小时）` : `temperature changing at ${num(v)} °C/h (limit ${num(thr)} °C/h)`;
    case 'door_open':
      return zh ? `门${s.ongoing ? '已开启' : '开启了'} ${D(v)}（允许 ${D(thr)}）` : `door ${s.ongoing ? 'open' : 'was open'} for ${D(v)} (allowed ${D(thr)})`;
    case 'battery_low':
      return zh
        ? `${sensorsShort(s, ctx, lang)}电量 ${num(v, 0)} %（低于 ${num(thr, 0)} %）`
        : `battery of ${sensorsShort(s, ctx, lang)} at ${num(v, 0)} % (below ${num(thr, 0)} %)`;
    case 'device_silent':
      return zh
        ? `${sensorsShort(s, ctx, lang)} ${D(v)}无数据（超过 ${D(thr)} 无数据即报警）`
        : `no data from ${sensorsShort(s, ctx, lang)} for ${D(v)} (alarm after ${D(thr)} without data)`;
    case 'influxdb_unreachable':
      return zh
        ? `数据库（InfluxDB）${s.ongoing ? '已' : ''}无法连接 ${D(spanMs)}（超过 ${D(thr)} 即报警）`
        : `the database (InfluxDB) ${s.ongoing ? 'has been' : 'was'} unreachable for ${D(spanMs)} (alarm after ${D(thr)})`;
    case 'spool_backlog':
      return zh
        ? `最早一条未写入数据库的记录已等待 ${D(v)}（超过 ${D(thr)} 即报警）`
        : `the oldest record waiting for the database was ${D(v)} old (alarm after ${D(thr)})`;
    case 'spool_full':
      return zh ? `本地缓存达 ${mb(v)}（超过 ${mb(thr)} 即报警）` : `the local buffer (spool) held ${mb(v)} (alarm above ${mb(thr)})`;
    case 'backup_failed':
      return zh
        ? v > 0
          ? `每日备份失败或逾期，最后一次成功备份在 ${formatTime(v, ctx.timeZone)}`
          : '每日备份失败或逾期，尚无成功的备份'
        : v > 0
          ? `the daily backup failed or is overdue; last good backup ${formatTime(v, ctx.timeZone)}`
          : 'the daily backup failed or is overdue; no good backup yet';
    case 'audit_broken':
      return zh ? '启动时审计追踪校验未通过（记录被修改、删除或损坏）' : 'the audit trail did not verify at start (an entry altered, removed or damaged)';
    case 'clock_off':
      return zh
        ? `服务器时钟与参考时间相差 ${D(v)}（超过 ${D(thr)} 即报警）`
        : `the server clock ${s.ongoing ? 'is' : 'was'} ${D(v)} off the reference time (alarm above ${D(thr)})`;
    case 'calibration_due':
      return zh
        ? `${sensorsShort(s, ctx, lang)}的校准将于 ${formatTime(v, ctx.timeZone)} 到期`
        : `calibration of ${sensorsShort(s, ctx, lang)} due on ${formatTime(v, ctx.timeZone)}`;
    case 'calibration_overdue':
      return zh
        ? `${sensorsShort(s, ctx, lang)}的校准已于 ${formatTime(v, ctx.timeZone)} 过期`
        : `calibration of ${sensorsShort(s, ctx, lang)} overdue since ${formatTime(v, ctx.timeZone)}`;
    case 'reading_conflict':
      // threshold: the device time the readings share; worst: when the different one arrived.
      return zh
        ? `${sensorsShort(s, ctx, lang)}对已存储的时间点 ${formatTime(thr, ctx.timeZone)} 发来了不同读数（${formatTime(v, ctx.timeZone)} 收到）`
        : `${sensorsShort(s, ctx, lang)} sent a different reading for ${formatTime(thr, ctx.timeZone)}, a time already stored (received ${formatTime(v, ctx.timeZone)})`;
    case 'stability_budget_low':
      return zh
        ? `批次 ${batchOf(s)} 的稳定性预算仅剩 ${num(v, 1)} %（低于 ${num(thr, 0)} % 即报警）`
        : `only ${num(v, 1)} % of the stability budget of batch ${batchOf(s)} is left (alarm below ${num(thr, 0)} %)`;
    case 'stability_budget_exhausted':
      return zh
        ? `批次 ${batchOf(s)} 的稳定性预算已用尽（剩余 ${num(v, 1)} %）`
        : `the stability budget of batch ${batchOf(s)} is used up (${num(v, 1)} % left)`;
  }
}

/** A stability alarm's batch: its id is the alert's deviceId. */
const batchOf = (s: Situation) => s.seenBy[0] ?? '—';

const mb = (bytes: number) => `${num(bytes / 1_048_576, 0)} MB`;

function howFar(s: Situation, ctx: AlarmContext, lang: Lang): string {
  const zh = lang === 'zh-CN';
  const D = (ms: number) => formatDuration(ms, lang);
  const { threshold: thr, worst: v, spanMs } = s;
  const { min, max } = ctx.range.temperature;
  const tRange = zh ? `允许范围 ${num(min)}–${num(max)} °C。` : `Allowed range ${celsius(min)} to ${celsius(max)}.`;
  const hr = ctx.range.humidity;
  const hRange = hr ? (zh ? `允许范围 ${num(hr.min)}–${num(hr.max)} %RH。` : `Allowed range ${rh(hr.min)} to ${rh(hr.max)}.`) : '';
  const lasted = zh ? (s.ongoing ? `已持续 ${D(spanMs)}` : `持续 ${D(spanMs)}`) : s.ongoing ? `for ${D(spanMs)} so far` : `for ${D(spanMs)}`;
  switch (s.kind) {
    case 'temperature_high':
      return zh
        ? `最高超出上限 ${celsius(thr)} 达 ${celsius(v - thr)}（峰值 ${celsius(v)}），超标${lasted}。${tRange}`
        : `Up to ${celsius(v - thr)} above the ${celsius(thr)} limit (peak ${celsius(v)}); out of range ${lasted}. ${tRange}`;
    case 'temperature_low':
      return zh
        ? `最多低于下限 ${celsius(thr)} 达 ${celsius(thr - v)}（最低 ${celsius(v)}），超标${lasted}。${tRange}`
        : `Down to ${celsius(thr - v)} below the ${celsius(thr)} limit (lowest ${celsius(v)}); out of range ${lasted}. ${tRange}`;
    case 'temperature_warning_high': {
      const margin = v < max ? (zh ? `距上限还差 ${celsius(max - v)}` : `${celsius(max - v)} short of the limit`) : zh ? `已达到上限` : `at or over the limit`;
      return zh
        ? `峰值 ${celsius(v)}，高于临界值 ${celsius(thr)}，${margin}；在临界区${lasted}。${tRange}`
        : `Peak ${celsius(v)}, above the warning level ${celsius(thr)}, ${margin}; in the warning band ${lasted}. ${tRange}`;
    }
    case 'temperature_warning_low': {
      const margin = v > min ? (zh ? `距下限还差 ${celsius(v - min)}` : `${celsius(v - min)} short of the limit`) : zh ? `已达到下限` : `at or under the limit`;
      return zh
        ? `最低 ${celsius(v)}，低于临界值 ${celsius(thr)}，${margin}；在临界区${lasted}。${tRange}`
        : `Lowest ${celsius(v)}, below the warning level ${celsius(thr)}, ${margin}; in the warning band ${lasted}. ${tRange}`;
    }
    case 'humidity_high':
      return zh
        ? `最高超出上限 ${rh(thr)} 达 ${rh(v - thr)}（峰值 ${rh(v)}），超标${lasted}。${hRange}`
        : `Up to ${rh(v - thr)} above the ${rh(thr)} limit (peak ${rh(v)}); out of range ${lasted}. ${hRange}`.trim();
    case 'humidity_low':
      return zh
        ? `最多低于下限 ${rh(thr)} 达 ${rh(thr - v)}（最低 ${rh(v)}），超标${lasted}。${hRange}`
        : `Down to ${rh(thr - v)} below the ${rh(thr)} limit (lowest ${rh(v)}); out of range ${lasted}. ${hRange}`.trim();
    case 'cumulative_time_out_of_range':
      return zh
        ? `累计超标 ${D(v)}，允许 ${D(thr)}，超出 ${D(v - thr)}。${tRange}`
        : `${D(v)} out of range in total against ${D(thr)} allowed: ${D(v - thr)} over. ${tRange}`;
    case 'rate_of_change':
      return zh
        ? `变化速率 ${num(v)} °C/小时，为限值 ${num(thr)} °C/小时的 ${num(v / thr)} 倍；${lasted}。`
        : `${num(v)} °C/h, ${num(v / thr)} times the ${num(thr)} °C/h limit; too fast ${lasted}.`;
    case 'door_open':
      return zh ? `开门 ${D(v)}，比允许的 ${D(thr)} 多 ${D(v - thr)}。` : `Open ${D(v)}, ${D(v - thr)} longer than the ${D(thr)} allowed.`;
    case 'battery_low':
      return zh ? `剩余电量 ${num(v, 0)} %，低于报警值 ${num(thr, 0)} %。` : `${num(v, 0)} % left, under the ${num(thr, 0)} % alarm level.`;
    case 'device_silent':
      return s.ongoing
        ? zh
          ? `已 ${D(v)}未收到数据（报警时限 ${D(thr)}）；这段时间的温度未知。`
          : `No data for ${D(v)} (alarm after ${D(thr)}); the temperature in this time is unknown.`
        : zh
          ? `数据中断 ${D(v)} 后恢复（报警时限 ${D(thr)}）。`
          : `Data resumed after a gap of ${D(v)} (alarm after ${D(thr)}).`;
    case 'influxdb_unreachable':
      return zh
        ? `读数在此期间保存在本地缓存中，恢复后写入；${s.ongoing ? `已持续 ${D(spanMs)}` : `持续 ${D(spanMs)}`}。`
        : `Readings are kept in the local spool meanwhile and written once it is back; ${s.ongoing ? `${D(spanMs)} so far` : `it lasted ${D(spanMs)}`}.`;
    case 'spool_backlog':
      return zh ? `最早的待写入记录已等待 ${D(v)}，限值 ${D(thr)}。` : `Oldest pending record ${D(v)} old against the ${D(thr)} limit.`;
    case 'spool_full':
      return zh ? `待写入 ${mb(v)}，限值 ${mb(thr)}。` : `${mb(v)} waiting against the ${mb(thr)} limit.`;
    case 'backup_failed':
    case 'audit_broken':
      return '—';
    case 'clock_off':
      return zh
        ? '参考时间：已配置的 NTP 服务器（alarms.system.ntp）；无可用 NTP 服务器时，为至少 3 台在线设备时钟的中位数。'
        : "Reference: the configured NTP servers (alarms.system.ntp); where none answers, the median of at least 3 live devices' clocks.";
    case 'calibration_due':
      return zh
        ? `距到期还有 ${D(Math.max(0, v - ctx.now))}（到期前 ${D(thr)} 报警）。读数不做修正。`
        : `Due in ${D(Math.max(0, v - ctx.now))} (alarm ${D(thr)} before the due date). Readings are never offset.`;
    case 'calibration_overdue':
      return zh
        ? `已过期 ${D(Math.max(0, ctx.now - v))}；此后的读数在报表中标注为超出校准有效期。`
        : `Overdue for ${D(Math.max(0, ctx.now - v))}; readings since then are flagged out of calibration in reports.`;
    case 'reading_conflict':
      return zh
        ? '两条读数均已保存；此后的冲突读数并入本报警。温湿度记录和报表的“冲突读数”部分列出每个冲突时间点，各项数值计入两条读数。'
        : 'Both readings are stored; later conflicts of this sensor join this alarm. The GSP record and reports list each conflicting time in their conflicting-readings section, and every figure counts both.';
    case 'stability_budget_low':
      return zh
        ? `每次超标（储存和运输中）都消耗该批次的稳定性预算；剩余 ${num(v, 1)} %，报警线 ${num(thr, 0)} %。`
        : `Every excursion of the batch, in storage and in transport, consumes its stability budget; ${num(v, 1)} % left against the ${num(thr, 0)} % alarm level.`;
    case 'stability_budget_exhausted':
      return zh
        ? `剩余 ${num(v, 1)} %：该批次已无可用预算，或有超标超出了稳定性数据的范围。`
        : `${num(v, 1)} % left: nothing of the budget remains, or an excursion went beyond what the stability data covers.`;
  }
}

function where(s: Situation, ctx: AlarmContext, lang: Lang): string {
  const zh = lang === 'zh-CN';
  if (isStability(s.kind))
    return zh ? `${ctx.siteName}（${systemPlaceName[lang]}）；批次：${batchOf(s)}` : `${ctx.siteName} (${systemPlaceName[lang]}); batch: ${batchOf(s)}`;
  if (isSensorRecord(s.kind)) {
    const names = s.seenBy.map((id) => deviceName(ctx, id));
    return zh
      ? `${ctx.siteName}（${systemPlaceName[lang]}）；传感器：${zhList(names)}`
      : `${ctx.siteName} (${systemPlaceName[lang]}); sensors: ${enList(names)}`;
  }
  if (isSystem(s.kind))
    return zh
      ? `${ctx.siteName} 的冷链监控服务（${systemPlaceName[lang]}）`
      : `The cold-chain monitoring service of ${ctx.siteName} (${systemPlaceName[lang]})`;
  const kind = locationKindLabels[ctx.locationKind][lang];
  const names = s.seenBy.map((id) => deviceName(ctx, id));
  const sensors = zh ? `；传感器：${zhList(names)}` : `; ${names.length === 1 ? 'sensor' : 'sensors'}: ${enList(names)}`;
  const v = ctx.vehicle;
  if (ctx.locationKind === 'vehicle_compartment') {
    const details = [v?.type, v?.plate && (zh ? `车牌 ${v.plate}` : `plate ${v.plate}`)].filter(Boolean) as string[];
    return zh
      ? `${ctx.siteName}${details.length ? `（${details.join('，')}）` : ''} ${ctx.locationName}（${kind}）${sensors}`
      : `${ctx.locationName} (${kind}) of ${ctx.siteName}${details.length ? ` (${details.join(', ')})` : ''}${sensors}`;
  }
  return zh ? `${ctx.siteName} ${ctx.locationName}（${kind}）${sensors}` : `${ctx.locationName} (${kind}), ${ctx.siteName}${sensors}`;
}

function since(s: Situation, ctx: AlarmContext, lang: Lang): string {
  const zh = lang === 'zh-CN';
  const T = (ts: number) => formatTime(ts, ctx.timeZone);
  const D = (ms: number) => formatDuration(ms, lang);
  const tz = ctx.timeZone;
  // A silence began at the last reading; occurredAt is when the timeout ran out.
  const lastReading =
    s.kind === 'device_silent' ? (zh ? `最后一次数据 ${T(s.occurredAt - s.threshold)}；` : `Last data at ${T(s.occurredAt - s.threshold)}; alarm `) : '';
  const when0 =
    s.clearedAt === null
      ? zh
        ? `自 ${T(s.occurredAt)}（${tz}）起，至今 ${D(ctx.now - s.occurredAt)}。`
        : `Since ${T(s.occurredAt)} (${tz}), ${D(ctx.now - s.occurredAt)} ago.`
      : zh
        ? `${T(s.occurredAt)} 至 ${T(s.clearedAt)}（${tz}）。`
        : `From ${T(s.occurredAt)} to ${T(s.clearedAt)} (${tz}).`;
  const when = lastReading && !zh ? `${lastReading}${when0[0]!.toLowerCase()}${when0.slice(1)}` : `${lastReading}${when0}`;
  if (!s.late) return when;
  const delay = D(s.detectedAt - s.occurredAt);
  return zh
    ? `${when}延迟发现：数据在发生后 ${delay} 才上传（设备断网期间存储、恢复后补传），于 ${T(s.detectedAt)} 发现。`
    : `${when} Found late: the readings arrived ${delay} after it happened (stored on the device during a connection gap and uploaded afterwards), detected at ${T(s.detectedAt)}.`;
}

function what(s: Situation, ctx: AlarmContext, lang: Lang): string {
  const zh = lang === 'zh-CN';
  const T = (ts: number) => formatTime(ts, ctx.timeZone);
  const kind = kindLabels[s.kind][lang];
  const severity = severityLabels[s.severity][lang];
  const state = stateLabels[s.state][lang];
  const phrase = headline(s, ctx, lang);
  const parts: string[] = [];
  if (zh) {
    parts.push(`${kind}（${severity}，${state}）：${ctx.locationName} ${phrase}。`);
    if (s.incident && !isSystem(s.kind) && !isStability(s.kind)) {
      const names = zhList(s.seenBy.map((id) => deviceName(ctx, id)));
      parts.push(s.seenBy.length > 1 ? `${s.seenBy.length}个传感器同时检测到：${names}。` : `由传感器 ${names} 检测到。`);
    }
    if (s.otherKinds.length) parts.push(`同时：${zhList(s.otherKinds.map((k) => kindLabels[k][lang]))}。`);
    if (s.relapses > 0) parts.push(`恢复后又反复出现 ${s.relapses} 次${s.chattering ? '（频繁报警，应排查根本原因）' : ''}。`);
    if (s.acknowledged) parts.push(`已由 ${s.acknowledged.printedName} 于 ${T(s.acknowledged.at)} 确认。`);
    if (s.closed) parts.push(`已由 ${s.closed.printedName} 于 ${T(s.closed.at)} 关闭。`);
    if (s.shelved) parts.push(`已由 ${s.shelved.printedName} 搁置至 ${T(s.shelved.until)}，原因：${s.shelved.reason}。`);
    if (s.state === 'retracted') parts.push('后续数据表明未发生。');
  } else {
    parts.push(`${kind} (${severity}, ${state.toLowerCase()}): in ${ctx.locationName}, ${phrase}.`);
    if (s.incident && !isSystem(s.kind) && !isStability(s.kind)) {
      const names = enList(s.seenBy.map((id) => deviceName(ctx, id)));
      parts.push(s.seenBy.length > 1 ? `Seen by ${s.seenBy.length} sensors: ${names}.` : `Seen by sensor ${names}.`);
    }
    if (s.otherKinds.length) parts.push(`Also: ${enList(s.otherKinds.map((k) => kindLabels[k][lang]))}.`);
    if (s.relapses > 0)
      parts.push(`It came back ${s.relapses} ${s.relapses === 1 ? 'time' : 'times'} after clearing${s.chattering ? ' (chattering: fix the cause)' : ''}.`);
    if (s.acknowledged) parts.push(`Acknowledged by ${s.acknowledged.printedName} at ${T(s.acknowledged.at)}.`);
    if (s.closed) parts.push(`Closed by ${s.closed.printedName} at ${T(s.closed.at)}.`);
    if (s.shelved) parts.push(`Shelved by ${s.shelved.printedName} until ${T(s.shelved.until)}: ${s.shelved.reason}.`);
    if (s.state === 'retracted') parts.push('Later data show it did not happen.');
  }
  return parts.join(zh ? '' : ' ');
}

function action(s: Situation, ctx: AlarmContext, lang: Lang): string {
  const zh = lang === 'zh-CN';
  if (s.state === 'retracted') return zh ? '无需处理：后续数据表明未发生。' : 'No action needed: later data show it did not happen.';
  if (s.state === 'discarded') return zh ? '无需处理：在报警延时内已恢复。' : 'No action needed: it recovered within the alarm delay.';
  const procedure = ctx.procedure ? localize(ctx.procedure, lang) : defaultProcedure(s.kind, ctx.locationKind)[lang];
  if (s.ongoing) return procedure;
  return zh ? `情况已结束，请完成后续步骤：${procedure}` : `The condition has ended; complete the follow-up: ${procedure}`;
}

/** The last hour of temperature in one sentence per sensor: direction, range, latest value. */
function trend(seenBy: string[], ctx: AlarmContext, lang: Lang): string {
  const zh = lang === 'zh-CN';
  const D = (ms: number) => formatDuration(ms, lang);
  const hourAgo = ctx.now - 3_600_000;
  const lines = seenBy.map((id) => {
    const name = deviceName(ctx, id);
    const label = seenBy.length > 1 ? (zh ? `${name}：` : `${name}: `) : '';
    const points = (ctx.trend?.find((t) => t.deviceId === id)?.points ?? []).filter(([ts]) => ts >= hourAgo && ts <= ctx.now).sort((a, b) => a[0] - b[0]);
    if (points.length === 0) return zh ? `${label}过去1小时无温度数据。` : `${label}No temperature data in the last hour.`;
    const [firstTs, first] = points[0]!;
    const [lastTs, last] = points.at(-1)!;
    const values = points.map((p) => p[1]);
    const lo = Math.min(...values);
    const hi = Math.max(...values);
    const age = ctx.now - lastTs;
    const latest =
      age > 5 * 60_000
        ? zh
          ? `最后读数 ${celsius(last)}（${D(age)}前）`
          : `last reading ${celsius(last)} ${D(age)} ago`
        : zh
          ? `当前 ${celsius(last)}`
          : `now ${celsius(last)}`;
    if (points.length === 1) return zh ? `${label}过去1小时仅有一个读数，${latest}。` : `${label}Only one reading in the last hour; ${latest}.`;
    const span = lastTs - firstTs;
    const over = span >= 50 * 60_000 ? (zh ? '过去1小时' : 'over the last hour') : zh ? `过去${D(span)}` : `over the last ${D(span)}`;
    const delta = last - first;
    const spread = zh ? `（${num(lo)}–${num(hi)} °C）` : ` (${celsius(lo)} to ${celsius(hi)})`;
    if (Math.abs(delta) < 0.3) return zh ? `${label}${over}基本稳定${spread}，${latest}。` : `${label}Steady ${over}${spread}, ${latest}.`;
    const dir = delta > 0 ? (zh ? '上升' : 'rising') : zh ? '下降' : 'falling';
    return zh
      ? `${label}${over}${dir} ${celsius(Math.abs(delta))}${spread}，${latest}。`
      : `${label}${dir[0]!.toUpperCase()}${dir.slice(1)} ${celsius(Math.abs(delta))} ${over}${spread}, ${latest}.`;
  });
  return lines.join(zh ? '' : ' ');
}

function render(s: Situation, context: AlarmContext, lang: Lang): AlarmText {
  const zh = lang === 'zh-CN';
  // A system alarm's place is the monitoring system itself, named in the reader's language.
  const ctx = atSystemPlace(s.kind) ? { ...context, locationName: systemPlaceName[lang] } : context;
  const count =
    s.incident && s.seenBy.length > 1 && s.kind !== 'device_silent' && s.kind !== 'battery_low'
      ? zh
        ? `（${s.seenBy.length}个传感器）`
        : ` (${s.seenBy.length} sensors)`
      : '';
  const notes: string[] = [];
  if (!s.ongoing) notes.push(stateLabels[s.state][lang]);
  if (s.late) notes.push(zh ? '延迟发现' : 'found late');
  const suffix = notes.length ? (zh ? `（${notes.join('，')}）` : ` — ${notes.join(', ')}`) : '';
  return {
    title: `${shortPlace(ctx, lang)}${zh ? '：' : ': '}${headline(s, ctx, lang)}${count}${suffix}`,
    what: what(s, ctx, lang),
    where: where(s, ctx, lang),
    since: since(s, ctx, lang),
    howFar: howFar(s, ctx, lang),
    action: action(s, ctx, lang),
    trend: atSystemPlace(s.kind) ? '—' : trend(s.seenBy, ctx, lang),
  };
}

export function describeAlert(alert: Alert, ctx: AlarmContext, lang: Lang): AlarmText {
  const folded = fold(alert.kind, [alert], ctx.now);
  return render(
    {
      kind: alert.kind,
      severity: alert.severity,
      state: alert.state,
      ongoing: alertOngoing(alert),
      occurredAt: alert.occurredAt,
      clearedAt: alert.clearedAt,
      detectedAt: alert.detectedAt,
      late: alert.late,
      threshold: alert.threshold,
      worst: folded.worst,
      spanMs: folded.spanMs,
      seenBy: [alert.deviceId],
      otherKinds: [],
      relapses: alert.relapses,
      chattering: alert.chattering,
      acknowledged: alert.acknowledged,
      closed: alert.closed,
      shelved: null,
      incident: false,
    },
    ctx,
    lang,
  );
}

/** Thresholds for an incident whose members are not at hand (e.g. trimmed from memory). */
function fallbackThreshold(kind: AlertKind, ctx: AlarmContext): number {
  const { min, max } = ctx.range.temperature;
  if (kind === 'temperature_low' || kind === 'temperature_warning_low') return min;
  if (kind === 'humidity_high') return ctx.range.humidity?.max ?? 0;
  if (kind === 'humidity_low') return ctx.range.humidity?.min ?? 0;
  return max;
}

/**
 * One text for one incident: its headline kind leads, with how many sensors see it and the worst
 * value among them; the other kinds are named after it. `ctx.procedure` is the headline kind's.
 */
export function describeIncident(incident: Incident, members: Alert[], ctx: AlarmContext, lang: Lang): AlarmText {
  const kind = incident.headline;
  const headMembers = members.filter((m) => m.kind === kind);
  const ongoing = incident.clearedAt === null && (incident.state === 'active' || incident.state === 'acknowledged');
  const figures = headMembers.length
    ? fold(kind, headMembers, ctx.now)
    : {
        threshold: fallbackThreshold(kind, ctx),
        worst: fallbackThreshold(kind, ctx),
        spanMs: Math.max(0, (incident.clearedAt ?? ctx.now) - incident.occurredAt),
        occurredAt: incident.occurredAt,
        clearedAt: incident.clearedAt,
      };
  const seenBy = headMembers.length ? [...new Set(headMembers.map((m) => m.deviceId))] : incident.deviceIds;
  return render(
    {
      kind,
      severity: incident.severity,
      state: incident.state,
      ongoing,
      occurredAt: incident.occurredAt,
      clearedAt: incident.clearedAt,
      detectedAt: incident.detectedAt,
      late: incident.late,
      threshold: figures.threshold,
      worst: figures.worst,
      spanMs: figures.spanMs,
      seenBy,
      otherKinds: incident.kinds.filter((k) => k !== kind),
      relapses: headMembers.reduce((n, m) => n + m.relapses, 0),
      chattering: headMembers.some((m) => m.chattering),
      acknowledged: incident.acknowledged,
      closed: incident.closed,
      shelved: incident.shelved,
      incident: true,
    },
    ctx,
    lang,
  );
}

/** Both languages at once, as the notifier sends them. */
export function describeIncidentBoth(incident: Incident, members: Alert[], ctx: AlarmContext): Record<Lang, AlarmText> {
  return { en: describeIncident(incident, members, ctx, 'en'), 'zh-CN': describeIncident(incident, members, ctx, 'zh-CN') };
}
