import type { Registry } from '../core/registry.js';
import type { Rejection } from '../ingestor/decode.js';
import { effectiveCustody } from './book.js';
import { deviceCustodySchema } from './schema.js';
import { ShipmentError, type ShipmentService } from './service.js';

/** A scan is a few hundred bytes; anything much larger is not one (and is not parsed). */
const MAX_CUSTODY_BYTES = 4096;

/**
 * A driver's device reports custody on cc/v1/<device>/custody, e.g.
 * {"shipmentId":"SH-1","event":"loaded"} after scanning a waybill: the place defaults to the
 * device's own location (its compartment) and the time to now. Refusals come back as a
 * quarantine reason, as for telemetry; a storage failure is thrown so the device resends.
 *
 * A device proves only that it holds its own token, so what it may claim is narrow: it must sit
 * in a vehicle compartment (a cold-room sensor has no custody to report), it may load goods only
 * into its own vehicle and unload only goods that are in its own vehicle now, at a time inside
 * the ingest window (ingest.maxPastAge, ingest.maxFutureSkew), and it may not correct earlier
 * events or name who handled the goods: corrections and names are people's, through the API.
 */
export function deviceCustodyHandler(shipments: ShipmentService, registry: () => Registry) {
  return async (deviceId: string, payload: Buffer): Promise<Rejection | undefined> => {
    const notAllowed = (message: string): Rejection => ({ reason: 'custody_not_allowed', message });
    if (payload.length > MAX_CUSTODY_BYTES)
      return { reason: 'payload_too_large', message: `custody payload is ${payload.length} bytes; the limit is ${MAX_CUSTODY_BYTES}` };
    const current = registry();
    const placement = current.device(deviceId);
    if (!placement) return { reason: 'unknown_device', message: `device ${deviceId} is no longer registered` };
    if (placement.location.kind !== 'vehicle_compartment') {
      return notAllowed(
        `custody events come only from devices in a vehicle compartment; ${deviceId} is in ${placement.location.id} (${placement.location.kind})`,
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch (err) {
      return { reason: 'malformed_json', message: `custody payload is not JSON: ${(err as Error).message}` };
    }
    if (json !== null && typeof json === 'object' && !Array.isArray(json)) {
      if ('corrects' in json) return notAllowed('a device may not send "corrects": corrections are made by people, through the API or the CLI');
      if ('by' in json) return notAllowed(`a device may not send "by": its events are recorded as by ${deviceId}`);
    }
    const parsed = deviceCustodySchema.safeParse(json);
    if (!parsed.success)
      return { reason: 'invalid_custody_event', message: parsed.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; ') };
    const { shipmentId, at: claimed, ...rest } = parsed.data;

    const now = Date.now();
    const at = claimed ?? now;
    const { maxPastAge, maxFutureSkew } = current.config.ingest;
    if (at > now + maxFutureSkew)
      return notAllowed(
        `at: ${new Date(at).toISOString()} is ${Math.round((at - now) / 1000)} s ahead of server time (allowed skew ${maxFutureSkew / 1000} s)`,
      );
    if (at < now - maxPastAge)
      return notAllowed(
        `at: ${new Date(at).toISOString()} is older than the accepted backlog of ${Math.round(maxPastAge / 86_400_000)} days (ingest.maxPastAge)`,
      );

    const ownVehicle = placement.site;
    const ownPlaces = new Set(ownVehicle.locations.map((l) => l.id));
    const locationId = rest.locationId ?? (rest.event === 'loaded' ? placement.location.id : undefined);
    if (rest.event === 'loaded') {
      if (!ownPlaces.has(locationId!))
        return notAllowed(
          `a device may load goods only into its own vehicle ${ownVehicle.id} (${[...ownPlaces].join(', ')}); ${locationId} is not one of its compartments`,
        );
    } else {
      // unloaded, stored, delivered: the goods leave this vehicle, so they must be in it now.
      let record: ReturnType<typeof shipments.get>;
      try {
        record = shipments.get(shipmentId);
      } catch (err) {
        if (err instanceof ShipmentError) return { reason: 'invalid_custody_event', message: err.message };
        throw err;
      }
      const before = effectiveCustody(record)
        .filter((c) => c.at <= at)
        .at(-1);
      if (!before?.locationId || !ownPlaces.has(before.locationId)) {
        return notAllowed(
          `a device may report "${rest.event}" only for goods in its own vehicle ${ownVehicle.id}; at ${new Date(at).toISOString()} shipment ${shipmentId} is ${before?.locationId ? `in ${before.locationId}` : 'not in any vehicle'}`,
        );
      }
      if (rest.event !== 'delivered' && !locationId)
        return { reason: 'invalid_custody_event', message: `locationId: required for a "${rest.event}" event (where are the goods now?)` };
    }
    try {
      await shipments.addCustody(shipmentId, { ...rest, ...(locationId ? { locationId } : {}), at, by: deviceId }, { by: deviceId, source: 'mqtt' });
      return undefined;
    } catch (err) {
      if (err instanceof ShipmentError) return { reason: 'invalid_custody_event', message: err.message };
      throw err;
    }
  };
}
