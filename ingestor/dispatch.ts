import type { Registry } from '../core/registry.js';
import { DEVICE_CHANNELS, TOPIC_ROOT, downlinkRejectTopic, parseDeviceTopic } from '../core/topics.js';
import type { Rejection } from './decode.js';
import type { IngestPipeline, Placement } from './pipeline.js';

/** Takes a custody event from a device; resolves to why it was refused, or undefined once it is durable. */
export type CustodyHandler = (deviceId: string, payload: Buffer) => Promise<Rejection | undefined>;

export type Channel = 'telemetry' | 'status' | 'events' | 'custody';

/** The topic filters that take every device message (a subscriber on someone else's broker). */
export const DEVICE_FILTERS: readonly string[] = [...DEVICE_CHANNELS].map((channel) => `${TOPIC_ROOT}+/${channel}`);

export interface DispatchOptions {
  registry: () => Registry;
  pipeline: IngestPipeline;
  /** Custody events from drivers' devices (shipments); absent, they are refused as topic_not_allowed. */
  custody?: CustodyHandler;
  /**
   * Who vouches for the device id: `authenticated`, our broker checked its token (a device missing
   * from the registry was removed while connected); `topic`, an external broker's ACL let it publish
   * under its own topic (a device missing from the registry was never registered here).
   */
  identity: 'authenticated' | 'topic';
  /** Sends on a device's downlink; QoS 0, never awaited: a hint to the device, not a record. */
  downlink: (topic: string, payload: Buffer) => void;
}

/**
 * What became of a message: `forward` once its channel stored it (the broker may deliver it as
 * usual), `sink` when it must reach no subscriber (refused topics, unknown devices, custody).
 */
export type Route = 'forward' | 'sink';

/** Resolves once everything the message produced (accepted data and quarantined rejects) is fsync'ed; then acknowledge. */
export type Dispatch = (deviceId: string, topic: string, payload: Buffer) => Promise<Route>;

/** The one downlink payload: why data was refused (the first 50 reasons, and how many there were). */
export function rejectsPayload(rejections: readonly Rejection[], at = Date.now()): Buffer {
  return Buffer.from(JSON.stringify({ rejected: rejections.slice(0, 50), total: rejections.length, at: new Date(at).toISOString() }));
}

/**
 * The topic dispatch of a device publish, shared by the embedded broker (inside
 * `authorizePublish`, so PUBACK follows the fsync) and the standalone ingestor (mqtt.js PUBACKs
 * when its handler calls back): check the topic, find the device, hand the payload to its
 * channel's handler, quarantine and explain on the downlink what was refused. A storage failure
 * rejects the promise: the caller must not acknowledge, so the device resends.
 */
export function createDispatch(options: DispatchOptions): Dispatch {
  const { pipeline } = options;
  const channels = [...DEVICE_CHANNELS].join(',');

  const notify = (deviceId: string, rejections: readonly Rejection[]) => {
    if (deviceId && rejections.length > 0) options.downlink(downlinkRejectTopic(deviceId), rejectsPayload(rejections));
  };
  const refuse = async (deviceId: string, topic: string, payload: Buffer, rejection: Rejection): Promise<Route> => {
    await pipeline.quarantine(deviceId, topic, payload, rejection);
    notify(deviceId, [rejection]);
    return 'sink';
  };
  const unknownDevice = (deviceId: string): Rejection =>
    options.identity === 'authenticated'
      ? { reason: 'unknown_device', message: `device ${deviceId} is no longer registered` }
      : {
          reason: 'unknown_device',
          message: `device "${deviceId}" is not in the registry (register it with: coldchain device add ${deviceId} --location LOC)`,
        };

  /** One handler per channel: each resolves to what it refused (already quarantined) once durable. */
  const handlers: Record<Channel, (placement: Placement, topic: string, payload: Buffer) => Promise<Rejection[]>> = {
    telemetry: async (placement, topic, payload) => (await pipeline.ingestTelemetry(placement, topic, payload)).rejections,
    status: async (placement, topic, payload) =>
      [await pipeline.ingestDeviceMessage(placement, 'status', topic, payload)].filter((r): r is Rejection => r !== undefined),
    events: async (placement, topic, payload) =>
      [await pipeline.ingestDeviceMessage(placement, 'events', topic, payload)].filter((r): r is Rejection => r !== undefined),
    custody: async (placement, topic, payload) => {
      const rejection = options.custody
        ? await options.custody(placement.deviceId, payload)
        : { reason: 'topic_not_allowed' as const, message: 'this service does not take custody events' };
      if (!rejection) return [];
      await pipeline.quarantine(placement.deviceId, topic, payload, rejection);
      return [rejection];
    },
  };

  return async (deviceId, topic, payload) => {
    const parsed = parseDeviceTopic(topic);
    if (!parsed || parsed.deviceId !== deviceId || !DEVICE_CHANNELS.has(parsed.channel)) {
      const message =
        parsed && parsed.deviceId !== deviceId
          ? `device ${deviceId} may not publish under another device's topic ${topic}`
          : `topic ${topic} is not one of cc/v1/${deviceId || '<deviceId>'}/{${channels}}`;
      return refuse(deviceId, topic, payload, { reason: 'topic_not_allowed', message });
    }
    const found = options.registry().device(deviceId);
    if (!found) return refuse(deviceId, topic, payload, unknownDevice(deviceId));
    const channel = parsed.channel as Channel;
    notify(deviceId, await handlers[channel]({ deviceId, siteId: found.site.id, locationId: found.location.id }, topic, payload));
    return channel === 'custody' ? 'sink' : 'forward';
  };
}
