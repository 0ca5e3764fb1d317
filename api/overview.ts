import { z } from 'zod';
import type { Registry } from '../core/registry.js';
import { effectiveRules, locationKinds } from '../core/config/schema.js';
import { rowsOf, type InfluxClient } from '../storage/influx.js';
import { DEVICE_MESSAGES_MEASUREMENT, READINGS_MEASUREMENT, REJECTS_MEASUREMENT } from '../ingestor/records.js';
import { alertSchema } from '../alerts/book.js';
import type { AlertService } from '../alerts/service.js';
import { incidentViewSchema } from './alerts.js';
import { ANYONE } from './auth.js';
import type { ApiPlugin } from './zod.js';

const overviewQuerySchema = z.object({ hours: z.coerce.number().int().min(1).max(48).default(6) });

const nullableNumber = z.number().nullable();
const range = z.object({ min: z.number(), max: z.number() });
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
  sparkline: z.array(z.tuple([z.number(), z.number()])),
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
export type SiteView = z.infer<typeof siteViewSchema>;
export type LocationView = z.infer<typeof locationViewSchema>;
export type DeviceView = z.infer<typeof deviceViewSchema>;

/** Last reading per device: one row per series, newest first. */
async function lastReadings(influx: InfluxClient): Promise<Map<string, Record<string, unknown>>> {
  const series = await influx.query(
    `SELECT "temperature", "humidity", "battery", "lat", "lon", "door", "receivedAt" FROM "${READINGS_MEASUREMENT}" WHERE time > now() - 30d GROUP BY "deviceId" ORDER BY time DESC LIMIT 1`,
  );
  return new Map(series.map((s) => [s.tags?.deviceId ?? '', rowsOf(s)[0] ?? {}]));
}

async function sparklines(influx: InfluxClient, hours: number): Promise<Map<string, Array<[number, number]>>> {
  const bucket = Math.max(1, Math.round((hours * 60) / 72));
  const series = await influx.query(
    `SELECT mean("temperature") FROM "${READINGS_MEASUREMENT}" WHERE time > now() - ${hours}h GROUP BY time(${bucket}m), "deviceId" fill(none)`,
  );
  return new Map(
    series.map((s) => [s.tags?.deviceId ?? '', s.values.map((v) => [v[0] as number, Math.round((v[1] as number) * 100) / 100] as [number, number])]),
  );
}

async function deviceStatus(influx: InfluxClient): Promise<Map<string, { firmware: string | null; battery: number | null }>> {
  const series = await influx.query(
    `SELECT last("firmware") AS "firmware", last("battery") AS "battery" FROM "${DEVICE_MESSAGES_MEASUREMENT}" GROUP BY "deviceId"`,
  );
  return new Map(
    series.map((s) => [
      s.tags?.deviceId ?? '',
      { firmware: (s.values[0]?.[1] as string | null) ?? null, battery: (s.values[0]?.[2] as number | null) ?? null },
    ]),
  );
}

async function rejectCounts(influx: InfluxClient): Promise<Map<string, { count: number; lastReason: string | null; lastMessage: string | null }>> {
  const [counts, last] = await Promise.all([
    influx.query(`SELECT count("bytes") FROM "${REJECTS_MEASUREMENT}" WHERE time > now() - 24h GROUP BY "deviceId"`),
    influx.query(`SELECT "reason", "message" FROM "${REJECTS_MEASUREMENT}" WHERE time > now() - 24h GROUP BY "deviceId" ORDER BY time DESC LIMIT 1`),
  ]);
  const lastBy = new Map(last.map((s) => [s.tags?.deviceId ?? '', s.values[0]]));
  return new Map(
    counts.map((s) => [
      s.tags?.deviceId ?? '',
      {
        count: Number(s.values[0]?.[1] ?? 0),
        lastReason: (lastBy.get(s.tags?.deviceId ?? '')?.[1] as string) ?? null,
        lastMessage: (lastBy.get(s.tags?.deviceId ?? '')?.[2] as string) ?? null,
      },
    ]),
  );
}

/**
 * GET /api/v1/overview: everything the live board draws on arrival, in one answer — sites,
 * places with their product ranges, each sensor's last reading, a sparkline of the last hours,
 * its status (firmware, battery), rejected messages, and the open alerts. Later changes come
 * over the live stream.
 */
export const overviewRoutes: ApiPlugin<{ registry: () => Registry; influx: InfluxClient; alerts: AlertService }> = async (app, deps) => {
  app.get(
    '/api/v1/overview',
    { config: { roles: ANYONE }, schema: { querystring: overviewQuerySchema, response: { 200: overviewSchema } } },
    async (request) => {
      const { hours } = request.query;
      const registry = deps.registry();
      // Missing measurements (a new install) answer empty, not with an error.
      const [last, spark, status, rejects] = await Promise.all([
        lastReadings(deps.influx),
        sparklines(deps.influx, hours),
        deviceStatus(deps.influx),
        rejectCounts(deps.influx),
      ]);
      const profiles = new Map(registry.config.profiles.map((p) => [p.id, p]));
      const sites = registry.config.sites.map((site) => ({
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
            devices: registry.config.devices
              .filter((d) => d.location === location.id)
              .map((d) => {
                const row = last.get(d.id);
                return {
                  id: d.id,
                  name: d.name ?? d.id,
                  intervalMs: d.interval,
                  last:
                    row && row.time !== undefined
                      ? {
                          ts: row.time as number,
                          temperature: row.temperature as number,
                          humidity: (row.humidity as number | null) ?? null,
                          battery: (row.battery as number | null) ?? null,
                          lat: (row.lat as number | null) ?? null,
                          lon: (row.lon as number | null) ?? null,
                          door: (row.door as boolean | null) ?? null,
                          receivedAt: (row.receivedAt as number | null) ?? null,
                        }
                      : null,
                  sparkline: spark.get(d.id) ?? [],
                  status: status.get(d.id) ?? { firmware: null, battery: null },
                  rejects24h: rejects.get(d.id) ?? { count: 0, lastReason: null, lastMessage: null },
                };
              }),
          };
        }),
      }));
      const open = deps.alerts.book.list().filter((a) => a.state === 'active' || a.state === 'acknowledged' || a.state === 'pending' || a.state === 'cleared');
      const incidents = deps.alerts.incidents
        .list()
        .filter((i) => i.state !== 'closed')
        .sort((a, b) => b.occurredAt - a.occurredAt)
        .map((i) => deps.alerts.view(i));
      // The board offers shelving only up to what the server will accept.
      return {
        generatedAt: Date.now(),
        hours,
        sites,
        alerts: open.sort((a, b) => b.occurredAt - a.occurredAt),
        incidents,
        alarms: { maxShelveMs: registry.config.alarms.maxShelve },
      };
    },
  );
};
