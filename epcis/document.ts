import type { Registry } from '../core/registry.js';
import { effectiveCustody, type ShipmentRecord } from '../shipments/book.js';
import type { CustodyRecord, Disposition } from '../shipments/schema.js';
import type { Segment, ShipmentReport } from '../reports/schema.js';
import type { EpcisIds } from './identifiers.js';
import {
  type bizSteps,
  type dispositions,
  EPCIS_CONTEXT,
  measurements,
  type EpcisDocument,
  type ObjectEvent,
  type SensorElement,
  type SensorReport,
} from './schema.js';

/**
 * A shipment as a GS1 EPCIS 2.0 document: one ObjectEvent per custody event (and per QA
 * disposition), each carrying the figures of the report segment it opened. Every figure is taken
 * from the shipment report as built (reports/shipment-report.ts), never computed again here, so
 * the export and the report cannot disagree. The mapping is documented in README.md.
 */

type Step = { bizStep: (typeof bizSteps)[number]; disposition: (typeof dispositions)[number] };

/** Custody event → CBV 2.0 business step and disposition. */
export const custodySteps: Record<CustodyRecord['event'], Step> = {
  stored: { bizStep: 'storing', disposition: 'in_progress' },
  loaded: { bizStep: 'shipping', disposition: 'in_transit' },
  unloaded: { bizStep: 'unloading', disposition: 'in_progress' },
  delivered: { bizStep: 'receiving', disposition: 'in_progress' },
};

/** QA's decision → CBV 2.0 business step and disposition. */
export const decisionSteps: Record<Disposition['decision'], Step> = {
  released: { bizStep: 'inspecting', disposition: 'conformant' },
  rejected: { bizStep: 'inspecting', disposition: 'non_conformant' },
  quarantined: { bizStep: 'holding', disposition: 'non_sellable_other' },
};

/** Units of measure a waybill may name, as UN/CEFACT Rec 20 codes; any other unit is a count (see EpcisIds.lot). */
const measureUnits: Record<string, string> = {
  kg: 'KGM',
  g: 'GRM',
  t: 'TNE',
  l: 'LTR',
  ml: 'MLT',
};

/** The UTC offset of an IANA zone at an instant, as EPCIS writes it (+08:00). */
export function zoneOffset(at: number, timeZone: string): string {
  const name = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' }).formatToParts(at).find((p) => p.type === 'timeZoneName')?.value;
  const match = /GMT([+-]\d{2}):?(\d{2})?/.exec(name ?? '');
  return match ? `${match[1]}:${match[2] ?? '00'}` : '+00:00';
}

const iso = (ms: number) => new Date(ms).toISOString();

export interface EpcisInput {
  report: ShipmentReport;
  record: ShipmentRecord;
  registry: Registry;
  ids: EpcisIds;
  /** eventTimeZoneOffset is the offset of this zone at each event (reports.timeZone or ?tz=). */
  timeZone: string;
}

