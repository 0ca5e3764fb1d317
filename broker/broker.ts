import { Aedes, type AedesOptions, type AuthenticateError, type Client, type PublishPacket, type Subscription } from 'aedes';
import type { Logger } from '../core/logger.js';
import type { Registry } from '../core/registry.js';
import type { IncomingMessage } from 'node:http';
import { tokenMatches, verifyPassword } from '../core/secrets.js';
import { isAccountName, shortName, throttleFor, type AuditSink, type AuthThrottle } from '../core/throttle.js';
import type { ClusterEngines } from '../cluster/engines.js';
import type { IngestPipeline } from '../ingestor/pipeline.js';
import { createDispatch, type CustodyHandler, type Dispatch } from '../ingestor/dispatch.js';
import { RateLimiter } from './rate-limit.js';
import { Qos2Window } from './qos2.js';
import { ALERTS_ROOT, DEVICE_CHANNELS, maySubscribe, parseDeviceTopic } from '../core/topics.js';

export interface BrokerOptions {
  registry: () => Registry;
  pipeline: IngestPipeline;
  log: Logger;
  ratePerDevice: number;
  rateBurst: number;
  /** Takes a custody event from a device; resolves to why it was refused, or undefined once it is durable. */
  custody?: CustodyHandler;
  /** The audit trail: refused user logins and lockouts are recorded there (and it keys the shared throttle). */
  audit?: AuditSink;
  /** aedes' Redis engines when this node is one of a cluster (cluster/engines.ts); in memory otherwise. */
  cluster?: ClusterEngines;
}

/** Messages refused by authorisation are acknowledged (as Mosquitto does) and routed here, where no one may subscribe. */
const SINK_TOPIC = '$coldchain/sink';
const CONNACK_SERVER_UNAVAILABLE = 3;

/**
 * A device's uplink topics (cc/v1/<id>/telemetry, status, events, custody) and the sink: no
 * subscription can match them, whoever asks (`authorizeSubscribe` lets a device subscribe to its
 * own downlink only, a person to alerts only).
 */
export function isUnsubscribable(topic: string): boolean {
  if (topic === SINK_TOPIC) return true;
  const parsed = parseDeviceTopic(topic);
  return parsed !== undefined && DEVICE_CHANNELS.has(parsed.channel);
}
const CONNACK_BAD_CREDENTIALS = 4;
const CONNACK_NOT_AUTHORIZED = 5;

/** The peer's address, for the per-address throttle: a TCP/TLS socket, or the WebSocket upgrade request. */
function addressOf(client: Client): string {
  const withConn = client as Client & { conn?: { remoteAddress?: string }; req?: IncomingMessage };
  return withConn.conn?.remoteAddress ?? withConn.req?.socket.remoteAddress ?? 'unknown';
}

/**
 * Client ids live in the authenticated identity's namespace. aedes lets a new connection with
 * an existing client id take over that session (closing the old connection, resuming its
 * subscriptions and queued messages), so a free choice of client id let any device cut off
 * another device or resume a user's session and read the alerts queued for that user. An id
 * equal to the identity stays as it is (the recommended setting); any other becomes
 * "<identity>/<id>", which no other identity can produce: identities are registry identifiers,
 * which never contain "/". Deterministic, so a persistent session still resumes on reconnect.
 */
export function boundClientId(identity: string, clientId: string): string {
  return clientId === identity ? clientId : `${identity}/${clientId}`;
}

const deviceIdOf = (client: Client): string | undefined => (client as Client & { deviceId?: string }).deviceId;
/** People (registry users) may connect to follow alerts: cc/v1/alerts/#, read only. */
const userOf = (client: Client): string | undefined => (client as Client & { userName?: string }).userName;

/**
 * The aedes broker with our hooks: per-device authentication, per-device topic authorisation,
 * rate limiting, and ingestion inside `authorizePublish` so that PUBACK follows the fsync.
 */
