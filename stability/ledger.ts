import type { ProductProfile } from '../core/config/schema.js';
import type { Registry } from '../core/registry.js';
import type { InfluxClient } from '../storage/influx.js';
import { effectiveCustody, stateOf, type ShipmentRecord } from '../shipments/book.js';
import { buildShipmentReport } from '../reports/shipment-report.js';
import type { RowBudget } from '../reports/readings-source.js';
import type { RangeVersion } from '../reports/range-versions.js';
import type { Excursion, ShipmentReport } from '../reports/schema.js';
import type { AddBack, Allowance, Ledger, LedgerExcursion, Stability } from './schema.js';

const GAS_CONSTANT = 8.3144; // J/(mol·K), as reports/figures.ts and USP <1160>
const KELVIN = 273.15;

/** What one shipment of the batch contributes: its report's excursions and the names of its places. */
export interface ShipmentExcursions {
  shipmentId: string;
  excursions: readonly Excursion[];
  /** The report's entries below the freeze threshold (`freezeEntries`), when the profile counts freeze events. */
  freezeEntries?: readonly Excursion[];
  placeNames: ReadonlyMap<string, string>;
}

/**
 * The shipments of a batch that the ledger reads, in the order they were created: every waybill
 * naming the batch, whatever became of it (split consignments are several waybills of one batch,
 * merged ones one waybill whose batch is the merged lot).
 */
export const batchRecords = (records: readonly ShipmentRecord[], batch: string): ShipmentRecord[] =>
  records.filter((r) => r.shipment.batch === batch).sort((a, b) => a.shipment.createdAt - b.shipment.createdAt || a.shipment.id.localeCompare(b.shipment.id));

/**
 * One batch's excursions, across its shipments: the same excursion seen by two shipments (the
 * batch stored in one room before it was split over two waybills) is the batch's once. Per place
 * and side, intervals that overlap or touch are one excursion: its time is their union, its peak
 * the worst. Distinct excursions keep their durations exactly as the reports computed them.
 */
export function mergeExcursions(parts: readonly ShipmentExcursions[]): Array<Omit<LedgerExcursion, 'allowanceId' | 'consumedMs' | 'freeze' | 'freezeEvents'>> {
  const all = parts.flatMap((p) => p.excursions.map((e) => ({ e, shipmentId: p.shipmentId, name: p.placeNames.get(e.locationId) ?? e.locationId })));
  all.sort((a, b) => a.e.locationId.localeCompare(b.e.locationId) || a.e.band.localeCompare(b.e.band) || a.e.start - b.e.start);
  const merged: Array<Omit<LedgerExcursion, 'allowanceId' | 'consumedMs' | 'freeze' | 'freezeEvents'>> = [];
  for (const { e, shipmentId, name } of all) {
    const last = merged.at(-1);
    if (last && last.locationId === e.locationId && last.band === e.band && e.start <= last.end) {
      if (!last.shipmentIds.includes(shipmentId)) last.shipmentIds.push(shipmentId);
      if (e.end > last.end) {
        last.end = e.end;
        last.ongoing = e.ongoing;
      } else if (e.end === last.end) last.ongoing ||= e.ongoing;
      last.durationMs = last.end - last.start;
      if (e.band === 'above' ? e.peak > last.peak : e.peak < last.peak) last.peak = e.peak;
      continue;
    }
    merged.push({
      shipmentIds: [shipmentId],
      locationId: e.locationId,
      placeName: name,
      band: e.band,
      start: e.start,
      end: e.end,
      durationMs: e.durationMs,
      peak: e.peak,
      ongoing: e.ongoing,
    });
  }
  return merged.sort((a, b) => a.start - b.start || a.locationId.localeCompare(b.locationId));
}

/** The allowance an excursion counts against: the first listed whose band holds its peak (and lies on its side of the range). */
export function allowanceFor(stability: Stability, range: { min: number; max: number }, band: 'above' | 'below', peak: number): Allowance | undefined {
  return stability.allowances.find((a) => (band === 'above' ? a.from >= range.max : a.to <= range.min) && peak >= a.from && peak <= a.to);
}

/** What an excursion consumes of its allowance: its duration, or weighted by Arrhenius against the band's upper edge (mkt). */
export function consumption(allowance: Allowance, durationMs: number, peak: number, activationEnergyKJ: number): number {
  if (allowance.weighting === 'time') return durationMs;
  const hOverR = (activationEnergyKJ * 1000) / GAS_CONSTANT;
  return durationMs * Math.exp(hOverR * (1 / (allowance.to + KELVIN) - 1 / (peak + KELVIN)));
}

