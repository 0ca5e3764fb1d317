import { z } from 'zod';
import { isTimeZone } from '../core/config/schema.js';
import type { Registry } from '../core/registry.js';
import type { AlertService } from '../alerts/service.js';
import type { ShipmentService } from '../shipments/service.js';
import { effectiveCustody } from '../shipments/book.js';
import type { ReportPool } from '../reports/pool.js';
import { ANYONE } from './auth.js';
import { idParams } from './readings.js';
import { sendReport } from './reports.js';
import type { ApiPlugin } from './zod.js';

export interface EpcisRouteDeps {
  registry: () => Registry;
  alerts: AlertService;
  shipments: ShipmentService;
  /** Base URL of this service: the authority of the documents' identifiers (epcis/identifiers.ts). */
  publicUrl: () => string;
  reports: ReportPool;
}

const epcisQuery = (registry: () => Registry) =>
  z.object({ tz: z.string().refine(isTimeZone, 'must be an IANA time zone such as Asia/Shanghai or UTC').optional() }).transform((q) => ({
    // eventTimeZoneOffset is each event's offset in this zone (default: reports.timeZone).
    timeZone: q.tz ?? registry().config.reports.timeZone,
  }));

/**
 * GET /api/v1/shipments/:id/epcis: the shipment as a GS1 EPCIS 2.0 JSON-LD document for trading
 * partners (epcis/). Whoever may read the shipment report may read this: it is the same data.
 * Built in the report workers, from the same report, with the same limits and refusals.
 */
export const epcisRoutes: ApiPlugin<EpcisRouteDeps> = async (app, deps) => {
  app.get(
    '/api/v1/shipments/:id/epcis',
    { config: { roles: ANYONE }, schema: { params: idParams, querystring: epcisQuery(deps.registry) } },
    async (request, reply) => {
      const record = deps.shipments.get(request.params.id);
      // The alerts at places it has been, as the shipment report is given them.
      const places = new Set(effectiveCustody(record).map((c) => c.locationId));
      const alerts = deps.alerts.book.list().filter((a) => places.has(a.locationId));
      return sendReport(
        reply,
        deps.reports,
        { kind: 'shipment', record, alerts, verification: null, epcis: { publicUrl: deps.publicUrl() } },
        { format: 'json', lang: deps.registry().config.reports.lang, timeZone: request.query.timeZone },
        `epcis-${record.shipment.id}`,
      );
    },
  );
};
