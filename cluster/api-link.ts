import type { Logger } from '../core/logger.js';
import { sessionSchema, type SessionShare } from '../core/sessions.js';
import type { SharedTickets } from '../live/tickets.js';
import { z } from 'zod';
import type { ClusterBus } from './bus.js';

const SESSIONS = 'sessions';
const storedSchema = z.object({ session: sessionSchema, lastUsed: z.number() });
const messageSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('started'), key: z.string(), session: sessionSchema }),
  z.object({ op: z.literal('used'), key: z.string(), at: z.number() }),
  z.object({ op: z.literal('ended'), key: z.string() }),
]);

/**
 * The HTTP API's side of the cluster: board sessions in the hash `coldchain:sessions` (session key
 * = the token's SHA-256, never the token) and announced on a channel, so any node behind the load
 * balancer accepts them and they outlive the node they started on; stream tickets as Redis keys
 * with their 30 s expiry, taken with GETDEL (one use, on whichever node).
 */
export function apiLink(bus: ClusterBus, log: Logger): { sessions: SessionShare; tickets: SharedTickets } {
  const warn = (what: string) => (err: Error) => log.warn({ err: err.message }, `cluster: ${what}`);
  const store = (key: string, session: z.infer<typeof sessionSchema>, lastUsed: number) =>
    bus.setField(SESSIONS, key, JSON.stringify({ session, lastUsed })).catch(warn('a board session could not be shared'));
  const known = new Map<string, z.infer<typeof sessionSchema>>();
  /** When each open session was last used, as far as this node heard: stored again when Redis comes back (it may come back empty). */
  const lastUse = new Map<string, number>();
  bus.onReconnect(() => {
    const now = Date.now();
    for (const [key, session] of known) if (session.expiresAt > now) void store(key, session, lastUse.get(key) ?? now);
  });
  const sessions: SessionShare = {
    started(key, session) {
      known.set(key, session);
      lastUse.set(key, Date.now());
      void store(key, session, Date.now());
      bus.publish(SESSIONS, { op: 'started', key, session });
    },
    used(key, at) {
      const session = known.get(key);
      if (session) {
        lastUse.set(key, at);
        void store(key, session, at);
      }
      bus.publish(SESSIONS, { op: 'used', key, at });
    },
    ended(key) {
      known.delete(key);
      lastUse.delete(key);
      bus.deleteField(SESSIONS, key).catch(warn('a board session end could not be shared'));
      bus.publish(SESSIONS, { op: 'ended', key });
    },
    async follow(handlers) {
      await bus.subscribe(SESSIONS, (body) => {
        const message = messageSchema.safeParse(body);
        if (!message.success) return;
        const m = message.data;
        if (m.op === 'started') {
          known.set(m.key, m.session);
          lastUse.set(m.key, Date.now());
          handlers.started(m.key, m.session);
        } else if (m.op === 'used') {
          lastUse.set(m.key, m.at);
          handlers.used(m.key, m.at);
        } else {
          known.delete(m.key);
          lastUse.delete(m.key);
          handlers.ended(m.key);
        }
      });
    },
    async load() {
      const now = Date.now();
      const open: Array<{ key: string; session: z.infer<typeof sessionSchema>; lastUsed: number }> = [];
      for (const [key, raw] of Object.entries(await bus.fields(SESSIONS))) {
        const parsed = storedSchema.safeParse(JSON.parse(raw));
        if (!parsed.success || parsed.data.session.expiresAt <= now) {
          bus.deleteField(SESSIONS, key).catch(warn('an expired board session could not be removed'));
          continue;
        }
        known.set(key, parsed.data.session);
        lastUse.set(key, parsed.data.lastUsed);
        open.push({ key, ...parsed.data });
      }
      return open;
    },
  };
  const tickets: SharedTickets = {
    put: (key, value, ttlMs) => bus.setExpiring(`ticket:${key}`, value, ttlMs),
    take: (key) => bus.take(`ticket:${key}`),
  };
  return { sessions, tickets };
}
