import type { ServerResponse } from 'node:http';
import type { IngestPipeline } from '../ingestor/pipeline.js';
import type { AcceptedBatch } from '../ingestor/records.js';
import type { Alert, AlertEvent } from '../alerts/book.js';
import type { IncidentView } from '../alerts/incident.js';
import type { AlertService } from '../alerts/service.js';
import { Refusal } from '../core/refusal.js';
import type { Credential, SessionStore } from '../core/sessions.js';

/**
 * A client this far behind (a stalled phone, a dead TCP peer) is dropped with a warning; its
 * EventSource reconnects. Below it, events queue in memory (`res.write` returning false only
 * means the kernel's buffer is full): a short stall loses nothing, a long one costs at most this.
 */
const MAX_BUFFERED_BYTES = 1024 * 1024;
/**
 * Open streams at once. Every event is written to every client on the main thread that also
 * acknowledges device publishes; a board is a few clients per control room, so this is generous
 * and still bounds what a holder of one viewer token can cost.
 */
export const MAX_STREAM_CLIENTS = 100;
/**
 * Readings are gathered this long and written to every stream at once. At 5,000 readings/s every
 * accepted publish was one write to each open stream (a socket write on the main thread per
 * publish per client): with 20 boards attached that was the main thread's largest cost in the
 * soak, and alert crossings waited behind it. A board draws at most once a frame anyway.
 * Alert and incident changes are written at once, after the readings gathered before them.
 */
export const READINGS_FLUSH_MS = 50;
/** Gathered readings are written at once past this many characters (≈ 100 readings). */
const FLUSH_BYTES = 16 * 1024;
/** How often open streams' credentials are checked again (a token removed from the registry ends its streams). */
const RECHECK_MS = 5_000;

/** The stream's events: `reading`, `alert` (the alert with what just happened to it) and `incident`. */
export type LiveReading = Pick<AcceptedBatch, 'deviceId' | 'siteId' | 'locationId'> & AcceptedBatch['readings'][number];
export type LiveAlert = Alert & { event: AlertEvent['event'] };

interface Client {
  res: ServerResponse;
  credential: Credential;
  warn: (details: object, message: string) => void;
}

const frame = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

/**
 * The live feed of the board: every accepted reading, alert change and incident change, as
 * server-sent events to every open stream. Each event is serialized once for all. Signing out
 * ends that session's streams at once, a revoked API token's or an expired session's within
 * `RECHECK_MS` (an `end` event names why).
 */
export class LiveHub {
  private readonly clients = new Set<Client>();
  private readonly timers: NodeJS.Timeout[];
  private readonly unsubscribe: Array<() => void>;
  /** Reading frames not yet written (the same for every stream). */
  private pending = '';
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(deps: {
    pipeline: IngestPipeline;
    alerts?: AlertService;
    sessions: SessionStore;
  }) {
    const onReadings = (batch: AcceptedBatch) => {
      if (this.clients.size === 0) return;
      for (const r of batch.readings) this.pending += frame('reading', { deviceId: batch.deviceId, siteId: batch.siteId, locationId: batch.locationId, ...r });
      // Gathered up to a size too: one flush of 50 ms of a 5,000/s backlog to 100 streams held
      // PUBACKs behind it longer than the writes it saved (security-stream.test.ts).
      if (this.pending.length >= FLUSH_BYTES) this.flush();
      else this.flushTimer ??= setTimeout(() => this.flush(), READINGS_FLUSH_MS).unref();
    };
    const onAlert = (event: AlertEvent) => this.clients.size > 0 && this.broadcast(frame('alert', { event: event.event, ...event.alert }));
    const onIncident = (view: IncidentView) => this.clients.size > 0 && this.broadcast(frame('incident', view));
    deps.pipeline.on('accepted', onReadings);
    deps.alerts?.on('event', onAlert);
    deps.alerts?.on('incident', onIncident);
    const stopListening = deps.sessions.onEnd((key, why) => {
      for (const client of this.clients) if (client.credential.kind === 'session' && client.credential.key === key) this.end(client, why);
    });
    this.unsubscribe = [
      stopListening,
      () => deps.pipeline.off('accepted', onReadings),
      () => deps.alerts?.off('event', onAlert),
      () => deps.alerts?.off('incident', onIncident),
    ];
    this.timers = [
      setInterval(() => this.broadcast(': keep-alive\n\n'), 15_000),
      setInterval(() => {
        for (const client of this.clients)
          if (!deps.sessions.holds(client.credential)) this.end(client, client.credential.kind === 'session' ? 'session ended' : 'API token revoked');
      }, RECHECK_MS),
    ];
    for (const timer of this.timers) timer.unref();
  }

  /** Refuses (503) a stream past `MAX_STREAM_CLIENTS`, before its headers are sent. */
  admit(): void {
    if (this.clients.size >= MAX_STREAM_CLIENTS)
      throw new Refusal(
        `the live stream already serves ${MAX_STREAM_CLIENTS} clients (its limit); close a board elsewhere or try again in 30 s`,
        503,
        'stream_full',
        { 'Retry-After': '30' },
      );
  }

  get size(): number {
    return this.clients.size;
  }

  /** A stream whose headers were sent: it gets every event until it closes or its credential ends. */
  add(res: ServerResponse, credential: Credential, warn: Client['warn']): void {
    // What was gathered before it came goes to the others alone.
    this.flush();
    res.write(': coldchain live stream\n\n');
    const client: Client = { res, credential, warn };
    this.clients.add(client);
    res.on('close', () => this.clients.delete(client));
  }

  /**
   * Streams never end on their own: end them before the server waits for its connections. An
   * ended response counts as finished, so server.close() cuts off even a client that stopped
   * reading and would never take the end.
   */
  close(): void {
    this.flush();
    for (const timer of this.timers) clearInterval(timer);
    for (const stop of this.unsubscribe) stop();
    for (const client of this.clients) client.res.end();
  }

  private end(client: Client, why: string): void {
    if (client.res.writableEnded || client.res.destroyed) return;
    this.flush();
    client.res.write(frame('end', { reason: why }));
    // The connection goes too: it was opened with a credential that no longer holds.
    const socket = client.res.socket;
    client.res.end(() => socket?.destroySoon());
  }

  /** Writes `text` to every stream, after the readings gathered before it. */
  private broadcast(text: string): void {
    this.pending += text;
    this.flush();
  }

  /** Writes what was gathered to every stream. */
  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (!this.pending) return;
    const text = this.pending;
    this.pending = '';
    this.write(text);
  }

  private write(text: string): void {
    // Encoded once for every stream, not once per stream by its socket.
    const bytes = Buffer.from(text);
    for (const client of this.clients) {
      const { res } = client;
      // Ended at shutdown or dropped: its 'close' (which unsubscribes) may still be on its way.
      if (res.writableEnded || res.destroyed) continue;
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        client.warn({ buffered: res.writableLength }, 'live stream client is not reading; dropping it');
        res.destroy();
        continue;
      }
      res.write(bytes);
    }
  }
}