const percentOf = (remaining: number, allowance: number) => (allowance > 0 ? Math.round((remaining / allowance) * 1000) / 10 : remaining >= 0 ? 100 : 0);

/**
 * The ledger of one batch: every excursion of every shipment of the batch (storage segments and
 * transport legs alike, as each shipment report computed them), what each consumed of which
 * allowance, what QA gave back, and what is left. Pure: the same reports and add-backs give the
 * same ledger.
 */
export function computeLedger(input: {
  batch: string;
  records: readonly ShipmentRecord[];
  profile: ProductProfile | undefined;
  parts: readonly ShipmentExcursions[];
  addBacks: readonly AddBack[];
  now: number;
}): Ledger {
  const { batch, profile, addBacks, now } = input;
  const stability = profile?.stability;
  const range = profile?.temperature ?? { min: Number.NEGATIVE_INFINITY, max: Number.POSITIVE_INFINITY };
  const energy = profile?.mktActivationEnergyKJ ?? 83.144;
  // Each entry below the freeze threshold is a freeze event, counted once per batch like an excursion.
  const freezeEntries = stability?.freeze ? mergeExcursions(input.parts.map((p) => ({ ...p, excursions: p.freezeEntries ?? [] }))) : [];
  const excursions: LedgerExcursion[] = mergeExcursions(input.parts).map((e) => {
    const freezeEvents = freezeEntries.filter((f) => f.locationId === e.locationId && f.start >= e.start && f.start <= e.end).length;
    const allowance = stability ? allowanceFor(stability, range, e.band, e.peak) : undefined;
    return {
      ...e,
      allowanceId: allowance?.id ?? null,
      consumedMs: allowance ? consumption(allowance, e.durationMs, e.peak, energy) : e.durationMs,
      freeze: freezeEvents > 0,
      freezeEvents,
    };
  });
  const timeOutOfRangeMs = excursions.reduce((s, e) => s + e.durationMs, 0);
  const shipments = input.records.map((r) => ({ id: r.shipment.id, consignee: r.shipment.consignee, state: stateOf(r) }));
  const head = input.records[0]?.shipment;
  const base = {
    batch,
    profileId: profile?.id ?? head?.profileId ?? null,
    product: head?.product ?? null,
    shipments,
    excursions,
    timeOutOfRangeMs,
    addBacks: [...addBacks],
    computedAt: now,
  };
  if (!stability) return { ...base, state: 'no_stability_data', findings: [], allowances: [], total: null, freeze: null, alertBelowPercent: null };

  const findings: Ledger['findings'] = [];
  const allowances = stability.allowances.map((a) => {
    const consumedMs = excursions.filter((e) => e.allowanceId === a.id).reduce((s, e) => s + e.consumedMs, 0);
    const addedBackMs = addBacks.filter((b) => b.allowance === a.id).reduce((s, b) => s + b.amountMs, 0);
    const remainingMs = a.allowance - consumedMs + addedBackMs;
    const remainingPercent = percentOf(remainingMs, a.allowance);
    if (consumedMs > 0 && remainingMs <= 0) findings.push({ code: 'allowance_exhausted', allowanceId: a.id, remainingPercent });
    else if (consumedMs > 0 && remainingPercent < stability.alertBelow) findings.push({ code: 'allowance_low', allowanceId: a.id, remainingPercent });
    return {
      id: a.id,
      name: a.name ?? null,
      from: a.from,
      to: a.to,
      weighting: a.weighting,
      allowanceMs: a.allowance,
      consumedMs,
      addedBackMs,
      remainingMs,
      remainingPercent,
    };
  });
  // Time given back to an allowance is given back to the total too; an add-back naming none, to the total only.
  let total: Ledger['total'] = null;
  if (stability.total !== undefined) {
    const consumedMs = excursions.reduce((s, e) => s + e.consumedMs, 0);
    const addedBackMs = addBacks.reduce((s, b) => s + b.amountMs, 0);
    const remainingMs = stability.total - consumedMs + addedBackMs;
    const remainingPercent = percentOf(remainingMs, stability.total);
    total = { allowanceMs: stability.total, consumedMs, addedBackMs, remainingMs, remainingPercent };
    if (consumedMs > 0 && remainingMs <= 0) findings.push({ code: 'total_exhausted', allowanceId: null, remainingPercent });
    else if (consumedMs > 0 && remainingPercent < stability.alertBelow) findings.push({ code: 'total_low', allowanceId: null, remainingPercent });
  }
  let freeze: Ledger['freeze'] = null;
  if (stability.freeze) {
    const events = freezeEntries.length;
    const addedBack = addBacks.reduce((s, b) => s + b.freezeEvents, 0);
    const remaining = stability.freeze.maxEvents - events + addedBack;
    freeze = { below: stability.freeze.below, maxEvents: stability.freeze.maxEvents, events, addedBack, remaining };
    if (events > 0 && remaining <= 0) findings.push({ code: 'freeze_exhausted', allowanceId: null, remainingPercent: null });
  }
  // Outside every allowance: the stability data says nothing about it (a freeze event is the freeze budget's).
  if (excursions.some((e) => e.allowanceId === null && !e.freeze)) findings.push({ code: 'beyond_stability_data', allowanceId: null, remainingPercent: null });
  const exhausted = findings.some((f) => f.code.endsWith('_exhausted') || f.code === 'beyond_stability_data');
  return {
    ...base,
    state: exhausted ? 'exhausted' : findings.length ? 'low' : 'ok',
    findings,
    allowances,
    total,
    freeze,
    alertBelowPercent: stability.alertBelow,
  };
}

