import { createSocket } from 'node:dgram';
import type { Logger } from '../core/logger.js';

/** Seconds between the NTP era (1900) and the Unix epoch. */
const NTP_EPOCH_OFFSET_S = 2_208_988_800;

const readTimestamp = (b: Buffer, at: number) => (b.readUInt32BE(at) - NTP_EPOCH_OFFSET_S) * 1000 + (b.readUInt32BE(at + 4) * 1000) / 2 ** 32;

/**
 * One SNTP exchange (RFC 4330, client mode 3, version 4): the offset of this host's clock from the
 * server's, ms (positive: this host is behind). t0/t3 are this host's send and receive times, t1/t2
 * the server's receive and transmit times: offset = ((t1 − t0) + (t2 − t3)) / 2. A reply that is not
 * a server's answer to this request (mode, origin timestamp), or a kiss-of-death / unsynchronised
 * server (stratum 0 or ≥ 16, leap indicator 3), is refused with the reason.
 */
export function sntpOffset(server: { host: string; port: number }, timeoutMs = 2000): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(server.host.includes(':') ? 'udp6' : 'udp4');
    const request = Buffer.alloc(48);
    request[0] = (0 << 6) | (4 << 3) | 3;
    const t0 = Date.now();
    // Transmit timestamp: the server copies it into the reply's origin timestamp.
    const seconds = Math.floor(t0 / 1000) + NTP_EPOCH_OFFSET_S;
    const fraction = Math.floor(((t0 % 1000) / 1000) * 2 ** 32);
    request.writeUInt32BE(seconds, 40);
    request.writeUInt32BE(fraction, 44);
    const done = (err: Error | null, offset?: number) => {
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve(offset!);
    };
    const timer = setTimeout(() => done(new Error(`no answer from ${server.host}:${server.port} within ${timeoutMs} ms`)), timeoutMs);
    socket.on('error', (err) => done(err));
    socket.on('message', (reply) => {
      const t3 = Date.now();
      if (reply.length < 48) return done(new Error(`${server.host}: a ${reply.length}-byte reply is not NTP`));
      const leap = reply[0]! >> 6;
      const mode = reply[0]! & 7;
      const stratum = reply[1]!;
      if (mode !== 4) return done(new Error(`${server.host}: reply in mode ${mode}, not a server's`));
      if (reply.readUInt32BE(24) !== seconds || reply.readUInt32BE(28) !== fraction)
        return done(new Error(`${server.host}: the reply does not answer this request`));
      if (stratum === 0 || stratum >= 16 || leap === 3) return done(new Error(`${server.host}: the server is not synchronised (stratum ${stratum})`));
      const t1 = readTimestamp(reply, 32);
      const t2 = readTimestamp(reply, 40);
      done(null, (t1 - t0 + (t2 - t3)) / 2);
    });
    socket.send(request, server.port, server.host, (err) => err && done(err));
  });
}

/** What the server's clock is compared with, and the latest difference found. */
export interface ClockReading {
  /** This host's clock minus the reference, ms (positive: ahead). */
  offsetMs: number;
  source: 'ntp' | 'devices';
  at: number;
}

const DEVICE_WINDOW_MS = 10 * 60_000;
const MIN_DEVICES = 3;

/**
 * The server clock checked against NTP servers where configured and reachable, and against the
 * devices' clocks: per device, the smallest (arrival − device time) of its live messages in the last
 * 10 min (see observe) (network delay only adds, so the smallest is nearest the clock difference); with at least 3
 * devices, their median is how far the server runs ahead of the fleet. NTP, when it answered in the
 * last round, is what counts; the devices only when no NTP server answers.
 */
export class ClockWatch {
  private ntp: ClockReading | undefined;
  private readonly devices = new Map<string, { minDelay: number; at: number }>();
  /** Each device's previous message (device time, arrival), to tell a live stream from a backlog. */
  private readonly last = new Map<string, { ts: number; receivedAt: number }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: {
      servers: () => Array<{ host: string; port: number }>;
      everyMs: () => number;
      log: Logger;
    },
  ) {}

  /**
   * A device's message: its newest reading's device time and when it arrived. Only a live stream
   * counts: the device time moved on as much as the arrival time since its previous message (at
   * least 5 s apart). A store-and-forward backlog or a back-dated upload (device times a minute apart
   * arriving milliseconds apart) tells nothing about the clocks.
   */
  observe(deviceId: string, deviceTs: number, receivedAt: number): void {
    const previous = this.last.get(deviceId);
    this.last.set(deviceId, { ts: deviceTs, receivedAt });
    if (!previous) return;
    const arrived = receivedAt - previous.receivedAt;
    const taken = deviceTs - previous.ts;
    if (arrived < 5000 || Math.abs(taken - arrived) > Math.max(2000, arrived * 0.05)) return;
    const delay = receivedAt - deviceTs;
    const seen = this.devices.get(deviceId);
    if (!seen || receivedAt - seen.at > DEVICE_WINDOW_MS || delay < seen.minDelay) this.devices.set(deviceId, { minDelay: delay, at: receivedAt });
  }

  start(): void {
    const round = () => {
      void this.checkNtp().finally(() => {
        this.timer = setTimeout(round, this.deps.everyMs());
        this.timer.unref();
      });
    };
    round();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }

  async checkNtp(): Promise<void> {
    const servers = this.deps.servers();
    for (const server of servers) {
      try {
        const offset = await sntpOffset(server);
        this.ntp = { offsetMs: -offset, source: 'ntp', at: Date.now() };
        return;
      } catch (err) {
        this.deps.log.debug({ server: `${server.host}:${server.port}`, err: (err as Error).message }, 'NTP server did not answer');
      }
    }
    this.ntp = undefined;
  }

  /** The latest comparison, or undefined when there is nothing to compare with. */
  reading(now = Date.now()): ClockReading | undefined {
    if (this.ntp) return this.ntp;
    const delays: number[] = [];
    for (const [id, seen] of this.devices) {
      if (now - seen.at > DEVICE_WINDOW_MS) this.devices.delete(id);
      else delays.push(seen.minDelay);
    }
    for (const [id, last] of this.last) if (now - last.receivedAt > DEVICE_WINDOW_MS) this.last.delete(id);
    if (delays.length < MIN_DEVICES) return undefined;
    delays.sort((a, b) => a - b);
    const mid = delays.length >> 1;
    const median = delays.length % 2 ? delays[mid]! : (delays[mid - 1]! + delays[mid]!) / 2;
    return { offsetMs: median, source: 'devices', at: now };
  }
}
