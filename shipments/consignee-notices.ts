import type { AlertKind } from '../core/config/alert-rules.js';
import type { Registry } from '../core/registry.js';
import type { Logger } from '../core/logger.js';
import type { Alert, AlertEvent } from '../alerts/book.js';
import type { Notifier } from '../alerts/notifier.js';
import { formatTime, kindLabels, type Lang } from '../alerts/text.js';
import { effectiveCustody, type ShipmentRecord } from './book.js';
import type { ShipmentService } from './service.js';

/** The alerts that are excursions of the goods' conditions (not door, battery, silence or system alarms). */
export const EXCURSION_KINDS: ReadonlySet<AlertKind> = new Set<AlertKind>([
  'temperature_high',
  'temperature_low',
  'humidity_high',
  'humidity_low',
  'cumulative_time_out_of_range',
]);

export interface ConsigneeNoticeDeps {
  shipments: ShipmentService;
  /** The alert service: its events, and the incident trail the notices are recorded on. */
  alerts: {
    on(event: 'event', listener: (event: AlertEvent) => void): unknown;
    recordNotification(incidentId: string, attempt: { channel: string; recipient: string; ok: boolean; outcome: string }): void;
  };
  notifier: Pick<Notifier, 'message'>;
  registry: () => Registry;
  log: Logger;
}

/** The shipments at the alert's place while it is out: a custody segment there overlapping the alert (as the report picks alarms). */
export function shipmentsCarriedAt(records: ShipmentRecord[], alert: Pick<Alert, 'locationId' | 'occurredAt' | 'clearedAt'>): ShipmentRecord[] {
  return records.filter((record) => {
    const timeline = effectiveCustody(record);
    return timeline.some((event, i) => {
      if (event.event === 'delivered' || event.locationId !== alert.locationId) return false;
      const end = timeline[i + 1]?.at ?? Number.POSITIVE_INFINITY;
      return alert.occurredAt < end && (alert.clearedAt ?? Number.POSITIVE_INFINITY) > event.at;
    });
  });
}

/**
 * GDP 9.2: the consignee is told of an excursion affecting its goods. When an excursion alert
 * becomes active at a place, each shipment carried there that names a consignee e-mail or phone
 * gets one message (English and 简体中文) through the notifier; each attempt goes on the
 * incident's trail (`notified` / `notification_failed`, like the tiers' messages) and on the
 * waybill (`consignee_notified`), once per shipment and alert.
 */
export class ConsigneeNotices {
  private readonly sending = new Set<string>();

  constructor(private readonly deps: ConsigneeNoticeDeps) {}

  start(): void {
    this.deps.alerts.on('event', (event) => {
      if (event.event === 'activated' && EXCURSION_KINDS.has(event.alert.kind)) void this.onExcursion(event.alert);
    });
  }

  private async onExcursion(alert: Alert): Promise<void> {
    const records = this.deps.shipments.book.list().filter((r) => r.shipment.consigneeEmail || r.shipment.consigneePhone);
    for (const record of shipmentsCarriedAt(records, alert)) {
      const key = `${record.shipment.id}\n${alert.id}`;
      if (this.sending.has(key) || record.consigneeNotices.some((n) => n.alertId === alert.id)) continue;
      this.sending.add(key);
      try {
        const text = this.text(record, alert);
        const { consignee, consigneeEmail, consigneePhone } = record.shipment;
        const attempts = await this.deps.notifier.message(
          { name: consignee, ...(consigneeEmail ? { email: consigneeEmail } : {}), ...(consigneePhone ? { phone: consigneePhone } : {}) },
          text.en.title,
          `${text.en.body}\n\n———— 中文 ————\n\n${text['zh-CN'].body}\n`,
          { en: text.en.title, 'zh-CN': text['zh-CN'].title },
        );
        for (const attempt of attempts) {
          if (alert.incidentId) this.deps.alerts.recordNotification(alert.incidentId, attempt);
          await this.deps.shipments.recordConsigneeNotice(record.shipment.id, {
            alertId: alert.id,
            incidentId: alert.incidentId,
            locationId: alert.locationId,
            at: Date.now(),
            ...attempt,
          });
        }
      } catch (err) {
        this.deps.log.error({ err: (err as Error).message, shipment: record.shipment.id, alert: alert.id }, 'could not notify the consignee of an excursion');
      } finally {
        this.sending.delete(key);
      }
    }
  }

  /** Title and body in one language: the shipment, the place by name, the excursion in words. */
  private text(record: ShipmentRecord, alert: Alert): Record<Lang, { title: string; body: string }> {
    const registry = this.deps.registry();
    const placed = registry.location(alert.locationId);
    const place = placed
      ? `${placed.site.name ?? placed.site.id} / ${placed.location.name ?? placed.location.id}${placed.site.plate ? ` (${placed.site.plate})` : ''}`
      : alert.locationId;
    const profile = registry.config.profiles.find((p) => p.id === record.shipment.profileId);
    const humidity = alert.kind.startsWith('humidity');
    const range = humidity
      ? profile?.humidity && `${profile.humidity.min}–${profile.humidity.max} %RH`
      : profile && `${profile.temperature.min}–${profile.temperature.max} °C`;
    const unit = humidity ? '%RH' : '°C';
    const zone = registry.config.reports.timeZone;
    const since = `${formatTime(alert.occurredAt, zone)} (${zone})`;
    const s = record.shipment;
    const kind = kindLabels[alert.kind];
    return {
      en: {
        title: `Excursion affecting your shipment ${s.id}: ${kind.en} at ${place}`,
        body: [
          `Shipment ${s.id} — ${s.product}, batch ${s.batch}, ${s.quantity} ${s.unit}, from ${s.shipper} to ${s.consignee}.`,
          '',
          `Where: ${place}, which carries this shipment.`,
          `What: ${kind.en}${range ? ` (the product's range is ${range})` : ''}; worst value so far ${alert.peak} ${unit}.`,
          `Since: ${since}.`,
          '',
          "The shipper's quality assurance is assessing the goods; their decision will be on the shipment report. Keep the goods apart on arrival until then (EU GDP 9.2).",
        ].join('\n'),
      },
      'zh-CN': {
        title: `您的运单 ${s.id} 货物温湿度超标：${place} ${kind['zh-CN']}`,
        body: [
          `运单 ${s.id}：${s.product}，批号 ${s.batch}，${s.quantity} ${s.unit}，发货方 ${s.shipper}，收货方 ${s.consignee}。`,
          '',
          `地点：${place}（该运单货物所在处）。`,
          `情况：${kind['zh-CN']}${range ? `（产品要求 ${range}）` : ''}；目前最差值 ${alert.peak} ${unit}。`,
          `开始时间：${since}。`,
          '',
          '发货方质量部门正在评估该批货物，结论将记录在运单报告中。在此之前，货物到达后请单独存放、暂停使用（欧盟 GDP 9.2）。',
        ].join('\n'),
      },
    };
  }
}
