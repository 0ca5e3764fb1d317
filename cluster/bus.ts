import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../core/logger.js';
import type { RedisWatch } from './redis-watch.js';

/** Every key and channel the nodes share, beside aedes' own (which use their own names). */
const PREFIX = 'coldchain:';
/** Messages kept while Redis is away, sent when it is back; beyond this the oldest are dropped (logged). */
const HELD_MAX = 20_000;

/** Renews a lease only while this node still holds it (compare-and-expire, atomic in Redis). */
const RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";

/** A lease one node holds at a time (SET NX PX, renewed by its holder): who sends notifications. */
export interface Lease {
  /** This node holds it now (or Redis cannot be asked: see `ClusterBus.lease`). */
  held(): boolean;
  stop(): void;
}

/**
 * What the nodes tell each other through Redis, beyond aedes' MQTT state: pub/sub channels
 * (each message carries the sender's node id; a node does not hear itself), hashes, and leases.
 * One connection publishes and commands, one subscribes (Redis requires it). Messages from one
 * node arrive at the others in the order it sent them.
 */
export class ClusterBus {
  private readonly handlers = new Map<string, (body: unknown, from: string) => void>();
  private readonly leases = new Set<NodeJS.Timeout>();
  /** Messages not sent while Redis was away, in the order they were published (by `seq`). */
  private held: Array<{ seq: number; channel: string; message: string }> = [];
  private seq = 0;
  private droppedWhileAway = 0;
  private readonly reconnected: Array<(awaySince: number) => void> = [];

  private constructor(
    readonly nodeId: string,
    private readonly pub: Redis,
    private readonly sub: Redis,
    private readonly log: Logger,
    private readonly watch?: RedisWatch,
  ) {
    watch?.onChange((state, awaySince) => {
      if (state !== 'connected') return;
      void this.sendHeld();
      for (const handler of this.reconnected) handler(awaySince);
    });
    sub.on('message', (channel: string, message: string) => {
      const handler = this.handlers.get(channel);
      if (!handler) return;
      let parsed: { from?: unknown; body?: unknown };
      try {
        parsed = JSON.parse(message) as typeof parsed;
      } catch {
        this.log.warn({ channel }, 'cluster: a message that is not JSON was ignored');
        return;
      }
      if (typeof parsed.from !== 'string' || parsed.from === this.nodeId) return;
      try {
        handler(parsed.body, parsed.from);
      } catch (err) {
        this.log.error({ err, channel, from: parsed.from }, 'cluster: a message from another node could not be applied');
      }
    });
  }

  static async open(options: RedisOptions, nodeId: string, log: Logger, watch?: RedisWatch): Promise<ClusterBus> {
    const pub = new Redis({ ...options, lazyConnect: true });
    const sub = new Redis({ ...options, lazyConnect: true });
    // ioredis reconnects by itself; an outage is reported once by the watch, each failed attempt only at debug level.
    for (const conn of [pub, sub]) conn.on('error', (err: Error) => log.debug({ err: err.message }, 'cluster: Redis connection error'));
    await Promise.all([pub.connect(), sub.connect()]);
    if (watch) for (const conn of [pub, sub]) watch.add(conn);
    return new ClusterBus(nodeId, pub, sub, log, watch);
  }

  /**
   * Tells the other nodes. While Redis is away the message is kept (up to HELD_MAX) and sent,
   * in order, when it is back: the other nodes' alert books catch up without a restart.
   */
  publish(channel: string, body: unknown): void {
    const held = { seq: this.seq++, channel, message: JSON.stringify({ from: this.nodeId, body }) };
    if (this.held.length || (this.watch && this.watch.state !== 'connected')) return this.hold(held);
    this.pub.publish(PREFIX + channel, held.message).catch(() => this.hold(held));
  }

