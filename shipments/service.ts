import { randomBytes } from 'node:crypto';
import type { Logger } from '../core/logger.js';
import type { Registry } from '../core/registry.js';
import { Refusal } from '../core/refusal.js';
import type { Spool } from '../ingestor/spool.js';
import { FactLog, type Fact } from '../storage/fact-log.js';
import { SHIPMENT_EVENTS_MEASUREMENT } from '../storage/measurements.js';
import type { InfluxClient } from '../storage/influx.js';
import type { AuditLog } from '../audit/audit-log.js';
import { verifySigner } from '../audit/e-signature.js';
import { ShipmentBook, effectiveCustody, shipmentIdOf, supersededBy, type ShipmentRecord, type VerificationLink } from './book.js';
import {
  shipmentFactSchema,
  type ConsigneeNotice,
  type CustodyInput,
  type CustodyRecord,
  type Disposition,
  type DispositionInput,
  type ShipmentCreate,
  type ShipmentFact,
  type PreCooling,
  type Receipt,
  type ReceiptInput,
} from './schema.js';
import { LinkSigner } from './links.js';
import type { SignedOn } from './signed-on.js';
import { checkPreCooling, refusalMessage } from './pre-cooling.js';

/** A shipment fact as stored: tags shipmentId and type, the fact itself as JSON in `fact`. */
function shipmentFact(fact: ShipmentFact, at: number): Fact {
  return { measurement: SHIPMENT_EVENTS_MEASUREMENT, tags: { shipmentId: shipmentIdOf(fact), type: fact.type }, fields: { fact: JSON.stringify(fact) }, at };
}

export class ShipmentError extends Refusal<400 | 404 | 409> {}

export interface Actor {
  by: string;
  source: 'api' | 'cli' | 'mqtt';
}

export interface ShipmentServiceDeps {
  registry: () => Registry;
  spool: Spool;
  influx: InfluxClient;
  audit: AuditLog;
  links: LinkSigner;
  log: Logger;
  maxFutureSkewMs: number;
}

/**
 * Electronic waybills and their custody: every change is a fact, fsync'ed to the spool (and so
 * to InfluxDB, even through an outage) and to the audit trail before the caller hears "done".
 * Facts are never changed; a correction is a new custody event that names the one it corrects.
 * Writes are serialised so that ids and the checks against the current timeline stay consistent.
 */
