import { z } from 'zod';
import type { Registry } from '../core/registry.js';
import { effectiveRules, locationKinds } from '../core/config/schema.js';
import { alertSchema } from '../alerts/book.js';
import { incidentViewSchema } from '../alerts/incident.js';
import type { AlertService } from '../alerts/service.js';
import { newestFirst } from '../alerts/views.js';
import { sparklineStepMs, type FleetCache } from './fleet-cache.js';

const nullableNumber = z.number().nullable();
const range = z.object({ min: z.number(), max: z.number() });
/**
 * A sparkline: the value of each `stepMs` bucket from `from` on (epoch ms), null where none fell,
 * rounded to 0.1 °C; `decodeSparkline` (sparkline.ts) gives its points.
 */
const sparklineSchema = z.object({ from: z.number(), stepMs: z.number(), values: z.array(z.number().nullable()) });
const deviceViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  intervalMs: z.number(),
  last: z
    .object({
      ts: z.number(),
      temperature: z.number(),
      humidity: nullableNumber,
      battery: nullableNumber,
      lat: nullableNumber,
      lon: nullableNumber,
      door: z.boolean().nullable(),
      receivedAt: nullableNumber,
    })
    .nullable(),
  /** Null when the overview was asked for without sparklines (they come from `GET /api/v1/overview/sparklines`). */
  sparkline: sparklineSchema.nullable(),
  status: z.object({ firmware: z.string().nullable(), battery: nullableNumber }),
  rejects24h: z.object({ count: z.number(), lastReason: z.string().nullable(), lastMessage: z.string().nullable() }),
});
const locationViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum(locationKinds),
  profile: z.object({ id: z.string(), name: z.string(), temperature: range, humidity: range.nullable() }),
  /** °C inside each limit where the tile turns to warning (临界值). */
  warningBand: z.number(),
  devices: z.array(deviceViewSchema),
  /**
   * Sensors of this place left out of this answer, after `devices`: only in the board's sign-in
   * answer asked for with `?tiles=` (its first screen); the overview itself has every one.
   */
  more: z.number().int().positive().optional(),
});
const siteViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum(['warehouse', 'vehicle']),
  vehicleType: z.string().nullable(),
  plate: z.string().nullable(),
  locations: z.array(locationViewSchema),
});
export const overviewSchema = z.object({
  generatedAt: z.number(),
  hours: z.number(),
  sites: z.array(siteViewSchema),
  alerts: z.array(alertSchema),
  incidents: z.array(incidentViewSchema),
  alarms: z.object({ maxShelveMs: z.number() }),
});
export type Overview = z.infer<typeof overviewSchema>;

const optionalNumber = z.number().optional();
/** A sensor in the compact overview (compact-overview.ts): what is null or empty is left out. */
const compactDeviceViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  intervalMs: z.number(),
  last: z
    .object({
      ts: z.number(),
      temperature: z.number(),
      humidity: optionalNumber,
      battery: optionalNumber,
      lat: optionalNumber,
      lon: optionalNumber,
      door: z.boolean().optional(),
      receivedAt: optionalNumber,
    })
    .optional(),
  sparkline: sparklineSchema.optional(),
  status: z.object({ firmware: z.string().optional(), battery: optionalNumber }).optional(),
  rejects24h: z.object({ count: z.number(), lastReason: z.string().optional(), lastMessage: z.string().optional() }).optional(),
});
export const compactOverviewSchema = overviewSchema.extend({
  sites: z.array(siteViewSchema.extend({ locations: z.array(locationViewSchema.extend({ devices: z.array(compactDeviceViewSchema) })) })),
});
export type CompactOverview = z.infer<typeof compactOverviewSchema>;
export type CompactDeviceView = z.infer<typeof compactDeviceViewSchema>;
export type SiteView = z.infer<typeof siteViewSchema>;
export type LocationView = z.infer<typeof locationViewSchema>;
export type DeviceView = z.infer<typeof deviceViewSchema>;
export type SparklineView = z.infer<typeof sparklineSchema>;

