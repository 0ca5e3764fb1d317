import type { Redis } from 'ioredis';
import type { Logger } from '../core/logger.js';

export type RedisState = 'connected' | 'unreachable';

/**
 * Whether this node reaches Redis, from every connection it holds to it (aedes' emitter and
 * persistence, the cluster bus): connected when all of them are ready. A loss is logged as an
 * error once, with what still works, and its end once; `/healthz` shows the state
 * (`cluster.redis`), and listeners hear each change (the bus resends what it could not send).
 */
export class RedisWatch {
  private readonly connections: Redis[] = [];
  private current: RedisState = 'connected';
  private downSince: number | null = null;
  private readonly listeners: Array<(state: RedisState, awaySince: number) => void> = [];
  /** Judged only once every connection has been made (connections still connecting at start are no outage). */
  private armed = false;

  constructor(
    private readonly where: string,
    private readonly log: Logger,
  ) {}

  /** Follows a connection; its errors are this watch's to report (ioredis retries by itself). */
  add(connection: Redis): Redis {
    this.connections.push(connection);
    for (const event of ['ready', 'close', 'end', 'reconnecting']) connection.on(event, () => this.update());
    connection.on('error', () => this.update());
    return connection;
  }

  /** Start is over: from now on a connection that is not ready is an outage (one still connecting is judged at its next event). */
  arm(): void {
    this.armed = true;
  }

  get state(): RedisState {
    return this.current;
  }

  get since(): number | null {
    return this.downSince;
  }

  /** `awaySince`: when the outage that just ended (or began) began. */
  onChange(listener: (state: RedisState, awaySince: number) => void): void {
    this.listeners.push(listener);
  }

  private update(): void {
    if (!this.armed) return;
    const next: RedisState = this.connections.every((c) => c.status === 'ready') ? 'connected' : 'unreachable';
    if (next === this.current) return;
    // A connection that was never up (lazy, or closing at stop) is not an outage.
    if (next === 'unreachable' && this.connections.some((c) => c.status === 'end' || c.status === 'wait')) return;
    this.current = next;
    const awaySince = this.downSince ?? Date.now();
    if (next === 'unreachable') {
      this.downSince = awaySince;
      this.log.error(
        { redis: this.where },
        'cluster: Redis cannot be reached; devices connected here are still acknowledged and stored, new connections are refused, alerts and board sessions are not shared with the other nodes until it is back',
      );
    } else {
      this.log.info({ redis: this.where, awayMs: Date.now() - awaySince }, 'cluster: Redis answers again');
      this.downSince = null;
    }
    for (const listener of this.listeners) listener(next, awaySince);
  }
}
