import type { Aedes, Client, PublishPacket } from 'aedes';
import type { Logger } from '../core/logger.js';

/** How much incoming QoS 2 state (PUBLISH received, PUBREL not yet) the broker keeps. */
export interface Qos2Limits {
  /** Per client id: aedes closes a connection that goes above it (MQTT 3.1.1 has no refusal code). */
  perClient: number;
  /** All client ids together, in messages and in payload bytes. */
  totalMessages: number;
  totalBytes: number;
}

interface Held {
  /** message id → payload bytes, oldest first. */
  messages: Map<number, number>;
  bytes: number;
}

/** The part of the aedes persistence that keeps incoming QoS 2 messages (memory: a map per client id). */
interface IncomingStore {
  incomingStorePacket(client: { id: string }, packet: PublishPacket): Promise<void>;
  incomingDelPacket(client: { id: string }, packet: { messageId?: number }): Promise<void>;
  cleanIncoming?(client: { id: string }): Promise<void>;
}

const sizeOf = (packet: PublishPacket) =>
  (typeof packet.payload === 'string' ? Buffer.byteLength(packet.payload) : packet.payload.length) + packet.topic.length;

/**
 * The broker's incoming QoS 2 window (issue 12, item 13). aedes keeps each QoS 2 PUBLISH (with
 * its payload) until the client's PUBREL, to answer a resent PUBLISH without delivering it twice.
 * aedes 1.2 drops that state when a clean session ends and caps it at `maxInflightInbound` per
 * connection (1000 by default, of packets up to mqtt.maxPacketBytes); a persistent session
 * (clean=false) keeps it after the disconnect, for good, and every new client id of a device is a
 * new session: connect, send QoS 2 without PUBREL, leave, repeat, and the broker's memory grows
 * without bound. Here the state is counted per client id and in total: a client id holds at most
 * `perClient` (its oldest are forgotten first: a late PUBREL is still answered with PUBCOMP), and
 * when the total would go above `totalMessages` or `totalBytes` the state of sessions that are not
 * connected goes first, least recently used first; if live clients alone fill the window, the
 * publish is refused and the connection closed before the message is stored or acknowledged
 * (the client resends it later, like after any lost connection).
 *
 * Forgetting a message's state costs at most a duplicate: our broker made the message durable
 * before PUBREC, a resent PUBLISH is ingested again, and a reading is idempotent.
 */
export class Qos2Window {
  private static readonly installed = new WeakMap<Aedes, Qos2Window>();
  /** The window installed on a broker, if any. */
  static of(aedes: Aedes): Qos2Window | undefined {
    return Qos2Window.installed.get(aedes);
  }

  private readonly held = new Map<string, Held>();
  private messages = 0;
  private bytes = 0;
  private readonly store: IncomingStore;
  private evictions = 0;

  constructor(
    private readonly aedes: Aedes,
    private readonly limits: Qos2Limits,
    private readonly log: Logger,
  ) {
    this.store = (aedes as unknown as { persistence: IncomingStore }).persistence;
  }

  /** The store's own methods, for what the window forgets itself. */
  private forgetInStore: (id: string, messageId: number) => void = () => undefined;
  private cleanInStore: (id: string) => void = () => undefined;

  /** Puts the window around the broker's persistence; its own per-connection cap becomes `perClient`. */
  static install(aedes: Aedes, limits: Qos2Limits, log: Logger): Qos2Window {
    const existing = Qos2Window.installed.get(aedes);
    if (existing) return existing;
    const window = new Qos2Window(aedes, limits, log);
    Qos2Window.installed.set(aedes, window);
    (aedes as Aedes & { maxInflightInbound: number }).maxInflightInbound = limits.perClient;
    const store = window.store;
    const storePacket = store.incomingStorePacket.bind(store);
    const delPacket = store.incomingDelPacket.bind(store);
    const clean = store.cleanIncoming?.bind(store);
    window.forgetInStore = (id, messageId) => void delPacket({ id }, { messageId }).catch(() => undefined);
    window.cleanInStore = (id) => void (clean ? clean({ id }) : Promise.resolve()).catch(() => undefined);
    store.incomingStorePacket = async (client, packet) => {
      window.admit(client.id, packet);
      await storePacket(client, packet);
    };
    store.incomingDelPacket = async (client, packet) => {
      await delPacket(client, packet);
      window.release(client.id, packet.messageId);
    };
    if (clean) {
      store.cleanIncoming = async (client) => {
        window.drop(client.id);
        await clean(client);
      };
    }
    return window;
  }

