import { randomBytes } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.js';
import { verifySigner } from '../audit/e-signature.js';
import type { Logger } from '../core/logger.js';
import type { Registry } from '../core/registry.js';
import { Refusal } from '../core/refusal.js';
import type { Spool } from '../ingestor/spool.js';
import type { ShipmentRecord } from '../shipments/book.js';
import type { InfluxClient } from '../storage/influx.js';
import { FactLog } from '../storage/fact-log.js';
import { STABILITY_EVENTS_MEASUREMENT } from '../storage/measurements.js';
import { batchProfile, batchRecords } from './ledger.js';
import { stabilityFactSchema, type AddBack, type AddBackInput, type BatchSummary, type Ledger, type StabilityFact } from './schema.js';

export class StabilityError extends Refusal<400 | 404 | 409> {}

/** What a batch's ledger is built from (reports/jobs.ts `BatchInput`). */
export interface BatchSubject {
  batch: string;
  records: ShipmentRecord[];
  addBacks: AddBack[];
}

/**
 * Batches' stability budgets: which shipments a batch has, QA's add-backs (facts in
 * `stability_events` through the spool, read back at start), and the ledger, which the report
 * workers build from the batch's shipment reports (`ledger`, given by the composition root:
 * reports are never built on the main thread). An add-back is an e-signature (qa, admin) with the
 * investigation it rests on, audited, and never more than what the batch has consumed.
 */
export class StabilityService {
  private readonly facts: FactLog;
  private readonly addBacks: AddBack[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private readonly changed = new Set<(batch: string) => void>();

  constructor(
    private readonly deps: {
      registry: () => Registry;
      spool: Spool;
      influx: InfluxClient;
      audit: AuditLog;
      log: Logger;
      /** Every shipment record known now (ShipmentService.book). */
      shipments: () => ShipmentRecord[];
      /** Builds a batch's ledger in the report workers. */
      ledger: (subject: BatchSubject) => Promise<Ledger>;
    },
  ) {
    this.facts = new FactLog(deps.spool, deps.influx);
  }

  async start(): Promise<void> {
    try {
      const facts = await this.facts.replay(stabilityFactSchema, {
        measurement: STABILITY_EVENTS_MEASUREMENT,
        columns: ['fact'],
        whole: 'fact',
        onInvalid: (problem) => this.deps.log.error({ problem }, 'a stored stability fact does not validate; skipped'),
      });
      for (const fact of facts) this.apply(fact);
      if (facts.length) this.deps.log.info({ addBacks: this.addBacks.length }, 'stability add-backs read back from InfluxDB');
    } catch (err) {
      this.deps.log.error({ err: (err as Error).message }, 'could not read stability add-backs from InfluxDB; starting with none known');
    }
  }

  private apply(fact: StabilityFact): void {
    if (fact.type === 'add_back' && !this.addBacks.some((a) => a.id === fact.addBack.id)) this.addBacks.push(fact.addBack);
  }

  /** Told when a batch's ledger changed by something other than readings (an add-back): the alarms look again. */
  onChange(listener: (batch: string) => void): void {
    this.changed.add(listener);
  }

  /** Every batch named by a shipment, and the batch's subject for the ledger. */
  batches(): string[] {
    return [...new Set(this.deps.shipments().map((r) => r.shipment.batch))].sort();
  }

  /** Every batch named by a shipment, with the product and profile of its first shipment. */
  summaries(): BatchSummary[] {
    return this.batches().map((batch) => {
      const { records } = this.subject(batch);
      return { batch, product: records[0]!.shipment.product, profileId: records[0]!.shipment.profileId, shipments: records.map((r) => r.shipment.id) };
    });
  }

  subject(batch: string): BatchSubject {
    const records = batchRecords(this.deps.shipments(), batch);
    if (!records.length) throw new StabilityError(`no shipment names batch ${batch}`, 404);
    return { batch, records, addBacks: this.addBacks.filter((a) => a.batch === batch) };
  }

  ledger(batch: string): Promise<Ledger> {
    return this.deps.ledger(this.subject(batch));
  }

  /** QA gives back part of the budget after an investigation: signed, audited, stored; answers the ledger after it. */
  addBack(batch: string, input: AddBackInput): Promise<{ addBack: AddBack; ledger: Ledger }> {
    const work = async () => {
      const subject = this.subject(batch);
      const profile = batchProfile(this.deps.registry(), subject.records);
      const stability = profile?.stability;
      if (!stability) throw new StabilityError(`batch ${batch}: its product profile ${subject.records[0]!.shipment.profileId} has no stability data`, 409);
      if (input.allowance !== undefined && !stability.allowances.some((a) => a.id === input.allowance))
        throw new StabilityError(
          `allowance: profile ${profile.id} has no allowance "${input.allowance}"; known: ${stability.allowances.map((a) => a.id).join(', ')}`,
          400,
        );
      if (input.allowance === undefined && input.amount && stability.total === undefined)
        throw new StabilityError(`allowance: profile ${profile.id} has no total; name the allowance the time goes back to`, 400);
      if (input.freezeEvents && !stability.freeze) throw new StabilityError(`freezeEvents: profile ${profile.id} counts no freeze events`, 400);
      // What the batch has consumed now: an add-back gives back at most that (it corrects, it does not enlarge the budget).
      const before = await this.deps.ledger(subject);
      const amount = input.amount ?? 0;
      if (amount > 0) {
        const use = input.allowance ? before.allowances.find((a) => a.id === input.allowance)! : before.total!;
        const open = use.consumedMs - use.addedBackMs;
        if (amount > open)
          throw new StabilityError(
            `amount: ${Math.round(amount / 60_000)} min is more than the ${Math.round(Math.max(0, open) / 60_000)} min consumed and not yet given back${input.allowance ? ` in allowance ${input.allowance}` : ''}`,
            409,
          );
      }
      if (input.freezeEvents && before.freeze && input.freezeEvents > before.freeze.events - before.freeze.addedBack)
        throw new StabilityError(`freezeEvents: the batch has ${before.freeze.events - before.freeze.addedBack} freeze event(s) not yet given back`, 409);
      const registry = this.deps.registry();
      const user = await verifySigner({ users: registry.config.users, accounts: registry.config.accounts, audit: this.deps.audit }, input, {
        action: `stability add-back ${input.investigation}`,
        target: `batch:${batch}`,
        roles: ['qa', 'admin'],
        what: 'give back stability budget',
      });
      const addBack: AddBack = {
        id: `AB-${randomBytes(4).toString('hex').toUpperCase()}`,
        batch,
        allowance: input.allowance ?? null,
        amountMs: amount,
        freezeEvents: input.freezeEvents ?? 0,
        investigation: input.investigation,
        by: user.name,
        printedName: user.fullName,
        at: Date.now(),
        meaning: input.meaning,
        comment: input.comment,
      };
      const fact: StabilityFact = { type: 'add_back', addBack };
      await Promise.all([
        this.facts.append({
          measurement: STABILITY_EVENTS_MEASUREMENT,
          tags: { batch, type: fact.type },
          fields: { fact: JSON.stringify(fact) },
          at: addBack.at,
        }),
        this.deps.audit.append({
          actor: user.name,
          printedName: user.fullName,
          action: 'stability.add_back',
          target: `batch:${batch}`,
          details: { ...addBack },
        }),
      ]);
      this.apply(fact);
      this.deps.log.info({ batch, addBack: addBack.id, investigation: addBack.investigation }, 'stability budget given back');
      for (const listener of this.changed) listener(batch);
      return { addBack, ledger: await this.deps.ledger(this.subject(batch)) };
    };
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }
}