/** A place's name as the report shows it: "site / place". */
function placeNames(report: ShipmentReport): Map<string, string> {
  const names = new Map<string, string>();
  for (const s of report.segments) names.set(s.place.locationId, `${s.place.siteName ?? s.place.siteId} / ${s.place.locationName ?? s.place.locationId}`);
  return names;
}

/** The profile the batch is judged by: that of its first waybill. */
export function batchProfile(registry: Registry, records: readonly ShipmentRecord[]): ProductProfile | undefined {
  const id = records[0]?.shipment.profileId;
  return registry.config.profiles.find((p) => p.id === id);
}

/**
 * Builds the ledger from the shipment reports of every shipment of the batch, each built exactly
 * as `GET /api/v1/shipments/:id/report` builds it (reports/shipment-report.ts): the ledger adds
 * no excursion computation of its own. `known` are reports already built (the shipment report
 * asking for its batch's ledger passes itself).
 */
export async function buildLedger(input: {
  batch: string;
  records: readonly ShipmentRecord[];
  addBacks: readonly AddBack[];
  registry: Registry;
  influx: InfluxClient;
  budget?: RowBudget;
  ranges?: readonly RangeVersion[];
  known?: ReadonlyMap<string, ShipmentReport>;
  now?: number;
}): Promise<Ledger> {
  const now = input.now ?? Date.now();
  const records = batchRecords(input.records, input.batch);
  const parts: ShipmentExcursions[] = [];
  // One at a time: a batch of many waybills must not open many queries at once in one worker.
  for (const record of records) {
    const report =
      input.known?.get(record.shipment.id) ??
      (await buildShipmentReport({
        record,
        registry: input.registry,
        influx: input.influx,
        alerts: [],
        verification: null,
        now,
        ...(input.budget ? { budget: input.budget } : {}),
        ...(input.ranges ? { ranges: input.ranges } : {}),
      }));
    parts.push({
      shipmentId: record.shipment.id,
      excursions: report.overall.excursions,
      ...(report.freezeEntries ? { freezeEntries: report.freezeEntries } : {}),
      placeNames: placeNames(report),
    });
  }
  return computeLedger({ batch: input.batch, records, profile: batchProfile(input.registry, records), parts, addBacks: input.addBacks, now });
}

/** Where the batch is now: the place of the latest custody event of any of its shipments (for the alarm's site). */
export function currentPlace(records: readonly ShipmentRecord[]): string | undefined {
  const events = records.flatMap((r) => effectiveCustody(r)).filter((c) => c.locationId);
  return events.sort((a, b) => a.at - b.at).at(-1)?.locationId;
}

/**
 * The ledger as the receiver of one shipment sees it (the verification link): the budget and
 * every figure, but other shipments of the batch — other consignees' goods — only as "elsewhere
 * in the chain", without their waybills, consignees or places.
 */
export function forReceiver(ledger: Ledger, shipmentId: string): Ledger {
  return {
    ...ledger,
    shipments: ledger.shipments.filter((s) => s.id === shipmentId),
    excursions: ledger.excursions.map((e) =>
      e.shipmentIds.includes(shipmentId) ? { ...e, shipmentIds: [shipmentId] } : { ...e, shipmentIds: [], locationId: '', placeName: '', elsewhere: true },
    ),
  };
}