/** Every registered sensor's sparkline of the last `hours`, by device id (one with no readings in them has an empty one). */
export const sparklinesSchema = z.object({ hours: z.number(), sparklines: z.record(z.string(), sparklineSchema) });
export type Sparklines = z.infer<typeof sparklinesSchema>;

const hours = z.coerce.number().int().min(1).max(48).default(6);
/** ?hours= of the sparklines (1-48, default 6). */
export const sparklinesQuerySchema = z.object({ hours });
/**
 * ?hours=&sparklines=&compact=: `sparklines=false` leaves every sensor's `sparkline` null (the board
 * reads them after drawing its tiles); `compact=true` leaves out what is null or empty (compact-overview.ts).
 */
export const overviewQuerySchema = z.object({
  hours,
  sparklines: z.enum(['true', 'false']).default('true'),
  compact: z.enum(['true', 'false']).default('false'),
});

/** The overview's sites, places and sensors: its bulk (2,000 sensors), the same for every client. */
export async function buildSites(registry: Registry, fleet: FleetCache, hours: number, withSparklines = true): Promise<SiteView[]> {
  // Missing measurements (a new install) answer empty, not with an error.
  const [{ last, status }, spark, rejects] = await Promise.all([fleet.devices(), withSparklines ? fleet.sparklines(hours) : undefined, fleet.rejectCounts()]);
  const profiles = new Map(registry.config.profiles.map((p) => [p.id, p]));
  const noSparkline = { from: 0, stepMs: sparklineStepMs(hours), values: [] };
  // Grouped once: a filter per place was places × devices (2,000 sensors).
  const devicesAt = new Map<string, Array<(typeof registry.config.devices)[number]>>();
  for (const d of registry.config.devices) {
    const at = devicesAt.get(d.location);
    if (at) at.push(d);
    else devicesAt.set(d.location, [d]);
  }
  return registry.config.sites.map((site) => ({
    id: site.id,
    name: site.name ?? site.id,
    kind: site.kind,
    vehicleType: site.vehicleType ?? null,
    plate: site.plate ?? null,
    locations: site.locations.map((location) => {
      const profile = profiles.get(location.profile)!;
      return {
        id: location.id,
        name: location.name ?? location.id,
        kind: location.kind,
        profile: { id: profile.id, name: profile.name ?? profile.id, temperature: profile.temperature, humidity: profile.humidity ?? null },
        warningBand: effectiveRules(profile, location).data?.warningBand ?? profile.alerts.warningBand,
        devices: (devicesAt.get(location.id) ?? []).map((d) => ({
          id: d.id,
          name: d.name ?? d.id,
          intervalMs: d.interval,
          last: last.get(d.id) ?? null,
          sparkline: spark ? (spark.get(d.id) ?? noSparkline) : null,
          status: status.get(d.id) ?? { firmware: null, battery: null },
          rejects24h: rejects.get(d.id) ?? { count: 0, lastReason: null, lastMessage: null },
        })),
      };
    }),
  }));
}

/** The open alerts and incidents, newest first: the board's alarm banner and alerts view start from them. */
export function openAlarms(alerts: AlertService): Pick<Overview, 'alerts' | 'incidents'> {
  const open = alerts.book.list().filter((a) => a.state === 'active' || a.state === 'acknowledged' || a.state === 'pending' || a.state === 'cleared');
  const incidents = alerts.incidents
    .list()
    .filter((i) => i.state !== 'closed')
    .sort(newestFirst)
    .map((i) => alerts.view(i));
  return { alerts: open.sort(newestFirst), incidents };
}

/** The board offers shelving only up to what the server will accept. */
export const alarmSettings = (registry: Registry): Overview['alarms'] => ({ maxShelveMs: registry.config.alarms.maxShelve });

/** The sparklines of the overview's sensors alone, for a board that asked for the overview without them. */
export async function buildSparklines(registry: Registry, fleet: FleetCache, hours: number): Promise<Sparklines> {
  const spark = await fleet.sparklines(hours);
  const noSparkline = { from: 0, stepMs: sparklineStepMs(hours), values: [] };
  return { hours, sparklines: Object.fromEntries(registry.config.devices.map((d) => [d.id, spark.get(d.id) ?? noSparkline])) };
}
