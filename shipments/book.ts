import type { ConsigneeNotice, CustodyRecord, Disposition, PreCooling, Receipt, ShipmentFact, ShipmentIdentity, ShipmentState } from './schema.js';

export interface VerificationLink {
  linkId: string;
  createdAt: number;
  createdBy: string;
  expiresAt: number;
  revokedAt: number | null;
}

export interface ShipmentRecord {
  shipment: ShipmentIdentity;
  /** Every custody event ever recorded, corrected ones included, in the order they were recorded. */
  custody: CustodyRecord[];
  dispositions: Disposition[];
  links: VerificationLink[];
  /** Pre-cooling checks of loading events, refused loadings included (transport steps). */
  preCooling: PreCooling[];
  /** The receiver's acceptance or refusal; only the first counts. */
  receipt: Receipt | null;
  consigneeNotices: ConsigneeNotice[];
}

/** Custody events that still count (not corrected by a later one), in the order they happened. */
export function effectiveCustody(record: ShipmentRecord): CustodyRecord[] {
  const superseded = new Set(record.custody.map((c) => c.corrects).filter((id): id is string => id !== undefined));
  return record.custody.filter((c) => !superseded.has(c.id)).sort((a, b) => a.at - b.at || a.recordedAt - b.recordedAt);
}

export function supersededBy(record: ShipmentRecord): Map<string, string> {
  return new Map(record.custody.filter((c) => c.corrects).map((c) => [c.corrects!, c.id]));
}

export function stateOf(record: ShipmentRecord): ShipmentState {
  const last = effectiveCustody(record).at(-1);
  if (!last) return 'created';
  if (last.event === 'delivered') return 'delivered';
  return last.event === 'loaded' ? 'in_transit' : 'in_storage';
}

/** The shipment a fact is about. */
export const shipmentIdOf = (fact: ShipmentFact): string => (fact.type === 'created' ? fact.shipment.id : fact.shipmentId);

export const currentDisposition = (record: ShipmentRecord): Disposition | null => record.dispositions.at(-1) ?? null;

/** Shipments as the stored facts say; the same facts in the same order always give the same book. */
export class ShipmentBook {
  private readonly shipments = new Map<string, ShipmentRecord>();

  apply(fact: ShipmentFact): void {
    if (fact.type === 'created') {
      if (!this.shipments.has(fact.shipment.id))
        this.shipments.set(fact.shipment.id, {
          shipment: fact.shipment,
          custody: [],
          dispositions: [],
          links: [],
          preCooling: [],
          receipt: null,
          consigneeNotices: [],
        });
      return;
    }
    const record = this.shipments.get(fact.shipmentId);
    if (!record) return; // a fact for a shipment whose creation was lost cannot be placed; never expected
    switch (fact.type) {
      case 'custody':
        if (!record.custody.some((c) => c.id === fact.custody.id)) record.custody.push(fact.custody);
        break;
      case 'disposition':
        record.dispositions.push(fact.disposition);
        break;
      case 'link_created':
        record.links.push({ linkId: fact.linkId, createdAt: fact.at, createdBy: fact.by, expiresAt: fact.expiresAt, revokedAt: null });
        break;
      case 'link_revoked': {
        const link = record.links.find((l) => l.linkId === fact.linkId);
        if (link) link.revokedAt = fact.at;
        break;
      }
      case 'pre_cooling':
        record.preCooling.push(fact.check);
        break;
      case 'receipt':
        record.receipt ??= fact.receipt;
        break;
      case 'consignee_notified':
        record.consigneeNotices.push(fact.notice);
        break;
    }
  }

  get(id: string): ShipmentRecord | undefined {
    return this.shipments.get(id);
  }

  list(): ShipmentRecord[] {
    return [...this.shipments.values()];
  }

  has(id: string): boolean {
    return this.shipments.has(id);
  }

  /** The shipment a link id belongs to. */
  findLink(linkId: string): { record: ShipmentRecord; link: VerificationLink } | undefined {
    for (const record of this.shipments.values()) {
      const link = record.links.find((l) => l.linkId === linkId);
      if (link) return { record, link };
    }
    return undefined;
  }
}
