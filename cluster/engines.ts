import { hostname } from 'node:os';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { z } from 'zod';
import type { Logger } from '../core/logger.js';
import { ClusterBus } from './bus.js';

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
  const MQEmitterRedis = require('mqemitter-redis') as (opts: object) => { close(cb: () => void): void; pubConn: { ping(): Promise<string> } };
  const AsyncRedisPersistence = require('aedes-persistence-redis/asyncPersistence.js') as new (
    opts: object,
  ) => {
    destroy(): Promise<void>;
    createRetainedStreamCombi(patterns: string[]): AsyncIterable<unknown>;
  };
  const where = `${options.host}:${options.port}`;
  const mq = MQEmitterRedis(options);
  try {
    await Promise.race([mq.pubConn.ping(), new Promise((_, reject) => setTimeout(() => reject(new Error('no answer in 5 s')), 5000).unref())]);
  } catch (err) {
    await new Promise<void>((resolve) => mq.close(resolve));
    throw new Error(`cluster: Redis at ${where} cannot be reached: ${(err as Error).message}`);
  }
  const persistence = new AsyncRedisPersistence(options);
  const bus = await ClusterBus.open(options, settings.nodeId, log);
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
    close: async () => {
      await persistence.destroy();
      await bus.close();
    },
  };
}
