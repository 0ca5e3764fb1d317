/** The MQTT contract (DESIGN.md §4): what a device may publish and subscribe to. */
export const TOPIC_ROOT = 'cc/v1/';
/** custody: a driver's scan or button (loaded, unloaded, delivered) for a shipment. */
export const DEVICE_CHANNELS = new Set(['telemetry', 'status', 'events', 'custody']);

/** A device may subscribe to its own downlink and anything below it, never to wildcards above. */
export function maySubscribe(deviceId: string, filter: string): boolean {
  const own = `${TOPIC_ROOT}${deviceId}/downlink`;
  return filter === own || filter.startsWith(`${own}/`);
}
