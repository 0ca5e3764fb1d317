import mqtt, { type MqttClient, type IPublishPacket } from 'mqtt';
import type { Logger } from '../core/logger.js';
import type { Registry } from '../core/registry.js';
import type { IngestPipeline } from './pipeline.js';
import { TELEMETRY_FILTER, downlinkRejectTopic, parseDeviceTopic } from '../core/topics.js';
import type { Rejection } from './decode.js';

export interface StandaloneOptions {
  brokerUrl: string;
  clientId: string;
  username?: string;
  password?: string;
  registry: () => Registry;
  pipeline: IngestPipeline;
  log: Logger;
}


/**
 * Ingests from someone else's broker (Mosquitto, EMQX). A persistent session (clean=false,
 * QoS 1) keeps messages queued at the broker while we are away, and mqtt.js sends PUBACK only
 * when `handleMessage` calls back, which we do after the spool fsync. mqtt.js handles one
 * message at a time per connection, so throughput is bounded by fsync latency.
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

  const notify = (deviceId: string, rejections: Rejection[]) => {
    if (!client.connected) return;
    client.publish(downlinkRejectTopic(deviceId), JSON.stringify({ rejected: rejections.slice(0, 50), total: rejections.length, at: new Date().toISOString() }), { qos: 0 });
  };

  client.handleMessage = (packet: IPublishPacket, callback: (error?: Error) => void) => {
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const topic = packet.topic;
    const parsed = parseDeviceTopic(topic);
    const placement = parsed ? options.registry().device(parsed.deviceId) : undefined;
    let work: Promise<unknown>;
    if (!parsed || parsed.channel !== 'telemetry') {
      work = pipeline.quarantine(parsed?.deviceId ?? '', topic, payload, { reason: 'topic_not_allowed', message: `topic ${topic} is not cc/v1/<deviceId>/telemetry` });
    } else if (!placement) {
      const rejection: Rejection = { reason: 'unknown_device', message: `device "${parsed.deviceId}" is not in the registry (register it with: coldchain device add ${parsed.deviceId} --location LOC)` };
      work = pipeline.quarantine(parsed.deviceId, topic, payload, rejection).then(() => notify(parsed.deviceId, [rejection]));
    } else {
      work = pipeline
        .ingestTelemetry({ deviceId: parsed.deviceId, siteId: placement.site.id, locationId: placement.location.id }, topic, payload)
        .then((outcome) => outcome.rejections.length && notify(parsed.deviceId, outcome.rejections));
    }
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
      client.subscribe(TELEMETRY_FILTER, { qos: 1 }, (err, granted) => {
        if (err) return reject(err);
        if (granted?.some((g) => g.qos === 128)) return reject(new Error(`broker refused subscription to ${TELEMETRY_FILTER} (check its ACL for ${options.username ?? 'anonymous'})`));
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
