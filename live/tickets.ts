import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { Refusal } from '../core/refusal.js';
import type { Credential } from '../core/sessions.js';

/** A ticket is used at once by the page that asked for it: short-lived and good for one stream. */
export const TICKET_MS = 30_000;
export const MAX_TICKETS = 1000;
/** How often expired tickets are forgotten. */
const SWEEP_MS = 5_000;

/**
 * A cluster's stream tickets (cluster/api-link.ts): the page asks for one on whichever node the
 * load balancer picks and opens the stream on whichever it picks next. Only the ticket's hash is a key.
 */
export interface SharedTickets {
  put(key: string, value: string, ttlMs: number): Promise<void>;
  /** The value, removed in the same step (one use). */
  take(key: string): Promise<string | null>;
}
const heldSchema = z.object({
  credential: z.union([z.object({ kind: z.literal('session'), key: z.string() }), z.object({ kind: z.literal('api'), id: z.string(), tokenHash: z.string() })]),
  expiresAt: z.number(),
});
type Held = { credential: Credential; expiresAt: number };

const ticketKey = (ticket: string) => createHash('sha256').update(ticket).digest('hex');

/**
 * One-use tickets that open the live stream: browsers' EventSource cannot send headers, and a
 * bearer token in a URL ends up in request logs and browser history. A ticket stands for the
 * credential that asked for it, for `TICKET_MS`; in memory, or shared by a cluster's nodes.
 */
export class StreamTickets {
  private readonly held = new Map<string, Held>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly shared?: SharedTickets,
    /** Whether the credential behind a ticket still holds when it is used (core/sessions.ts). */
    private readonly holds: (credential: Credential) => boolean = () => true,
  ) {
    this.sweeper = setInterval(() => this.sweep(Date.now()), SWEEP_MS);
    this.sweeper.unref();
  }

  /** A new ticket for a credential; refused (429) while `MAX_TICKETS` wait to be used. */
  async issue(credential: Credential, now = Date.now()): Promise<{ ticket: string; expiresAt: number }> {
    if (this.held.size >= MAX_TICKETS) this.sweep(now);
    if (this.held.size >= MAX_TICKETS)
      throw new Refusal(`${MAX_TICKETS} stream tickets are waiting to be used; try again in 30 s`, 429, 'too_many_requests', { 'Retry-After': '30' });
    const ticket = `cc_tkt_${randomBytes(24).toString('base64url')}`;
    const held = { credential, expiresAt: now + TICKET_MS };
    if (this.shared) await this.shared.put(ticketKey(ticket), JSON.stringify(held), TICKET_MS);
    else this.held.set(ticketKey(ticket), held);
    return { ticket, expiresAt: held.expiresAt };
  }

  /** The credential a ticket stands for, if it has not expired and still holds; the ticket is used up whatever happens next. */
  async redeem(ticket: string): Promise<Credential | undefined> {
    const key = ticketKey(ticket);
    const held = this.shared ? await this.takeShared(key) : this.held.get(key);
    this.held.delete(key);
    return held && held.expiresAt > Date.now() && this.holds(held.credential) ? held.credential : undefined;
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  private sweep(now: number): void {
    for (const [key, t] of this.held) if (t.expiresAt <= now) this.held.delete(key);
  }

  private async takeShared(key: string): Promise<Held | undefined> {
    const value = await this.shared!.take(key);
    if (!value) return undefined;
    const parsed = heldSchema.safeParse(JSON.parse(value));
    return parsed.success ? (parsed.data as Held) : undefined;
  }
}