  /** What is held now (for /metrics and tests). */
  get stats(): { messages: number; bytes: number; clients: number; evictions: number } {
    return { messages: this.messages, bytes: this.bytes, clients: this.held.size, evictions: this.evictions };
  }

  /** Whether a QoS 2 publish of this client would fit (checked before it is ingested). */
  fits(client: Client, packet: PublishPacket): boolean {
    const size = sizeOf(packet);
    if (this.messages + 1 <= this.limits.totalMessages && this.bytes + size <= this.limits.totalBytes) return true;
    let freeMessages = 0;
    let freeBytes = 0;
    for (const [id, held] of this.held) {
      if (id === client.id || this.connected(id)) continue;
      freeMessages += held.messages.size;
      freeBytes += held.bytes;
    }
    return this.messages + 1 - freeMessages <= this.limits.totalMessages && this.bytes + size - freeBytes <= this.limits.totalBytes;
  }

  private connected(id: string): boolean {
    return (this.aedes as unknown as { clients: Record<string, unknown> }).clients[id] !== undefined;
  }

  /** Accounts for a message about to be stored, making room first; throws when even that is not enough. */
  private admit(id: string, packet: PublishPacket): void {
    const messageId = packet.messageId ?? 0;
    const size = sizeOf(packet);
    let held = this.held.get(id);
    if (held) this.held.delete(id); // re-inserted below: most recently used last
    held ??= { messages: new Map(), bytes: 0 };
    this.held.set(id, held);
    this.forgetOne(held, messageId); // the same message id again: the store overwrites it
    while (held.messages.size >= this.limits.perClient) {
      const oldest = held.messages.keys().next().value!;
      this.forgetOne(held, oldest);
      this.forgetInStore(id, oldest);
    }
    if (this.messages + 1 > this.limits.totalMessages || this.bytes + size > this.limits.totalBytes) {
      for (const [other, otherHeld] of this.held) {
        if (other === id || this.connected(other)) continue;
        this.drop(other, otherHeld);
        this.evictions++;
        this.cleanInStore(other);
        if (this.messages + 1 <= this.limits.totalMessages && this.bytes + size <= this.limits.totalBytes) break;
      }
    }
    if (this.messages + 1 > this.limits.totalMessages || this.bytes + size > this.limits.totalBytes) {
      if (held.messages.size === 0) this.held.delete(id);
      this.log.warn(
        { clientId: id, messages: this.messages, bytes: this.bytes, limits: this.limits },
        'incoming QoS 2 window full (PUBLISH without PUBREL); closing the connection',
      );
      throw new Error('incoming QoS 2 window full');
    }
    held.messages.set(messageId, size);
    held.bytes += size;
    this.messages++;
    this.bytes += size;
  }

  /** Forgets one stored message of a client (its oldest, to make room): the store loses it too. */
  private forgetOne(held: Held, messageId: number): void {
    const size = held.messages.get(messageId);
    if (size === undefined) return;
    held.messages.delete(messageId);
    held.bytes -= size;
    this.messages--;
    this.bytes -= size;
  }

  private release(id: string, messageId: number | undefined): void {
    const held = this.held.get(id);
    if (!held || messageId === undefined) return;
    this.forgetOne(held, messageId);
    if (held.messages.size === 0) this.held.delete(id);
  }

  private drop(id: string, held = this.held.get(id)): void {
    if (!held) return;
    this.held.delete(id);
    this.messages -= held.messages.size;
    this.bytes -= held.bytes;
  }
}
