import { loadConfig } from '../core/config/load.js';
import { Registry } from '../core/registry.js';
import { formatTime, SYSTEM_PLACE_PREFIX, systemPlaceName } from '../alerts/text.js';

/** Names people read for the ids an API answer carries. */
export interface Names {
  site(id: string): string;
  place(siteId: string, locationId: string): string;
  device(id: string): string;
  time(ms: number): string;
}

/**
 * Names from the local config. With --url against another machine's service there may be none;
 * the report then shows ids rather than failing.
 */
export function namesFrom(configFile: string | undefined): Names {
  let registry: Registry | undefined;
  let timeZone = 'UTC';
  try {
    const { config } = loadConfig(configFile);
    registry = new Registry(config);
    timeZone = config.reports.timeZone;
  } catch {
    registry = undefined;
  }
  const site = (id: string) => registry?.config.sites.find((s) => s.id === id)?.name ?? id;
  return {
    site,
    place: (siteId, locationId) =>
      `${site(siteId)} · ${locationId.startsWith(SYSTEM_PLACE_PREFIX) ? systemPlaceName.en : (registry?.location(locationId)?.location.name ?? locationId)}`,
    device: (id) => registry?.device(id)?.device.name ?? id,
    time: (ms) => `${formatTime(ms, timeZone)}${timeZone === 'UTC' ? ' UTC' : ''}`,
  };
}
