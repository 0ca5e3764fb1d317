import { EventEmitter } from 'node:events';
import type { RejectReason } from '../core/reading.js';
import { decodeTelemetry, type DecodeLimits, type Rejection } from './decode.js';
import {
  MAX_DEVICE_MESSAGE_BYTES,
  RAW_PREVIEW_BYTES,
  REJECT_MESSAGE_CHARS,
  FIELDS_MAX_BYTES,
  ReadingSeriesKeys,
  ReadingText,
  RecentReadings,
  receivedAtField,
  clockJumpFact,
  conflictFact,
  deferredLine,
  deferredPrefix,
  deviceMessageFact,
  putNs,
  summariseRejections,
  rejectionFact,
  revisionLine,
  type AcceptedBatch,
  type RejectionRecord,
} from './records.js';
import { FactLog, type Fact } from '../storage/fact-log.js';
import type { Spool } from './spool.js';

const NEWLINE = 0x0a;

/** Batches of up to this many readings are announced before larger ones made durable with them. */
const ANNOUNCE_FIRST_MAX_READINGS = 10;

export interface Placement {
  deviceId: string;
  siteId: string;
  locationId: string;
}

export interface IngestOutcome {
  accepted: number;
  rejections: Rejection[];
}

export class IngestCounters {
  acceptedReadings = 0;
  acceptedMessages = 0;
  /** Different readings for a device time already stored (kept beside the first as a revision). */
  readingConflicts = 0;
  /** Readings whose sequence number went forward while device time went back or jumped ahead (kept). */
  clockJumps = 0;
  /** Readings the in-memory index could not vouch for, checked by the writer against InfluxDB. */
  readingsDeferred = 0;
  readonly rejected = new Map<RejectReason, number>();

  countRejection(reason: RejectReason): void {
    this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1);
  }
}

export interface PipelineEvents {
  /**
   * Validated readings handed to the spool, in arrival order per device (small batches of one
   * commit group before large ones); consumers (rules, live board) hang here. Emitted on the turn
   * after the commit group's write was started, while the disk syncs: never between the fsync and
   * the PUBACK, so no consumer can slow an acknowledgement down, and none waits for the fsync
   * either. Not emitted once the spool has failed (nothing is stored or acknowledged then).
   */
  accepted: [AcceptedBatch];
  rejected: [RejectionRecord];
  deviceMessage: [Placement & { channel: 'status' | 'events'; receivedAt: number; body: Record<string, unknown> }];
}

/**
 * Validation plus spooling: the part of ingestion shared by the embedded broker hook and the
 * standalone ingestor. The returned promise settles only when everything the message produced,
 * accepted readings and quarantined rejects alike, is fsync'ed; then the caller may acknowledge.
 */
export class IngestPipeline extends EventEmitter<PipelineEvents> {
  readonly counters = new IngestCounters();
  /** Rejects and device messages: facts at their receive time. */
  private readonly facts: FactLog;
  private toAnnounce: AcceptedBatch[] = [];
  private readonly seriesKeys = new ReadingSeriesKeys();
  private readonly text = new ReadingText();
  /** The appends of the records (clock jumps, conflicts) `store` raised. */
  private records: Promise<void>[] | undefined;
  /** Devices with a batch in `toAnnounce`: their next batches wait behind it. */
  private readonly heldBack = new Set<string>();
  /** Recent readings per device, in memory: tells a redelivery from a different reading at the same device time. */
  readonly recent: RecentReadings;

  constructor(
    private readonly spool: Spool,
    private readonly limits: DecodeLimits,
  ) {
    super();
    this.facts = new FactLog(spool);
    // Anything stored before this pipeline existed has a device time at most now + maxFutureSkew:
    // readings up to that are checked against InfluxDB by the writer, later ones here in memory,
    // until the service says what InfluxDB holds per device (knowStoredReadings).
    this.recent = new RecentReadings(limits.maxFutureSkewMs, Date.now() + limits.maxFutureSkewMs);
  }

