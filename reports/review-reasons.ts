import { z } from 'zod';
import type { Registry } from '../core/registry.js';
import { preCoolingSchema } from '../shipments/schema.js';
import type { ReportLanguage } from './schema.js';

/**
 * Why a shipment goes to QA review, as data: the JSON keeps `reviewReasons` in English for the
 * programs that read it, and every rendered report says the same reasons in its own language from
 * these. Places and sensors are carried by name (with the id where a name exists), since people
 * read them.
 */
const problem = preCoolingSchema.shape.problems.element;
export const reviewReasonSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('excursions'), count: z.number().int(), min: z.number(), max: z.number() }),
  z.object({ kind: z.literal('completeness'), percent: z.number(), threshold: z.number() }),
  z.object({ kind: z.literal('no_readings'), segment: z.number().int(), place: z.string() }),
  z.object({ kind: z.literal('alarms_open'), count: z.number().int() }),
  z.object({ kind: z.literal('no_custody') }),
  z.object({ kind: z.literal('out_of_calibration'), readings: z.number().int(), sensors: z.array(z.string()) }),
  z.object({ kind: z.literal('conflicts'), count: z.number().int() }),
  z.object({ kind: z.literal('pre_cooling_failed'), place: z.string(), at: z.number(), problems: z.array(problem) }),
  z.object({ kind: z.literal('receiver_refused'), name: z.string(), temperature: z.number() }),
  z.object({ kind: z.literal('arrival_out_of_range'), temperature: z.number(), min: z.number(), max: z.number() }),
  z.object({
    kind: z.literal('stability'),
    batch: z.string(),
    state: z.enum(['low', 'exhausted']),
    /** The ledger's findings as its own section words them, per language. */
    findings: z.object({ en: z.array(z.string()), 'zh-CN': z.array(z.string()) }),
  }),
]);
export type ReviewReason = z.infer<typeof reviewReasonSchema>;

/** "Site / Location", by name where the registry has one. */
export function placeLabel(registry: Registry, locationId: string): string {
  const placed = registry.location(locationId);
  if (!placed) return locationId;
  return `${placed.site.name ?? placed.site.id} / ${placed.location.name ?? placed.location.id}`;
}

/** A sensor by its name with its id, or by its id alone. */
export function sensorLabel(registry: Registry, deviceId: string): string {
  const name = registry.device(deviceId)?.device.name;
  return name ? `${name} (${deviceId})` : deviceId;
}

const PROBLEM_WORDS: Record<z.infer<typeof problem>, { en: string; 'zh-CN': string }> = {
  no_readings: { en: 'no readings stored', 'zh-CN': '无存储读数' },
  below_range: { en: 'below range', 'zh-CN': '低于范围' },
  above_range: { en: 'above range', 'zh-CN': '高于范围' },
  not_covered: { en: 'readings do not cover the window', 'zh-CN': '读数未覆盖整个时段' },
  readings_unavailable: { en: 'readings unavailable', 'zh-CN': '无法读取读数' },
};

/**
 * One reason in words. `when` formats a time: ISO 8601 in the JSON, the report's zone in a
 * rendered report.
 */
export function reviewReasonText(r: ReviewReason, lang: ReportLanguage, when: (ms: number) => string): string {
  const zh = lang === 'zh-CN';
  switch (r.kind) {
    case 'excursions':
      return zh ? `${r.count} 次超出 ${r.min}–${r.max} °C 范围` : `${r.count} excursion(s) outside ${r.min}–${r.max} °C`;
    case 'completeness':
      return zh ? `数据完整率 ${r.percent}% 低于 ${r.threshold}%` : `data completeness ${r.percent}% is below ${r.threshold}%`;
    case 'no_readings':
      return zh ? `第 ${r.segment} 段期间 ${r.place} 无传感器读数` : `no sensor readings at ${r.place} during segment ${r.segment}`;
    case 'alarms_open':
      return zh ? `${r.count} 条报警尚未关闭` : `${r.count} alarm(s) not closed`;
    case 'no_custody':
      return zh ? '尚无交接记录' : 'no custody events yet';
    case 'out_of_calibration':
      return zh
        ? `${r.readings} 条读数来自超出校准有效期的传感器：${r.sensors.join('、')}`
        : `${r.readings} reading(s) from sensor(s) out of calibration: ${r.sensors.join(', ')}`;
    case 'conflicts':
      return zh
        ? `${r.count} 个设备时间点存在冲突读数（同一时间点到达了不同的读数；均已保留）`
        : `${r.count} device time(s) with conflicting readings (a different reading arrived for a time already stored; both are kept)`;
    case 'pre_cooling_failed': {
      const problems = r.problems.map((p) => PROBLEM_WORDS[p][lang]);
      return zh
        ? `${r.place} 于 ${when(r.at)} 装车前预冷不合格（${problems.join('、')}）`
        : `pre-cooling of ${r.place} before loading at ${when(r.at)} failed (${problems.join(', ')})`;
    }
    case 'receiver_refused':
      return zh ? `收货方到货拒收（${r.name}，${r.temperature} °C）` : `the receiver refused the goods on arrival (${r.name}, ${r.temperature} °C)`;
    case 'arrival_out_of_range':
      return zh ? `到货温度 ${r.temperature} °C 超出 ${r.min}–${r.max} °C` : `temperature on arrival ${r.temperature} °C is outside ${r.min}–${r.max} °C`;
    case 'stability': {
      const findings = r.findings[lang].join(zh ? '；' : '; ');
      return zh
        ? `批次 ${r.batch} 的稳定性预算${r.state === 'low' ? '即将用完' : '已用完'}：${findings}`
        : `stability budget of batch ${r.batch} ${r.state === 'low' ? 'running low' : 'used up'}: ${findings}`;
    }
  }
}

/** The JSON's English reasons: times in ISO 8601 (UTC), as before the reasons were data. */
export const englishReasons = (reasons: readonly ReviewReason[]): string[] => reasons.map((r) => reviewReasonText(r, 'en', (ms) => new Date(ms).toISOString()));