export class ShipmentService {
  readonly book = new ShipmentBook();
  private readonly facts: FactLog;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: ShipmentServiceDeps) {
    this.facts = new FactLog(deps.spool, deps.influx);
  }

  async start(): Promise<void> {
    try {
      const facts = await this.facts.replay(shipmentFactSchema, {
        measurement: SHIPMENT_EVENTS_MEASUREMENT,
        columns: ['fact'],
        whole: 'fact',
        onInvalid: (problem) => this.deps.log.error({ problem }, 'a stored shipment fact does not validate; skipped'),
      });
      for (const fact of facts) this.book.apply(fact);
      if (facts.length) this.deps.log.info({ facts: facts.length, shipments: this.book.list().length }, 'shipments rebuilt from InfluxDB');
    } catch (err) {
      this.deps.log.error({ err: (err as Error).message }, 'could not rebuild shipments from InfluxDB; starting with none known');
    }
  }

  private serialised<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async persist(fact: ShipmentFact, audit: { actor: string; printedName?: string; action: string; details: Record<string, unknown> }): Promise<void> {
    const shipmentId = shipmentIdOf(fact);
    await Promise.all([
      this.facts.append(shipmentFact(fact, Date.now())),
      this.deps.audit.append({
        actor: audit.actor,
        ...(audit.printedName ? { printedName: audit.printedName } : {}),
        action: audit.action,
        target: shipmentId,
        details: audit.details,
      }),
    ]);
    this.book.apply(fact);
  }

  create(input: ShipmentCreate, actor: Actor): Promise<ShipmentRecord> {
    return this.serialised(async () => {
      if (!this.deps.registry().config.profiles.some((p) => p.id === input.profile)) {
        throw new ShipmentError(
          `profile: unknown product profile "${input.profile}"; known: ${this.deps
            .registry()
            .config.profiles.map((p) => p.id)
            .join(', ')}`,
          400,
        );
      }
      const id = input.id ?? newShipmentId();
      if (this.book.has(id)) throw new ShipmentError(`shipment ${id} exists already`, 409);
      const shipment = {
        id,
        product: input.product,
        profileId: input.profile,
        batch: input.batch,
        ...(input.expiry ? { expiry: input.expiry } : {}),
        quantity: input.quantity,
        unit: input.unit,
        shipper: input.shipper,
        consignee: input.consignee,
        ...(input.consigneeEmail ? { consigneeEmail: input.consigneeEmail } : {}),
        ...(input.consigneePhone ? { consigneePhone: input.consigneePhone } : {}),
        createdAt: Date.now(),
        createdBy: actor.by,
      };
      await this.persist({ type: 'created', shipment }, { actor: actor.by, action: 'shipment.create', details: { ...shipment, source: actor.source } });
      return this.book.get(id)!;
    });
  }

  get(id: string): ShipmentRecord {
    const record = this.book.get(id);
    if (!record) throw new ShipmentError(`no shipment ${id}`, 404);
    return record;
  }

  addCustody(shipmentId: string, input: CustodyInput, actor: Actor): Promise<CustodyRecord> {
    return this.serialised(async () => {
      const record = this.get(shipmentId);
      this.checkCustody(record, input);
      const timeline = effectiveCustody(record);
      // A device resending its scan (QoS 1 redelivery) or a client retrying gets the same event back.
      const same = timeline.find((c) => c.event === input.event && c.at === input.at && c.locationId === input.locationId && !input.corrects);
      if (same) return same;
      const preCooling = input.event === 'loaded' ? await this.preCooling(record, input) : undefined;
      const custody: CustodyRecord = {
        id: `${shipmentId}-C${record.custody.length + 1}`,
        event: input.event,
        ...(input.locationId ? { locationId: input.locationId } : {}),
        at: input.at,
        recordedAt: Date.now(),
        by: input.by ?? actor.by,
        source: actor.source,
        ...(input.corrects ? { corrects: input.corrects } : {}),
        ...(input.note ? { note: input.note } : {}),
      };
      await this.persist(
        { type: 'custody', shipmentId, custody },
        { actor: actor.by, action: input.corrects ? 'shipment.custody.correct' : 'shipment.custody', details: { ...custody } },
      );
      if (preCooling) await this.persistPreCooling(shipmentId, { ...preCooling, custodyId: custody.id }, actor.by);
      return custody;
    });
  }

  /**
   * The pre-cooling check of a loading (shipments.preCooling, shipments/pre-cooling.ts). A failed
   * check under `refuse` is recorded (the waybill shows the refused attempt) and refused with 409.
   * A correction is only ever warned about: it records what did happen, refusing it would leave
   * the record wrong.
   */
  private async preCooling(record: ShipmentRecord, input: CustodyInput): Promise<Omit<PreCooling, 'custodyId'> | undefined> {
    const registry = this.deps.registry();
    const settings = registry.config.shipments.preCooling;
    const profile = registry.config.profiles.find((p) => p.id === record.shipment.profileId);
    if (settings.action === 'off' || !profile || !input.locationId) return undefined;
    const check = await checkPreCooling({ influx: this.deps.influx, registry }, { locationId: input.locationId, at: input.at, profile, settings });
    if (check.passed || settings.action !== 'refuse' || input.corrects) return { ...check, outcome: 'recorded' };
    const last = record.preCooling.at(-1);
    // A client retrying the same refused loading is told again; the attempt is on record once.
    if (!(last?.outcome === 'refused' && last.locationId === check.locationId && last.to === check.to))
      await this.persistPreCooling(record.shipment.id, { ...check, outcome: 'refused' }, input.by ?? 'system');
    throw new ShipmentError(refusalMessage(record.shipment.id, check), 409);
  }

  private persistPreCooling(shipmentId: string, check: PreCooling, by: string): Promise<void> {
    const { custodyId, locationId, passed, problems, outcome, readings, min, max } = check;
    return this.persist(
      { type: 'pre_cooling', shipmentId, check },
      {
        actor: by,
        action: 'shipment.pre_cooling',
        details: {
          custodyId,
          locationId,
          from: new Date(check.from).toISOString(),
          to: new Date(check.to).toISOString(),
          passed,
          problems,
          outcome,
          readings,
          min,
          max,
        },
      },
    );
  }

  /**
   * The receiver accepts or refuses the goods through the verification link (收货验收): once per
   * shipment; the link (a capability: revocable, expiring) is what authorises it, the name is
   * what the receiver gives.
   */
  receive(token: string, input: ReceiptInput): Promise<{ record: ShipmentRecord; receipt: Receipt }> {
    return this.serialised(async () => {
      const found = this.resolveLink(token);
      if (!found) throw new ShipmentError(INVALID_LINK, 404);
      const { record, link } = found;
      const done = record.receipt;
      if (done)
        throw new ShipmentError(
          `shipment ${record.shipment.id}: the goods were already ${done.decision} by ${done.name} at ${new Date(done.at).toISOString()}; a receipt is recorded only once (ask the shipper if it was wrong)`,
          409,
        );
      const receipt: Receipt = { ...input, at: Date.now(), linkId: link.linkId };
      await this.persist(
        { type: 'receipt', shipmentId: record.shipment.id, receipt },
        { actor: `receiver-link:${link.linkId}`, printedName: input.name, action: 'shipment.receipt', details: { ...receipt } },
      );
      return { record, receipt };
    });
  }

  /** A message to the consignee about an excursion (shipments/consignee-notices.ts), on the waybill. */
  recordConsigneeNotice(shipmentId: string, notice: ConsigneeNotice): Promise<void> {
    return this.serialised(() =>
      this.persist({ type: 'consignee_notified', shipmentId, notice }, { actor: 'system', action: 'shipment.consignee_notified', details: { ...notice } }),
    );
  }

  private checkCustody(record: ShipmentRecord, input: CustodyInput): void {
    const registry = this.deps.registry();
    if (input.event !== 'delivered' && !input.locationId)
      throw new ShipmentError(`locationId: required for a "${input.event}" event (where are the goods now?)`, 400);
    if (input.locationId) {
      const placed = registry.location(input.locationId);
      if (!placed) throw new ShipmentError(`locationId: unknown location "${input.locationId}"`, 400);
      const inVehicle = placed.location.kind === 'vehicle_compartment';
      if (input.event === 'loaded' && !inVehicle)
        throw new ShipmentError(`locationId: "loaded" needs a vehicle compartment; ${input.locationId} is a ${placed.location.kind}`, 400);
      if ((input.event === 'stored' || input.event === 'unloaded') && inVehicle)
        throw new ShipmentError(`locationId: "${input.event}" needs a place in a warehouse; ${input.locationId} is a vehicle compartment (use "loaded")`, 400);
    }
    if (input.at > Date.now() + this.deps.maxFutureSkewMs) throw new ShipmentError(`at: ${new Date(input.at).toISOString()} is in the future`, 400);
    if (input.corrects) {
      const target = record.custody.find((c) => c.id === input.corrects);
      if (!target) throw new ShipmentError(`corrects: shipment ${record.shipment.id} has no custody event ${input.corrects}`, 400);
      const already = supersededBy(record).get(input.corrects);
      if (already) throw new ShipmentError(`corrects: ${input.corrects} was already corrected by ${already}; correct that one instead`, 409);
      return;
    }
    const delivered = effectiveCustody(record).find((c) => c.event === 'delivered');
    if (delivered && input.at > delivered.at) {
      throw new ShipmentError(
        `shipment ${record.shipment.id} was delivered at ${new Date(delivered.at).toISOString()} (${delivered.id}); a later event needs "corrects" naming the event it corrects`,
        409,
      );
    }
  }

  /**
   * `bindReport`, when given, builds the report the signature is made on (after the password
   * check) and returns what it covered: the disposition keeps it (signed means frozen). A report
   * that cannot be built refuses the signature rather than sign on nothing.
   */
  dispose(shipmentId: string, input: DispositionInput, bindReport?: (record: ShipmentRecord) => Promise<SignedOn>): Promise<Disposition> {
    return this.serialised(async () => {
      const record = this.get(shipmentId);
      const user = await verifySigner(
        { users: this.deps.registry().config.users, accounts: this.deps.registry().config.accounts, audit: this.deps.audit },
        input,
        {
          action: `disposition ${input.decision}`,
          target: shipmentId,
          roles: ['qa', 'admin'],
          what: 'sign a shipment disposition',
        },
      );
      const signedOn = bindReport ? await bindReport(record) : undefined;
      const disposition: Disposition = {
        decision: input.decision,
        by: user.name,
        printedName: user.fullName,
        at: Date.now(),
        meaning: input.meaning,
        comment: input.comment,
        ...(signedOn ? { signedOn } : {}),
      };
      await this.persist(
        { type: 'disposition', shipmentId, disposition },
        {
          actor: user.name,
          printedName: user.fullName,
          action: 'shipment.disposition',
          details: {
            decision: input.decision,
            meaning: input.meaning,
            comment: input.comment,
            ...(signedOn ? { reportDigest: signedOn.digest.value, reportAsOf: new Date(signedOn.asOf).toISOString(), readings: signedOn.readings } : {}),
          },
        },
      );
      return disposition;
    });
  }

  createLink(shipmentId: string, validDays: number, by: string): Promise<{ link: VerificationLink; token: string }> {
    return this.serialised(async () => {
      this.get(shipmentId);
      const linkId = LinkSigner.newLinkId();
      const at = Date.now();
      const expiresAt = at + Math.round(validDays * 86_400_000);
      await this.persist(
        { type: 'link_created', shipmentId, linkId, expiresAt, at, by },
        { actor: by, action: 'shipment.link.create', details: { linkId, expiresAt: new Date(expiresAt).toISOString() } },
      );
      return { link: this.book.findLink(linkId)!.link, token: this.deps.links.token(linkId) };
    });
  }

  revokeLink(shipmentId: string, linkId: string, by: string): Promise<VerificationLink> {
    return this.serialised(async () => {
      const record = this.get(shipmentId);
      const link = record.links.find((l) => l.linkId === linkId);
      if (!link) throw new ShipmentError(`shipment ${shipmentId} has no link ${linkId}`, 404);
      if (link.revokedAt === null)
        await this.persist(
          { type: 'link_revoked', shipmentId, linkId, at: Date.now(), by },
          { actor: by, action: 'shipment.link.revoke', details: { linkId } },
        );
      return link;
    });
  }

  /** The shipment behind a receiver's token, if the link is genuine, not revoked and not expired. */
  resolveLink(token: string): { record: ShipmentRecord; link: VerificationLink } | undefined {
    const linkId = this.deps.links.verify(token);
    const found = linkId ? this.book.findLink(linkId) : undefined;
    if (!found || found.link.revokedAt !== null || found.link.expiresAt <= Date.now()) return undefined;
    return found;
  }

  /** The newest link a receiver can still use, for the QR code on a printed report. */
  activeLink(record: ShipmentRecord): { token: string; expiresAt: number } | undefined {
    const link = record.links.filter((l) => l.revokedAt === null && l.expiresAt > Date.now()).at(-1);
    return link ? { token: this.deps.links.token(link.linkId), expiresAt: link.expiresAt } : undefined;
  }
}

/** What a receiver is told of any link that does not work: one answer, so a probe learns nothing. */
export const INVALID_LINK = 'This verification link is not valid: it may have been revoked or have expired. Ask the shipper for a new one.';

function newShipmentId(): string {
  const day = new Date().toISOString().slice(0, 10).replace(/-/g, '');
  return `SH-${day}-${randomBytes(3).toString('hex').toUpperCase()}`;
}