export class DeviceBroker {
  private aedes!: Aedes;
  /** The ingest dispatch shared with the standalone ingestor (ingestor/dispatch.ts). */
  private dispatch!: Dispatch;
  private readonly limiter: RateLimiter;
  private readonly throttle: AuthThrottle;
  private readonly liveByDevice = new Map<string, Client>();
  /** Registry users following alerts, and the token or password hash each connection presented. */
  private readonly liveUsers = new Set<Client>();
  private readonly credentialOf = new WeakMap<Client, string>();
  private readonly revoked = new WeakSet<Client>();
  private seenRegistry: Registry | undefined;
  private revocationTimer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];

  private constructor(private readonly options: BrokerOptions) {
    this.limiter = new RateLimiter(options.ratePerDevice, options.rateBurst);
    this.throttle = throttleFor(options.audit);
  }

  static async create(options: BrokerOptions): Promise<DeviceBroker> {
    const broker = new DeviceBroker(options);
    await broker.init();
    return broker;
  }

  get instance(): Aedes {
    return this.aedes;
  }

  private async init(): Promise<void> {
    const options = this.options;
    this.aedes = await Aedes.createBroker({
      authenticate: (client, username, password, done) => this.authenticate(client, username, password, done),
      authorizePublish: (client, packet, done) => this.authorizePublish(client, packet, done),
      authorizeSubscribe: (client, subscription, done) => this.authorizeSubscribe(client, subscription, done),
      drainTimeout: 30_000,
      maxClientsIdLength: 128,
      ...(options.cluster
        ? { id: options.cluster.nodeId, mq: options.cluster.mq as AedesOptions['mq'], persistence: options.cluster.persistence as AedesOptions['persistence'] }
        : {}),
    });
    // aedes looks for the subscribers of every publish it took, after the PUBACK is written: for
    // QoS 1 the persistence's subscriptions and then the emitter's (each a topic match and a
    // promise), a copy of the packet, a 'publish' event. A device's own publish, handled by
    // `authorizePublish` (stored, or routed to the sink), can match no subscription: it ends here
    // as aedes would end it with none, on the next turn (≈ 2 % of the service's CPU in batched
    // ingest, and code that no longer needs compiling while the load runs). Anything else, the
    // service's own alerts and downlinks among it, goes through aedes as before.
    const publish = this.aedes.publish as (...args: unknown[]) => void;
    (this.aedes as unknown as { publish: (...args: unknown[]) => void }).publish = function (this: Aedes, ...args: unknown[]) {
      // aedes calls it as (packet, client, done) for what a client sent, (packet, done) otherwise.
      const [packet, client, done] = args as [PublishPacket, Client | null | undefined, unknown];
      if (client && typeof done === 'function' && deviceIdOf(client) !== undefined && !packet.retain && isUnsubscribable(packet.topic)) {
        // As aedes ends it: in a promise's continuation, not inside this call.
        queueMicrotask(() => done());
        return;
      }
      publish.apply(this, args);
    };
    this.dispatch = createDispatch({
      registry: options.registry,
      pipeline: options.pipeline,
      ...(options.custody ? { custody: options.custody } : {}),
      identity: 'authenticated',
      downlink: (topic, payload) => this.aedes.publish({ cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false }, () => undefined),
    });
    this.aedes.on('clientDisconnect', (client) => this.forget(client));
    this.seenRegistry = options.registry();
    this.revocationTimer = setInterval(() => this.closeRevoked(), 1000);
    this.revocationTimer.unref();
    this.aedes.on('clientError', (client, err) =>
      options.log.debug({ clientId: client.id, device: deviceIdOf(client), err: err.message }, 'mqtt client error'),
    );
    this.aedes.on('connectionError', (client, err) => options.log.debug({ clientId: client?.id, err: err.message }, 'mqtt connection error'));
  }

  private authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (err: AuthenticateError | null, ok: boolean | null) => void,
  ): void {
    const refuse = (returnCode: number, message: string) => {
      const err = new Error(message) as AuthenticateError;
      err.returnCode = returnCode;
      done(err, false);
    };
    // A cluster node keeps sessions in Redis: while it is away a CONNECT would wait on it with no
    // answer, so the client is told at once to come back later (CONNACK 3, server unavailable).
    if (this.options.cluster && this.options.cluster.redis.state !== 'connected') {
      this.options.log.debug({ clientId: shortName(client.id), address: addressOf(client) }, 'mqtt connection refused: Redis is away');
      return refuse(CONNACK_SERVER_UNAVAILABLE, 'the cluster store (Redis) is unreachable; retry later');
    }
    const registry = this.options.registry();
    const placement = username ? registry.device(username) : undefined;
    if (placement) {
      if (!tokenMatches(password ?? '', placement.device.tokenHash)) {
        this.options.log.warn({ clientId: shortName(client.id), username, address: addressOf(client) }, 'mqtt authentication refused (device token)');
        // As long as a user's wrong password takes, so the answer's timing tells nothing about who exists.
        void this.throttle.imitateHash().then(() => refuse(CONNACK_BAD_CREDENTIALS, 'bad token'));
        return;
      }
      const deviceId = username!;
      client.id = boundClientId(deviceId, client.id);
      (client as Client & { deviceId?: string }).deviceId = deviceId;
      const previous = this.liveByDevice.get(deviceId);
      if (previous && previous !== client && previous.id !== client.id) {
        // One live connection per device: the newest wins, as MQTT does for a client id.
        this.options.log.info({ device: deviceId, oldClientId: previous.id, newClientId: client.id }, 'device reconnected; closing its older connection');
        previous.close();
      }
      this.liveByDevice.set(deviceId, client);
      this.credentialOf.set(client, placement.device.tokenHash);
      return done(null, true);
    }
    if (!username || !isAccountName(username)) {
      // Neither a device nor a possible user name: nothing to hash, and only a bounded copy is logged.
      this.options.log.warn(
        { clientId: shortName(client.id), username: username === undefined ? null : shortName(username), address: addressOf(client) },
        'mqtt authentication refused (no such identity)',
      );
      void this.throttle.imitateHash().then(() => refuse(CONNACK_BAD_CREDENTIALS, 'unknown identity'));
      return;
    }
    const user = registry.config.users.find((u) => u.name === username);
    const address = addressOf(client);
    const secret = password?.toString('utf8') ?? '';
    // A damaged hash in the config must refuse the login, not crash the broker: attempt() treats a rejection as a wrong password.
    void this.throttle
      .attempt({ account: username, address, channel: 'mqtt' }, user !== undefined, () =>
        secret.length > 1024 ? Promise.resolve(false) : verifyPassword(secret, user!.passwordHash),
      )
      .then(async (verdict) => {
        if (verdict.outcome === 'ok' && user!.disabledAt) {
          // 21 CFR 11.300: said only after the password was right, so it tells a guesser nothing.
          this.options.log.warn({ clientId: shortName(client.id), username, address }, 'mqtt authentication refused (user disabled)');
          await this.options.audit
            ?.append({ actor: user!.name, action: 'mqtt.login.refused', target: 'mqtt', details: { address, reason: 'user disabled' } })
            .catch((err: Error) => this.options.log.error({ err: err.message }, 'cannot record a refused MQTT login'));
          return refuse(CONNACK_NOT_AUTHORIZED, `user ${user!.name} is disabled`);
        }
        if (verdict.outcome === 'ok') {
          client.id = boundClientId(user!.name, client.id);
          (client as Client & { userName?: string }).userName = user!.name;
          this.liveUsers.add(client);
          this.credentialOf.set(client, user!.passwordHash);
          return done(null, true);
        }
        this.options.log.warn({ clientId: shortName(client.id), username, address, outcome: verdict.outcome }, 'mqtt authentication refused (user)');
        if (verdict.outcome === 'busy') return refuse(CONNACK_SERVER_UNAVAILABLE, 'too many password checks at once');
        if (verdict.outcome === 'locked') return refuse(CONNACK_NOT_AUTHORIZED, 'too many failed attempts; locked');
        if (user)
          await this.options.audit
            ?.append({ actor: user.name, action: 'mqtt.login.refused', target: 'mqtt', details: { address, reason: 'wrong password' } })
            .catch((err: Error) => this.options.log.error({ err: err.message }, 'cannot record a refused MQTT login'));
        refuse(CONNACK_BAD_CREDENTIALS, 'bad password');
      });
  }

  /**
   * A connection lives on the credential it presented: once a registry reload changes or removes
   * that device's token (or that user's password), the connection is closed and reconnecting takes
   * the new one (issue 12, item 16). Checked on every publish and once a second for quiet clients.
   */
  private closeRevoked(): void {
    const registry = this.options.registry();
    if (registry === this.seenRegistry) return;
    this.seenRegistry = registry;
    const revoke = (client: Client, who: Record<string, string>, why: string) => {
      this.revoked.add(client);
      this.options.log.warn({ ...who, clientId: client.id, why }, 'closing an MQTT connection whose credential is no longer valid');
      client.close();
    };
    for (const [deviceId, client] of this.liveByDevice) {
      const current = registry.device(deviceId)?.device.tokenHash;
      if (current !== this.credentialOf.get(client))
        revoke(client, { device: deviceId }, current === undefined ? 'device removed from the registry' : 'device token changed');
    }
    for (const client of this.liveUsers) {
      const user = registry.config.users.find((u) => u.name === userOf(client));
      const current = user?.passwordHash;
      if (current !== this.credentialOf.get(client))
        revoke(client, { user: userOf(client)! }, current === undefined ? 'user removed from the registry' : 'password changed');
      else if (user?.disabledAt) revoke(client, { user: user.name }, 'user disabled');
    }
  }

  private forget(client: Client): void {
    this.liveUsers.delete(client);
    const deviceId = deviceIdOf(client);
    if (deviceId && this.liveByDevice.get(deviceId) === client) {
      this.liveByDevice.delete(deviceId);
      this.limiter.forget(deviceId);
    }
  }

  private authorizeSubscribe(client: Client, subscription: Subscription, done: (err: Error | null, sub?: Subscription | null) => void): void {
    const deviceId = deviceIdOf(client);
    if (deviceId && maySubscribe(deviceId, subscription.topic)) return done(null, subscription);
    if (userOf(client) && (subscription.topic === `${ALERTS_ROOT}/#` || subscription.topic.startsWith(`${ALERTS_ROOT}/`))) return done(null, subscription);
    this.options.log.warn({ device: deviceId, topic: subscription.topic }, 'subscription refused');
    // null: SUBACK carries 0x80 for this filter and the connection stays up.
    done(null, null);
  }

  private authorizePublish(client: Client | null, packet: PublishPacket, done: (err?: Error | null) => void): void {
    if (!client) return done(null); // a stored last will published by the broker itself
    this.closeRevoked();
    if (this.revoked.has(client)) return done(new Error('credential no longer valid'));
    const deviceId = deviceIdOf(client);
    if (!deviceId) return done(new Error(userOf(client) ? `user ${userOf(client)} may only subscribe to ${ALERTS_ROOT}/#` : 'not authenticated'));

    // A QoS 2 message the broker could not keep until its PUBREL is refused before it is ingested.
    if (packet.qos === 2 && Qos2Window.of(this.aedes)?.fits(client, packet) === false) return done(new Error('incoming QoS 2 window full'));
    // Device topics have no subscriber that could be sent a retained message: keeping one (a
    // status message, a last will) only held its payload in memory a second time.
    packet.retain = false;

    const wait = this.limiter.take(deviceId);
    this.inFlight++;
    const proceed = () => {
      this.handlePublish(deviceId, packet).then(
        () => {
          this.settle();
          done(null);
        },
        (err: Error) => {
          this.settle();
          this.options.log.error({ err, device: deviceId }, 'could not make a publish durable; closing the connection so the device resends');
          done(err);
        },
      );
    };
    if (wait > 0) setTimeout(proceed, wait);
    else proceed();
  }

  /** Validates and stores a device's publish; what must reach no subscriber is routed to the sink. */
  private async handlePublish(deviceId: string, packet: PublishPacket): Promise<void> {
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    if ((await this.dispatch(deviceId, packet.topic, payload)) === 'sink') packet.topic = SINK_TOPIC;
  }

  private settle(): void {
    this.inFlight--;
    if (this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  /** Calls `handler` with the device's id each time a device's connection is established here (cluster: it is judged here). */
  onDeviceConnected(handler: (deviceId: string) => void): void {
    this.aedes.on('client', (client) => {
      const deviceId = deviceIdOf(client);
      if (deviceId) handler(deviceId);
    });
  }

  /** Publishes on behalf of the service (alerts), QoS 1 to whoever follows the topic. */
  publish(topic: string, payload: string): void {
    this.aedes.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: false, dup: false }, () => undefined);
  }

  get connectedDevices(): number {
    return this.liveByDevice.size;
  }

  /** Waits for publishes that are being made durable, so none is cut off between fsync and PUBACK. */
  async drain(timeoutMs: number): Promise<void> {
    if (this.inFlight === 0) return;
    await Promise.race([new Promise<void>((r) => this.idleWaiters.push(r)), new Promise((r) => setTimeout(r, timeoutMs))]);
  }

  async close(): Promise<void> {
    clearInterval(this.revocationTimer);
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
    await this.options.cluster?.close();
  }
}
