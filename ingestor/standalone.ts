import mqtt, { type MqttClient, type IPublishPacket } from 'mqtt';
import type { Logger } from '../core/logger.js';
import type { Registry } from '../core/registry.js';
import type { IngestPipeline } from './pipeline.js';
import { parseDeviceTopic } from '../core/topics.js';
import { DEVICE_FILTERS, createDispatch, type CustodyHandler } from './dispatch.js';

export interface StandaloneOptions {
  brokerUrl: string;
  clientId: string;
  username?: string;
  password?: string;
  registry: () => Registry;
  pipeline: IngestPipeline;
  /** Custody events from drivers' devices (shipments); absent, they are refused as topic_not_allowed. */
  custody?: CustodyHandler;
  log: Logger;
}

/**
 * Ingests from someone else's broker (Mosquitto, EMQX): telemetry, status, events and custody,
 * through the same dispatch as our own broker. A persistent session (clean=false, QoS 1) keeps
 * messages queued at the broker while we are away, and mqtt.js sends PUBACK only when
 * `handleMessage` calls back, which we do after the spool fsync. mqtt.js handles one message at a
 * time per connection, so throughput is bounded by fsync latency. The device id is the one in the
 * topic: that broker's ACL must let each device publish only under its own cc/v1/<id>/.
 */
export async function startStandaloneIngestor(options: StandaloneOptions): Promise<{ client: MqttClient; stop(): Promise<void> }> {
  const { log, pipeline } = options;
  const client = mqtt.connect(options.brokerUrl, {
    clientId: options.clientId,
    clean: false,
    username: options.username,
    password: options.password,
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
  });

  const dispatch = createDispatch({
    registry: options.registry,
    pipeline,
    ...(options.custody ? { custody: options.custody } : {}),
    identity: 'topic',
    downlink: (topic, payload) => {
      if (client.connected) client.publish(topic, payload, { qos: 0 });
    },
  });

  client.handleMessage = (packet: IPublishPacket, callback: (error?: Error) => void) => {
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const topic = packet.topic;
    const work = dispatch(parseDeviceTopic(topic)?.deviceId ?? '', topic, payload);
    work.then(
      () => callback(),
      (err: Error) => {
        // Not acknowledging makes the broker redeliver after we reconnect; that is the point.
        // Only the connection is dropped: mqtt.js reconnects to the same persistent session.
        log.error({ err, topic }, 'could not make a message durable; dropping the connection without PUBACK');
        client.stream.destroy();
        callback(err);
      },
    );
  };

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(new Error(`cannot connect to ${options.brokerUrl}: ${err.message}`));
    client.once('error', onError);
    client.once('connect', (connack) => {
      client.off('error', onError);
      log.info({ broker: options.brokerUrl, clientId: options.clientId, sessionPresent: connack.sessionPresent }, 'standalone ingestor connected');
      client.subscribe([...DEVICE_FILTERS], { qos: 1 }, (err, granted) => {
        if (err) return reject(err);
        // Readings are the point; a broker whose ACL keeps status, events or custody from us is worth a warning, not a refusal.
        const refused = (granted ?? []).filter((g) => g.qos === 128).map((g) => g.topic);
        if (refused.some((t) => t.endsWith('/telemetry')))
          return reject(new Error(`broker refused subscription to ${refused.join(', ')} (check its ACL for ${options.username ?? 'anonymous'})`));
        if (refused.length)
          log.warn({ refused }, `broker refused some subscriptions; those messages are not ingested (check its ACL for ${options.username ?? 'anonymous'})`);
        resolve();
      });
    });
  });
  client.on('error', (err) => log.warn({ err: err.message }, 'standalone ingestor mqtt error'));
  client.on('reconnect', () => log.info('standalone ingestor reconnecting'));

  return {
    client,
    async stop() {
      await client.endAsync();
    },
  };
}
