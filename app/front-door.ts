import type { Config } from '../core/config/schema.js';
import type { Logger } from '../core/logger.js';
import type { IngestPipeline } from '../ingestor/pipeline.js';
import { startStandaloneIngestor } from '../ingestor/standalone.js';
import { DeviceBroker } from '../broker/broker.js';
import { startListeners, type Listeners } from '../broker/listeners.js';
import type { ComponentHealth } from '../api/server.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { ShipmentService } from '../shipments/service.js';
import { deviceCustodyHandler } from '../shipments/device-custody.js';
import type { ClusterEngines } from '../cluster/engines.js';
import type { RegistryHolder } from './registry-holder.js';
import type { Parts } from './parts.js';

/** Where device messages come in: our own broker, or a subscription to someone else's. */
export interface FrontDoor {
  /** Publishes alert messages to MQTT followers (our broker only). */
  publish?: (topic: string, payload: string) => void;
  /** Lets devices' messages in; called once the rules engine follows the pipeline, so none escapes it. */
  open(): Promise<{ mqttPort?: number; mqttsPort?: number; wsPort?: number }>;
  connectedDevices(): number;
  health(): Record<string, ComponentHealth>;
  /** Cluster node: aedes' Redis engines and the bus between nodes. */
  cluster?: ClusterEngines;
  /** Our broker: a device's connection established on this node. */
  onDeviceConnected?(handler: (deviceId: string) => void): void;
}

/** What a front door is built from. */
export interface FrontDoorDeps {
  config: Config;
  registry: RegistryHolder;
  pipeline: IngestPipeline;
  shipments: ShipmentService;
  audit: AuditLog;
  log: Logger;
  parts: Parts;
}

/** Our own MQTT broker: devices connect to it, and alert messages go out on it. */
export async function ownBroker(
  { config, registry, pipeline, shipments, audit, log, parts }: FrontDoorDeps,
  cluster?: () => Promise<ClusterEngines>,
): Promise<FrontDoor> {
  const engines = await cluster?.();
  const broker = await DeviceBroker.create({
    registry: registry.get,
    pipeline,
    log: log.child({ component: 'broker' }),
    ratePerDevice: config.mqtt.ratePerDevice,
    rateBurst: config.mqtt.rateBurst,
    custody: deviceCustodyHandler(shipments, registry.get),
    audit,
    ...(engines ? { cluster: engines } : {}),
  });
  let closed: Promise<void> | undefined;
  const close = () => (closed ??= broker.close());
  parts.add('mqtt broker', broker, close);
  let listeners: Listeners | undefined;
  return {
    publish: (topic, payload) => broker.publish(topic, payload),
    async open() {
      const open = await startListeners(broker.instance, config.mqtt, log.child({ component: 'mqtt' }));
      listeners = parts.add('mqtt listeners', open, async (open) => {
        // Stop accepting; let publishes being made durable get their PUBACK; then disconnect everyone.
        const listenersClosed = open.close();
        await broker.drain(5000);
        await close();
        await listenersClosed;
      });
      return { mqttPort: open.mqttPort, mqttsPort: open.mqttsPort, wsPort: open.wsPort };
    },
    connectedDevices: () => broker.connectedDevices,
    ...(engines ? { cluster: engines } : {}),
    onDeviceConnected: (handler) => broker.onDeviceConnected(handler),
    health: () => ({
      broker: { ready: true, connectedDevices: broker.connectedDevices, mqttPort: listeners?.mqttPort },
      // Redis away is reported, not a reason to take the node out of the balancer: it still acknowledges and stores readings.
      ...(engines
        ? {
            cluster: {
              ready: true,
              nodeId: engines.nodeId,
              redis: engines.redis.state,
              ...(engines.redis.since !== null ? { unreachableSince: new Date(engines.redis.since).toISOString() } : {}),
            },
          }
        : {}),
    }),
  };
}

/** A persistent QoS 1 subscription to an external broker; it takes no devices itself. */
export async function upstreamBroker(
  upstream: { brokerUrl: string; clientId: string; username?: string; password?: string },
  { registry, pipeline, shipments, log, parts }: FrontDoorDeps,
): Promise<FrontDoor> {
  let consumer: Awaited<ReturnType<typeof startStandaloneIngestor>> | undefined;
  return {
    async open() {
      const { brokerUrl, clientId, username, password } = upstream;
      const started = await startStandaloneIngestor({
        brokerUrl,
        clientId,
        username,
        password,
        registry: registry.get,
        pipeline,
        custody: deviceCustodyHandler(shipments, registry.get),
        log: log.child({ component: 'ingest' }),
      });
      consumer = parts.add('upstream subscription', started, (consumer) => consumer.stop());
      return {};
    },
    connectedDevices: () => 0,
    health: () => ({ upstream: { ready: consumer?.client.connected ?? false, broker: upstream.brokerUrl } }),
  };
}
