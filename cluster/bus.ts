import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../core/logger.js';

/** Every key and channel the nodes share, beside aedes' own (which use their own names). */
const PREFIX = 'coldchain:';

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

  private constructor(
    readonly nodeId: string,
    private readonly pub: Redis,
    private readonly sub: Redis,
    private readonly log: Logger,
  ) {
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

  static async open(options: RedisOptions, nodeId: string, log: Logger): Promise<ClusterBus> {
    const pub = new Redis({ ...options, lazyConnect: true });
    const sub = new Redis({ ...options, lazyConnect: true });
    // ioredis reconnects by itself; errors in between are logged, not thrown at the process.
    for (const conn of [pub, sub]) conn.on('error', (err: Error) => log.warn({ err: err.message }, 'cluster: Redis connection error'));
    await Promise.all([pub.connect(), sub.connect()]);
    return new ClusterBus(nodeId, pub, sub, log);
  }

  /** Tells the other nodes; a Redis that is away loses the message (the event store keeps the fact). */
  publish(channel: string, body: unknown): void {
    this.pub
      .publish(PREFIX + channel, JSON.stringify({ from: this.nodeId, body }))
      .catch((err: Error) => this.log.warn({ err: err.message, channel }, 'cluster: a message to the other nodes was lost'));
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
