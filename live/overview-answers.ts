import type { Registry } from '../core/registry.js';
import type { AlertService } from '../alerts/service.js';
import { compactSites } from './compact-overview.js';
import type { FleetCache } from './fleet-cache.js';
import { alarmSettings, buildSites, openAlarms, type CompactOverview, type SiteView } from './overview.js';

/**
 * How long one build of the overview's sensors serves every client that asks for the same form.
 * A board reads the overview once and then follows the live stream, which brings every later
 * reading; a client polling it sees readings at most this much older than a build of its own.
 */
export const OVERVIEW_SHARE_MS = 1_000;

export interface OverviewQuery {
  hours: number;
  sparklines: 'true' | 'false';
  compact: 'true' | 'false';
}

type Sites = SiteView[] | CompactOverview['sites'];

interface SitesPart {
  at: number;
  registry: Registry;
  /** The sites as built; settled once built. */
  sites: Promise<Sites>;
  /** The serialized sites (`[...]`). */
  json: Promise<string>;
  /** The sites with at most so many sensors a place (`?tiles=`), serialized, by that number. */
  firstTiles: Map<number, string>;
  settled: boolean;
}

/**
 * The overview as sent, serialized once for every client asking within `OVERVIEW_SHARE_MS`.
 * Every board client polling it used to build and serialize the whole of it on the main thread
 * that also judges alarm rules (2,000 sensors with sparklines, 0.85 MB: 3-4 ms each, up to 90 ms
 * when a collection fell in it; 20 clients every 5 s in the soak), so its cost grew with the
 * number of clients. Now concurrent and near-simultaneous requests of one form (hours, sparklines,
 * compact) share one build of the sensors, and everyone shares the open alerts and incidents, made
 * afresh after any alert or incident change (so a board never starts from an alarm state older
 * than what the stream already told it) and at least every `OVERVIEW_SHARE_MS` (incident texts
 * tell times). The two parts are spliced into one body, reused until either changes.
 */
export class OverviewAnswers {
  private readonly sites = new Map<string, SitesPart>();
  private readonly bodies = new Map<string, { sites: SitesPart; alarms: string; body: Buffer }>();
  private alarms: { at: number; version: number; json: string } | undefined;
  private version = 0;
  /** Builds of the sensors part, for tests and diagnosis. */
  builds = 0;
  private readonly bump = () => void this.version++;

  constructor(private readonly deps: { registry: () => Registry; fleet: FleetCache; alerts: AlertService; now?: () => number }) {
    deps.alerts.on('event', this.bump);
    deps.alerts.on('incident', this.bump);
  }

  close(): void {
    this.deps.alerts.off('event', this.bump);
    this.deps.alerts.off('incident', this.bump);
  }

  /**
   * The overview's JSON for `query`, as `overviewSchema` (or `compactOverviewSchema` with
   * `compact=true`) describes it; with `tilesPerPlace`, each place's first so many sensors only,
   * and how many more it has (`more`), from the same build.
   */
  async answer(query: OverviewQuery, tilesPerPlace?: number): Promise<Buffer> {
    const form = `${query.hours}/${query.sparklines}/${query.compact}`;
    const key = tilesPerPlace === undefined ? form : `${form}/${tilesPerPlace}`;
    const sites = this.sitesPart(form, query);
    const sitesJson = tilesPerPlace === undefined ? await sites.json : firstTiles(sites, await sites.sites, tilesPerPlace);
    const alarms = this.alarmsPart();
    const known = this.bodies.get(key);
    if (known && known.sites === sites && known.alarms === alarms) return known.body;
    // Key order as `overviewSchema`'s; `generatedAt` is when the sensors were read, the older part.
    const body = Buffer.from(
      `{"generatedAt":${sites.at},"hours":${query.hours},"sites":${sitesJson},${alarms},"alarms":${JSON.stringify(alarmSettings(sites.registry))}}`,
    );
    this.bodies.set(key, { sites, alarms, body });
    return body;
  }

  private sitesPart(key: string, query: OverviewQuery): SitesPart {
    const now = this.now();
    const registry = this.deps.registry();
    const known = this.sites.get(key);
    // A build under way is joined whatever its age: nothing sooner could be fresher.
    if (known && known.registry === registry && (!known.settled || now - known.at < OVERVIEW_SHARE_MS)) return known;
    // Replaced (a registry change within the second): its bodies go with it, whatever their form.
    if (known) this.forgetBodiesOf(known);
    this.forgetStale(now);
    this.builds++;
    const built = buildSites(registry, this.deps.fleet, query.hours, query.sparklines === 'true').then((sites) => {
      part.at = this.now();
      part.settled = true;
      return query.compact === 'true' ? compactSites(sites) : sites;
    });
    const part: SitesPart = { at: now, registry, settled: false, sites: built, json: built.then((sites) => JSON.stringify(sites)), firstTiles: new Map() };
    // A failed build is not kept: the next request tries again.
    part.json.catch(() => {
      if (this.sites.get(key) === part) this.sites.delete(key);
    });
    this.sites.set(key, part);
    return part;
  }

  /** `"alerts":[...],"incidents":[...]`, the same for every form. */
  private alarmsPart(): string {
    const now = this.now();
    const known = this.alarms;
    if (known && known.version === this.version && now - known.at < OVERVIEW_SHARE_MS) return known.json;
    const { alerts, incidents } = openAlarms(this.deps.alerts);
    const json = `"alerts":${JSON.stringify(alerts)},"incidents":${JSON.stringify(incidents)}`;
    this.alarms = { at: now, version: this.version, json };
    return json;
  }

  /** Forms nobody asked for lately are let go (`hours` alone has 48 values), with every body made of them. */
  private forgetStale(now: number): void {
    for (const [key, part] of this.sites)
      if (part.settled && now - part.at >= OVERVIEW_SHARE_MS) {
        this.sites.delete(key);
        this.forgetBodiesOf(part);
      }
  }

  private forgetBodiesOf(part: SitesPart): void {
    for (const [key, body] of this.bodies) if (body.sites === part) this.bodies.delete(key);
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }
}

/**
 * The sites with each place's first `n` sensors and the count of the others, serialized once per
 * build and `n`: the board's first screen (2,000 sensors in one room: 3.6 kB, not 297 kB to send,
 * decode and parse before its first tiles).
 */
function firstTiles(part: SitesPart, sites: Sites, n: number): string {
  let json = part.firstTiles.get(n);
  if (json === undefined) {
    json = JSON.stringify(
      sites.map((site) => ({
        ...site,
        locations: site.locations.map((location) =>
          location.devices.length > n ? { ...location, devices: location.devices.slice(0, n), more: location.devices.length - n } : location,
        ),
      })),
    );
    part.firstTiles.set(n, json);
  }
  return json;
}
