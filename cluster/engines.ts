import { hostname } from 'node:os';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { z } from 'zod';
import type { Logger } from '../core/logger.js';
import { Redis } from 'ioredis';
import { ClusterBus } from './bus.js';
import { RedisWatch } from './redis-watch.js';

const require = createRequire(import.meta.url);

/**
 * Where the cluster's shared engines are: one Redis, reached by every node. A password is never
 * part of the URL (URLs end up on command lines and in logs): it comes from
 * COLDCHAIN_REDIS_PASSWORD.
 */
export const clusterSettingsSchema = z.object({
  redis: z
    .string()
    .url('cluster: expected a Redis URL such as redis://10.0.0.5:6379')
    .refine((u) => /^rediss?:$/.test(new URL(u).protocol), 'cluster: the URL must start with redis:// or rediss:// (TLS)')
    .refine((u) => new URL(u).password === '', 'cluster: put the Redis password in COLDCHAIN_REDIS_PASSWORD, not in the URL'),
  /** This node's name in the cluster (aedes broker id, logs, metrics); unique per node. */
  nodeId: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, 'cluster node id: letters, digits, ".", "_" or "-", at most 64')
    .default(() => `${hostname()}-${process.pid}`),
});
export type ClusterSettings = z.infer<typeof clusterSettingsSchema>;

/** The pieces aedes takes to be one broker across nodes. */
export interface ClusterEngines {
  nodeId: string;
  /** mqemitter-redis: a publish on one node reaches subscribers on every node (alerts, downlinks, $SYS). */
  mq: unknown;
  /** aedes-persistence-redis: sessions, subscriptions, queued QoS 1 messages and retained messages. */
  persistence: unknown;
  /** coldchain's own messages between nodes (shared alert book, device judges, the notification lease). */
  bus: ClusterBus;
  /** Whether Redis answers (logged on each change; `/healthz` shows it). */
  redis: RedisWatch;
  /** After the broker has closed: ends the persistence's Redis connection (aedes closes the emitter itself). */
  close(): Promise<void>;
}

interface RedisOptions {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls?: Record<string, never>;
  keyPrefix?: string;
  /** Fail fast on a Redis that is down instead of queueing commands forever. */
  maxRetriesPerRequest: number;
}