  async ingestTelemetry(placement: Placement, topic: string, payload: Buffer): Promise<IngestOutcome> {
    const receivedAt = Date.now();
    const decoded = decodeTelemetry(payload, receivedAt, this.limits);
    // Records beside the readings (clock jumps, conflicts, the reject): rare, so no array unless there are some.
    let pending: Promise<void>[] | undefined;
    let stored: Promise<void> | undefined;
    let accepted: AcceptedBatch | undefined;
    if (decoded.readings.length > 0) {
      // Built field by field: a spread of the placement cost a dictionary-mode copy per message.
      accepted = { deviceId: placement.deviceId, siteId: placement.siteId, locationId: placement.locationId, receivedAt, readings: decoded.readings };
      stored = this.store(accepted, topic);
      pending = this.records;
      this.records = undefined;
      // Judged while the commit group is written and fsync'ed, not after: the fsync is most of a
      // crossing's wait when the service is quiet. Safe for the record: an alert event is appended
      // after its reading, commit groups reach the disk in order, so no alert is ever on disk
      // without the reading that raised it; a crash in between loses both, the device sends the
      // reading again (no PUBACK) and the same alert id is raised again.
      if (this.spool.healthy) this.announce(accepted);
    }
    // One record per message, however many of its readings were refused; the payload's start once.
    const rejected =
      decoded.rejections.length > 0 ? this.rejectionRecord(placement.deviceId, topic, payload, summariseRejections(decoded.rejections), receivedAt) : undefined;
    if (rejected) (pending ??= []).push(this.facts.append(rejectionFact(rejected)));
    // One append is the common case; Promise.all would allocate for nothing on the hot path.
    if (!pending) await stored;
    else {
      if (stored) pending.push(stored);
      await (pending.length === 1 ? pending[0] : Promise.all(pending));
    }

    if (accepted) {
      this.counters.acceptedMessages++;
      this.counters.acceptedReadings += accepted.readings.length;
    }
    if (rejected) {
      for (const rejection of decoded.rejections) this.counters.countRejection(rejection.reason);
      this.emit('rejected', rejected);
    }
    return { accepted: accepted?.readings.length ?? 0, rejections: decoded.rejections };
  }

  /**
   * A status or event message: any JSON object of at most MAX_DEVICE_MESSAGE_BYTES, stored once as it
   * came (a larger one is quarantined with the start of its payload, as any refused message).
   */
  async ingestDeviceMessage(placement: Placement, channel: 'status' | 'events', topic: string, payload: Buffer): Promise<Rejection | undefined> {
    const receivedAt = Date.now();
    let rejection: Rejection | undefined;
    let body: unknown;
    const limit = Math.min(this.limits.maxPayloadBytes, MAX_DEVICE_MESSAGE_BYTES);
    if (payload.length > limit) rejection = { reason: 'payload_too_large', message: `a ${channel} message is ${payload.length} bytes; the limit is ${limit}` };
    else {
      try {
        body = JSON.parse(payload.toString('utf8'));
        if (!body || typeof body !== 'object' || Array.isArray(body))
          rejection = { reason: 'malformed_json', message: `a ${channel} message must be a JSON object` };
      } catch (err) {
        rejection = { reason: 'malformed_json', message: `payload is not JSON: ${(err as Error).message}` };
      }
    }
    if (rejection) {
      await this.quarantine(placement.deviceId, topic, payload, rejection);
      return rejection;
    }
    await this.facts.append(deviceMessageFact(placement, channel, body as Record<string, unknown>, payload.toString('utf8'), receivedAt));
    this.emit('deviceMessage', { ...placement, channel, receivedAt, body: body as Record<string, unknown> });
    return undefined;
  }