  private hold(message: { seq: number; channel: string; message: string }): void {
    this.held.push(message);
    if (this.held.length > HELD_MAX) {
      this.held.shift();
      if (this.droppedWhileAway++ === 0)
        this.log.error({ kept: HELD_MAX }, 'cluster: too many messages for the other nodes while Redis is away; the oldest are dropped');
    }
    // Sent at once when Redis answers (a publish can fail between two watch changes).
    if (!this.watch || this.watch.state === 'connected') queueMicrotask(() => void this.sendHeld());
  }

  private sending = false;

  /** What was kept while Redis was away, in publishing order; stops at the first failure (kept for the next time). */
  private async sendHeld(): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    try {
      this.held.sort((x, y) => x.seq - y.seq);
      while (this.held.length) {
        const next = this.held[0]!;
        await this.pub.publish(PREFIX + next.channel, next.message);
        this.held.shift();
      }
      if (this.droppedWhileAway) this.log.warn({ dropped: this.droppedWhileAway }, 'cluster: messages dropped while Redis was away');
      this.droppedWhileAway = 0;
    } catch {
      // Still away: the watch calls again when it is back.
    } finally {
      this.sending = false;
    }
  }

  /**
   * Called each time Redis answers again after an outage, with when it began: to restore what an
   * emptied Redis lost, and to catch up with what the other nodes said meanwhile (pub/sub keeps
   * nothing for a subscriber that was away, and the nodes reconnect at different moments).
   */
  onReconnect(handler: (awaySince: number) => void): void {
    this.reconnected.push(handler);
  }

  /** Hears the other nodes on `channel`. */
  async subscribe(channel: string, handler: (body: unknown, from: string) => void): Promise<void> {
    this.handlers.set(PREFIX + channel, handler);
    await this.sub.subscribe(PREFIX + channel);
  }

  async setField(hash: string, field: string, value: string): Promise<void> {
    await this.pub.hset(PREFIX + hash, field, value);
  }

  async deleteField(hash: string, field: string): Promise<void> {
    await this.pub.hdel(PREFIX + hash, field);
  }

  /** A value that Redis forgets after `ttlMs`. */
  async setExpiring(key: string, value: string, ttlMs: number): Promise<void> {
    await this.pub.set(PREFIX + key, value, 'PX', ttlMs);
  }

  /** A value, removed in the same step (GETDEL): whoever takes it first has it. */
  async take(key: string): Promise<string | null> {
    return this.pub.getdel(PREFIX + key);
  }

  async fields(hash: string): Promise<Record<string, string>> {
    return this.pub.hgetall(PREFIX + hash);
  }

  /**
   * A lease held by one node at a time: taken when free, renewed every third of `ttlMs` by its
   * holder, free again `ttlMs` after the holder died. When Redis cannot be asked, `held()` says
   * yes: for an alarm system two nodes paging once each beats none paging at all.
   */
  lease(name: string, ttlMs: number): Lease {
    const key = `${PREFIX}lease:${name}`;
    let held = false;
    let reachable = true;
    const tick = async () => {
      try {
        const renewed = held ? Number(await this.pub.eval(RENEW, 1, key, this.nodeId, String(ttlMs))) === 1 : false;
        held = renewed || (await this.pub.set(key, this.nodeId, 'PX', ttlMs, 'NX')) === 'OK';
        if (!reachable) this.log.info({ lease: name }, 'cluster: Redis answers again');
        reachable = true;
      } catch (err) {
        if (reachable) this.log.warn({ err: (err as Error).message, lease: name }, 'cluster: the lease cannot be asked for; acting as its holder');
        reachable = false;
      }
    };
    void tick();
    const timer = setInterval(() => void tick(), Math.max(100, Math.floor(ttlMs / 3)));
    timer.unref();
    this.leases.add(timer);
    return {
      held: () => held || !reachable,
      stop: () => {
        clearInterval(timer);
        this.leases.delete(timer);
      },
    };
  }

  async close(): Promise<void> {
    for (const timer of this.leases) clearInterval(timer);
    this.leases.clear();
    await Promise.allSettled([this.sub.quit(), this.pub.quit()]);
  }
}
