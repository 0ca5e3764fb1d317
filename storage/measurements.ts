/**
 * Every InfluxDB measurement the service writes, named once. Stored data outlives the code: these
 * names (and each measurement's tags and fields) never change, or existing data stops replaying.
 */

/** Device readings (device time), tags deviceId, locationId, siteId. */
export const READINGS_MEASUREMENT = 'readings';
/** Quarantined messages with their reason, tags deviceId, reason. */
export const REJECTS_MEASUREMENT = 'rejects';
/** Status and event messages as they came, tags deviceId, locationId, siteId, channel. */
export const DEVICE_MESSAGES_MEASUREMENT = 'device_messages';
/** Alert lifecycle events, tags alertId, deviceId, event, kind, locationId, siteId. */
export const ALERT_EVENTS_MEASUREMENT = 'alert_events';
/** Incident lifecycle events, tags event, incidentId, locationId, siteId. */
export const INCIDENT_EVENTS_MEASUREMENT = 'incident_events';
/** Shipment facts (waybill, custody, disposition, links), tags shipmentId, type; field `fact` = JSON. */
export const SHIPMENT_EVENTS_MEASUREMENT = 'shipment_events';
/** Product profile range versions (reports/range-recorder.ts), tags profileId; field `fact` = JSON. */
export const PROFILE_RANGES_MEASUREMENT = 'profile_ranges';
/** Stability budget facts (QA's add-backs, stability/service.ts), tags batch, type; field `fact` = JSON. */
export const STABILITY_EVENTS_MEASUREMENT = 'stability_events';