  /**
   * Spools the lines of accepted readings and resolves once they are on disk (records they raised
   * are left in `records`). Each is checked against the device's recent readings (in memory,
   * synchronously: no I/O before the PUBACK): a new reading is the usual line (byte for byte what
   * `readingLines` writes), a redelivery nothing, a different reading at a stored device time
   * gets a `revision` tag so it is a point of its own, never overwriting the first, plus a
   * `conflicting_reading` record; a clock jump gets a `clock_jump` record. New readings' lines are
   * written as bytes straight into the spool's commit buffer, in the same pass as the checks: a
   * line is started before its reading's verdict (the fingerprint comes from the same text) and
   * taken back when it is not new. Nothing new at all (every reading a redelivery): resolves once
   * the first delivery is on disk.
   */
  private store(batch: AcceptedBatch, topic: string): Promise<void> {
    let revisions: Map<number, number> | undefined;
    // Readings the index cannot vouch for: the writer checks them against InfluxDB (`-1` in `revisions`).
    const DEFERRED = -1;
    // A redelivery of what this process already spooled: nothing to write (rewriting the point would move its receivedAt, "first arrived first").
    const SAME = -2;
    // Appended once the readings' bytes are taken: nothing else may append while they are written.
    let facts: Fact[] | undefined;
    const spool = this.spool;
    const series = this.seriesKeys.bytesOf(batch);
    // The end of every line of the message but its time: the receive time's field and a space.
    const received = Buffer.from(`${receivedAtField(batch.receivedAt)} `);
    const lineMax = series.length + FIELDS_MAX_BYTES + received.length + 33;
    const buffer = spool.reserve(batch.readings.length * lineMax);
    let pos = spool.written;
    let plain = 0;
    for (let i = 0; i < batch.readings.length; i++) {
      const r = batch.readings[i]!;
      const jump = this.recent.clockJump(batch.deviceId, r, batch.receivedAt);
      if (jump) {
        this.counters.clockJumps++;
        (facts ??= []).push(clockJumpFact(batch, topic, r, jump));
      }
      const line = pos;
      buffer.set(series, pos);
      pos = this.text.write(r, buffer, pos + series.length);
      const verdict = this.recent.observe(batch.deviceId, r, this.text.fingerprint);
      if (verdict.kind === 'new') {
        buffer.set(received, pos);
        pos = putNs(buffer, pos + received.length, r.ts);
        buffer[pos++] = NEWLINE;
        plain++;
        continue;
      }
      pos = line;
      if (verdict.kind === 'conflict') {
        this.counters.readingConflicts++;
        (facts ??= []).push(conflictFact(batch, topic, r, verdict));
        (revisions ??= new Map()).set(i, verdict.revision);
      } else if (verdict.kind === 'same') (revisions ??= new Map()).set(i, SAME);
      else {
        this.counters.readingsDeferred++;
        (revisions ??= new Map()).set(i, DEFERRED);
      }
    }
    let stored = plain > 0 ? spool.commitWritten(pos, plain) : undefined;
    if (revisions) {
      const lines: string[] = [];
      let prefix: string | undefined;
      for (const [i, revision] of revisions) {
        if (revision === SAME) continue;
        const r = batch.readings[i]!;
        lines.push(
          revision === DEFERRED
            ? deferredLine(batch, topic, r, (prefix ??= deferredPrefix(batch, topic, this.seriesKeys.of(batch))))
            : revisionLine(batch, r, revision),
        );
      }
      // The same commit group as the new readings' lines, after them (as one text before).
      if (lines.length > 0) {
        const more = spool.append(lines.join('\n'), lines.length);
        // The same group's promise, but each its own refusal when the spool is closed or failed:
        // the first one's would go unheard, and an unhandled rejection ends the process.
        stored?.catch(() => undefined);
        stored = more;
      }
    }
    if (facts) for (const fact of facts) (this.records ??= []).push(this.facts.append(fact));
    return stored ?? spool.durable();
  }

  private announce(batch: AcceptedBatch): void {
    // A live message is announced at once, inside the turn that read it: deferred to the end of
    // the turn, a crossing waited for every other socket's data read in the same turn, which after
    // a stall of the loop is a backlog of hundreds of messages (issue 15, item 1). Store-and-forward
    // batches wait for the end of the turn, after the live readings made durable by the same fsync:
    // judging a backlog of thousands takes milliseconds, and a crossing must not wait behind it.
    // Each device's own batches keep their order (one that follows a held-back batch is held back too).
    if (batch.readings.length <= ANNOUNCE_FIRST_MAX_READINGS && !this.heldBack.has(batch.deviceId)) return this.emitAccepted(batch);
    this.toAnnounce.push(batch);
    this.heldBack.add(batch.deviceId);
    if (this.toAnnounce.length > 1) return;
    setImmediate(() => {
      const batches = this.toAnnounce;
      this.toAnnounce = [];
      this.heldBack.clear();
      for (const b of batches) this.emitAccepted(b);
    });
  }

  /** A listener's error is thrown on a turn of its own, as it was from the deferred announcement: never into the PUBACK path. */
  private emitAccepted(batch: AcceptedBatch): void {
    try {
      this.emit('accepted', batch);
    } catch (err) {
      setImmediate(() => {
        throw err;
      });
    }
  }

  /** Quarantines a message refused before decoding (unknown device, foreign topic). */
  async quarantine(deviceId: string, topic: string, payload: Buffer, rejection: Rejection): Promise<void> {
    const record = this.rejectionRecord(deviceId, topic, payload, rejection, Date.now());
    await this.facts.append(rejectionFact(record));
    this.counters.countRejection(record.reason);
    this.emit('rejected', record);
  }

  private rejectionRecord(deviceId: string, topic: string, payload: Buffer, rejection: Rejection & { refused?: number }, receivedAt: number): RejectionRecord {
    return {
      deviceId,
      receivedAt,
      reason: rejection.reason,
      message: rejection.message.length > REJECT_MESSAGE_CHARS ? `${rejection.message.slice(0, REJECT_MESSAGE_CHARS - 1)}…` : rejection.message,
      ...(rejection.index !== undefined ? { index: rejection.index } : {}),
      ...(rejection.refused !== undefined ? { refused: rejection.refused } : {}),
      topic,
      bytes: payload.length,
      raw: payload.subarray(0, RAW_PREVIEW_BYTES).toString('utf8'),
    };
  }
}