function redisOptions(url: string, password: string | undefined): RedisOptions {
  const parsed = new URL(url);
  const db = parsed.pathname.replace(/^\//, '');
  return {
    host: parsed.hostname,
    port: Number(parsed.port || 6379),
    db: db ? Number(db) : 0,
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(password ? { password } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: 3,
  };
}

/**
 * aedes' own clustering on Redis (`mqemitter-redis`, `aedes-persistence-redis`): every node is a
 * full broker; a client id connecting to one node closes the same id on the others (aedes'
 * `$SYS/+/new/clients`), so a device has one live connection in the cluster.
 */
export async function clusterEngines(settings: ClusterSettings, password: string | undefined, log: Logger): Promise<ClusterEngines> {
  const options = redisOptions(settings.redis, password);
  // CommonJS packages without types: loaded through require, typed at this seam only.
  const MQEmitterRedis = require('mqemitter-redis') as (opts: object) => Emitter;
  const AsyncRedisPersistence = require('aedes-persistence-redis/asyncPersistence.js') as new (opts: object) => Persistence;
  const where = `${options.host}:${options.port}`;
  const watch = new RedisWatch(where, log);
  // The connections are made here, so one watch follows them all (the packages take them as options).
  const connect = (extra: object = {}) => watch.add(new Redis({ ...options, ...extra }));
  const mq = MQEmitterRedis({ pubConn: connect({ enableAutoPipelining: true }), subConn: connect({ enableAutoPipelining: true }) });
  // Without a listener, mqemitter-redis' error event (every failed reconnect) throws and ends the process.
  mq.state.on('error', () => undefined);
  try {
    await Promise.race([mq.pubConn.ping(), new Promise((_, reject) => setTimeout(() => reject(new Error('no answer in 5 s')), 5000).unref())]);
  } catch (err) {
    await new Promise<void>((resolve) => mq.close(resolve));
    throw new Error(`cluster: Redis at ${where} cannot be reached: ${(err as Error).message}`);
  }
  keepLocalWhileAway(mq, watch);
  const persistence = new AsyncRedisPersistence({ conn: connect() });
  keepDeliveringWhileAway(persistence, watch, log);
  const bus = await ClusterBus.open(options, settings.nodeId, log, watch);
  watch.arm();
  // aedes 1.2 pipes the retained messages of a SUBSCRIBE (`stream.pipe`), while this persistence
  // returns an async generator: without the wrap, any subscription on a cluster node throws.
  const retained = persistence.createRetainedStreamCombi.bind(persistence);
  persistence.createRetainedStreamCombi = (patterns) => Readable.from(retained(patterns));
  log.info({ nodeId: settings.nodeId, redis: `${where}/${options.db}` }, 'cluster: broker state shared through Redis');
  return {
    nodeId: settings.nodeId,
    mq,
    persistence,
    bus,
    redis: watch,
    close: async () => {
      await persistence.destroy();
      await bus.close();
    },
  };
}

interface Emitter {
  close(cb: () => void): void;
  emit(packet: unknown, done?: (err?: Error) => void): void;
  /** MQEmitter's own emit: delivery to this node's subscribers only. */
  _emit(packet: unknown, done?: (err?: Error) => void): void;
  pubConn: Redis;
  state: NodeJS.EventEmitter;
}

interface Persistence {
  destroy(): Promise<void>;
  createRetainedStreamCombi(patterns: string[]): AsyncIterable<unknown>;
  outgoingEnqueueCombi(subs: unknown[], packet: unknown): Promise<void>;
  outgoingUpdate(client: unknown, packet: unknown): Promise<void>;
  outgoingClearMessageId(client: unknown, packet: unknown): Promise<unknown>;
}

/**
 * While Redis is away a publish reaches this node's subscribers only (alerts to the followers
 * connected here), instead of failing: aedes would otherwise close the connection of every
 * device whose reading it had just acknowledged, and no follower anywhere would hear an alert.
 */
function keepLocalWhileAway(mq: Emitter, watch: RedisWatch): void {
  const shared = mq.emit.bind(mq);
  const local = mq._emit.bind(mq);
  mq.emit = (packet, done) => {
    if (watch.state !== 'connected') return local(packet, done);
    shared(packet, (err) => (err ? local(packet, done) : done?.()));
  };
}

/**
 * The persistence's per-message bookkeeping (copies queued for offline sessions, the ids of
 * messages in flight to followers) fails while Redis is away; aedes would then drop the message
 * for everyone, or close the follower's connection. Those copies are lost instead (logged once
 * per outage): live deliveries go on.
 */
function keepDeliveringWhileAway(persistence: Persistence, watch: RedisWatch, log: Logger): void {
  let warned = false;
  watch.onChange((state) => {
    if (state === 'connected') warned = false;
  });
  const lost = (what: string) => (err: Error) => {
    if (!warned) log.warn({ err: err.message }, `cluster: Redis is away; ${what} are not kept until it is back`);
    warned = true;
    return undefined;
  };
  const enqueue = persistence.outgoingEnqueueCombi.bind(persistence);
  persistence.outgoingEnqueueCombi = (subs, packet) => enqueue(subs, packet).catch(lost('messages for offline sessions'));
  const update = persistence.outgoingUpdate.bind(persistence);
  persistence.outgoingUpdate = (client, packet) => update(client, packet).catch(lost('messages in flight to followers'));
  const clear = persistence.outgoingClearMessageId.bind(persistence);
  persistence.outgoingClearMessageId = (client, packet) => clear(client, packet).catch(lost('messages in flight to followers'));
}