export function buildEpcisDocument(input: EpcisInput): EpcisDocument {
  const { report, record, registry, ids, timeZone } = input;
  const { shipment } = report;
  const measure = measureUnits[shipment.unit.trim().toLowerCase()];
  const quantityList = [
    measure
      ? { epcClass: ids.lot(shipment.product, shipment.batch), quantity: shipment.quantity, uom: measure }
      : { epcClass: ids.lot(shipment.product, shipment.batch, shipment.unit), quantity: shipment.quantity },
  ];
  const common = {
    quantityList,
    bizTransactionList: [{ type: 'bol' as const, bizTransaction: ids.waybill(shipment.id) }],
    sourceList: [{ type: 'owning_party' as const, source: ids.party(shipment.shipper) }],
    destinationList: [{ type: 'owning_party' as const, destination: ids.party(shipment.consignee) }],
  };
  /** Where: the sensors' place is the read point; a warehouse site is the business location, a vehicle none (in transit). */
  const where = (locationId: string | undefined) => {
    if (!locationId) return {};
    const placed = registry.location(locationId);
    return {
      readPoint: { id: ids.location(locationId) },
      ...(placed?.site.kind === 'warehouse' ? { bizLocation: { id: ids.site(placed.site.id) } } : {}),
    };
  };
  const event = (id: string, at: number, step: Step, locationId: string | undefined): ObjectEvent => ({
    type: 'ObjectEvent',
    eventID: ids.event(shipment.id, id),
    eventTime: iso(at),
    eventTimeZoneOffset: zoneOffset(at, timeZone),
    action: 'OBSERVE',
    ...common,
    bizStep: step.bizStep,
    disposition: step.disposition,
    ...where(locationId),
    'coldchain:event': id,
  });

  // The report's segments were opened by the effective custody events, in order; pair them up the same way.
  const timeline = effectiveCustody(record);
  const segments = [...report.segments];
  const events: ObjectEvent[] = [];
  let lastPlace: string | undefined;
  for (const custody of timeline) {
    const segment = segments[0];
    const opened = segment && segment.start === custody.at && segment.openedBy === custody.event && segment.place.locationId === custody.locationId;
    if (opened) segments.shift();
    // Goods delivered without a place were handed over where they last were.
    const place = custody.locationId ?? (custody.event === 'delivered' ? lastPlace : undefined);
    const built = event(custody.id, custody.at, custodySteps[custody.event], place);
    const sensors = opened ? sensorElements(segment, report, ids) : [];
    events.push(sensors.length ? { ...built, sensorElementList: sensors } : built);
    lastPlace = custody.locationId ?? lastPlace;
  }

  // Corrected custody events stay on record: sent again with an error declaration naming the correction.
  const byId = new Map(record.custody.map((c) => [c.id, c]));
  for (const wrong of report.custody.filter((c) => c.supersededBy)) {
    const correction = byId.get(wrong.supersededBy!);
    events.push({
      ...event(wrong.id, wrong.at, custodySteps[wrong.event], wrong.locationId),
      errorDeclaration: {
        declarationTime: iso(correction?.recordedAt ?? correction?.at ?? wrong.at),
        reason: 'incorrect_data',
        correctiveEventIDs: [ids.event(shipment.id, wrong.supersededBy!)],
      },
    });
  }

  // QA's decisions, at the place the goods were when QA signed.
  for (const decision of record.dispositions) {
    const place = timeline.filter((c) => c.at <= decision.at && c.locationId).at(-1)?.locationId;
    events.push(event(`disposition-${decision.at}`, decision.at, decisionSteps[decision.decision], place));
  }

  events.sort((a, b) => Date.parse(a.eventTime) - Date.parse(b.eventTime));
  return {
    '@context': [EPCIS_CONTEXT, { coldchain: ids.vocabulary }],
    type: 'EPCISDocument',
    schemaVersion: '2.0',
    creationDate: iso(report.generatedAt),
    epcisBody: { eventList: events },
  };
}

const { temperature, humidity } = measurements;

/**
 * The sensor data of one segment: the place's figures over the whole segment (all its sensors,
 * as the report's segment figures), each sensor's own when there are several, and every
 * excursion as an ALARM_CONDITION. A segment without readings has none.
 */
export function sensorElements(segment: Segment, report: ShipmentReport, ids: EpcisIds): SensorElement[] {
  const { figures, sensors } = segment;
  const window = { startTime: iso(segment.start), endTime: iso(segment.end) };
  const only = sensors.length === 1 ? { deviceID: ids.device(sensors[0]!.deviceId) } : {};
  const elements: SensorElement[] = [];

  const place: SensorReport[] = [];
  if (figures.min && figures.max && figures.mean !== null)
    place.push({ type: temperature.type, uom: temperature.uom, minValue: figures.min.value, maxValue: figures.max.value, meanValue: figures.mean });
  const h = figures.humidity;
  if (h?.min && h.max && h.mean !== null)
    place.push({ type: humidity.type, uom: humidity.uom, minValue: h.min.value, maxValue: h.max.value, meanValue: h.mean });
  if (place.length) elements.push({ sensorMetadata: { ...only, ...window }, sensorReport: place });

  if (sensors.length > 1)
    for (const s of sensors)
      if (s.min && s.max && s.mean !== null)
        elements.push({
          sensorMetadata: { deviceID: ids.device(s.deviceId), ...window },
          sensorReport: [{ type: temperature.type, uom: temperature.uom, minValue: s.min.value, maxValue: s.max.value, meanValue: s.mean }],
        });

  for (const x of figures.excursions)
    elements.push({
      sensorMetadata: { ...(x.deviceIds.length === 1 ? { deviceID: ids.device(x.deviceIds[0]!) } : {}), startTime: iso(x.start), endTime: iso(x.end) },
      sensorReport: [
        {
          type: temperature.type,
          exception: 'ALARM_CONDITION',
          uom: temperature.uom,
          bizRules: ids.profile(report.shipment.profileId),
          time: iso(x.peakAt),
          value: x.peak,
          'coldchain:limit': x.limit,
          'coldchain:durationMs': x.durationMs,
          'coldchain:degreeMinutes': x.degreeMinutes,
          'coldchain:ongoing': x.ongoing,
        },
      ],
    });
  return elements;
}
