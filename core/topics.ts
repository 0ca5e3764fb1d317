/** The MQTT contract (DESIGN.md §4): every topic the service and its devices use, spelled once. */
export const TOPIC_ROOT = 'cc/v1/';

/**
 * What a device may publish under cc/v1/<id>/: telemetry (readings), status and events (kept as
 * they came), custody (a driver's scan or button for a shipment).
 */
export const DEVICE_CHANNELS = new Set(['telemetry', 'status', 'events', 'custody']);

/** Alerts go out to people (registry users) under this root, one topic per site and location. */
export const ALERTS_ROOT = `${TOPIC_ROOT}alerts`;
export const alertTopic = (alert: { siteId: string; locationId: string }) => `${ALERTS_ROOT}/${alert.siteId}/${alert.locationId}`;

export const TELEMETRY_FILTER = `${TOPIC_ROOT}+/telemetry`;
export const downlinkRejectTopic = (deviceId: string) => `${TOPIC_ROOT}${deviceId}/downlink/rejects`;

/** Parses cc/v1/<deviceId>/<channel>[/...]; undefined when the topic is outside the contract. */
export function parseDeviceTopic(topic: string): { deviceId: string; channel: string } | undefined {
  if (!topic.startsWith(TOPIC_ROOT)) return undefined;
  const slash = topic.indexOf('/', TOPIC_ROOT.length);
  if (slash === -1) return undefined;
  return { deviceId: topic.slice(TOPIC_ROOT.length, slash), channel: topic.slice(slash + 1) };
}

/** A device may subscribe to its own downlink and anything below it, never to wildcards above. */
export function maySubscribe(deviceId: string, filter: string): boolean {
  const own = `${TOPIC_ROOT}${deviceId}/downlink`;
  return filter === own || filter.startsWith(`${own}/`);
}
