import type { Registry } from '../core/registry.js';
import type { Rejection } from '../ingestor/decode.js';
import { deviceCustodySchema } from './schema.js';
import { ShipmentError, type ShipmentService } from './service.js';

/**
 * A driver's device reports custody on cc/v1/<device>/custody, e.g.
 * {"shipmentId":"SH-1","event":"loaded"} after scanning a waybill: the place defaults to the
 * device's own location (its compartment) and the time to now. Refusals come back as a
 * quarantine reason, as for telemetry; a storage failure is thrown so the device resends.
 */
export function deviceCustodyHandler(shipments: ShipmentService, registry: () => Registry) {
  return async (deviceId: string, payload: Buffer): Promise<Rejection | undefined> => {
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch (err) {
      return { reason: 'malformed_json', message: `custody payload is not JSON: ${(err as Error).message}` };
    }
    const parsed = deviceCustodySchema.safeParse(json);
    if (!parsed.success) return { reason: 'invalid_custody_event', message: parsed.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; ') };
    const { shipmentId, at, ...rest } = parsed.data;
    const locationId = rest.locationId ?? (rest.event === 'delivered' ? undefined : registry().device(deviceId)?.location.id);
    try {
      await shipments.addCustody(shipmentId, { ...rest, ...(locationId ? { locationId } : {}), at: at ?? Date.now(), by: rest.by ?? deviceId }, { by: deviceId, source: 'mqtt' });
      return undefined;
    } catch (err) {
      if (err instanceof ShipmentError) return { reason: 'invalid_custody_event', message: err.message };
      throw err;
    }
  };
}
