import type { Logger } from '../core/logger.js';
import { quoteIdentifier, rowsOf, type InfluxClient } from '../storage/influx.js';
import { auditEntryAt, type AuditLog, type VerifyResult } from './audit-log.js';

/**
 * The audit trail's anchor outside its file: the last entry's seq and hash written to InfluxDB
 * (measurement `audit_anchors`, fields `seq`, `hash`). The chain in the file detects an altered,
 * inserted or removed entry anywhere but at the end; an anchor held elsewhere detects a cut tail.
 */
export const AUDIT_ANCHORS_MEASUREMENT = 'audit_anchors';
export const AUDIT_ANCHOR_EVERY_MS = 10 * 60_000;

export interface AuditAnchor {
  seq: number;
  hash: string;
  /** Epoch ms the anchor was written. */
  at: number;
}

/** Line protocol for one anchor (a hash is hex, so it needs no escaping beyond its quotes). */
export function anchorLine(seq: number, hash: string, atMs: number): string {
  return `${AUDIT_ANCHORS_MEASUREMENT} seq=${seq}i,hash="${hash.replace(/[\\"]/g, '\\$&')}" ${BigInt(atMs) * 1_000_000n}`;
}

/**
 * Writes the trail's head to InfluxDB now, every `everyMs` and at stop, each time it moved since
 * the last anchor. A failed write is logged and tried again at the next turn: the trail itself
 * does not depend on InfluxDB.
 */
export function startAuditAnchor(deps: { audit: AuditLog; influx: InfluxClient; log: Logger; everyMs?: number }): { stop(): Promise<void> } {
  let written = -1;
  let running: Promise<void> = Promise.resolve();
  const anchor = () => {
    running = running.then(async () => {
      const { seq, hash } = deps.audit.head;
      if (seq === 0 || seq === written) return;
      try {
        await deps.influx.write(anchorLine(seq, hash, Date.now()));
        written = seq;
      } catch (err) {
        deps.log.warn({ err: (err as Error).message, seq }, 'could not write the audit anchor to InfluxDB; trying again at the next turn');
      }
    });
    return running;
  };
  void anchor();
  const timer = setInterval(() => void anchor(), deps.everyMs ?? AUDIT_ANCHOR_EVERY_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await anchor();
    },
  };
}

/** The anchor with the highest seq InfluxDB holds (a trail started anew after a removal has lower ones after it). */
export async function latestAuditAnchor(influx: InfluxClient): Promise<AuditAnchor | undefined> {
  const series = await influx.query(`SELECT max("seq") AS "seq", "hash" FROM ${quoteIdentifier(AUDIT_ANCHORS_MEASUREMENT)}`).catch((err: Error) => {
    if (/database not found/.test(err.message)) return [];
    throw err;
  });
  const row = rowsOf(series[0])[0];
  if (!row || typeof row.seq !== 'number' || typeof row.hash !== 'string') return undefined;
  return { seq: row.seq, hash: row.hash, at: Number(row.time) };
}

/**
 * The file's chain against the anchor: a trail shorter than the anchor lost its tail; the entry
 * at the anchor's seq must carry the anchor's hash (else the trail was rewritten from there).
 */
export async function checkAgainstAnchor(file: string, verified: VerifyResult, anchor: AuditAnchor): Promise<{ ok: boolean; message: string }> {
  const when = new Date(anchor.at).toISOString();
  if (verified.entries < anchor.seq)
    return {
      ok: false,
      message: `the trail ends at seq ${verified.entries} but InfluxDB holds an anchor at seq ${anchor.seq} (written ${when}): entries ${verified.entries + 1}-${anchor.seq} were removed from the end`,
    };
  const entry = await auditEntryAt(file, anchor.seq);
  if (!entry || entry.hash !== anchor.hash)
    return {
      ok: false,
      message: `entry ${anchor.seq} does not carry the hash InfluxDB anchored at ${when} (${anchor.hash}): the trail was rewritten from there on`,
    };
  return { ok: true, message: `matches the InfluxDB anchor at seq ${anchor.seq} (written ${when})` };
}
