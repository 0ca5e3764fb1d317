import type { DeviceView, LocationView, Overview, SiteView } from './api.js';

export interface Names {
  device: (id: string) => string;
  location: (id: string) => string;
  site: (id: string) => string;
  /** "Site · Place", as people say where something is. */
  place: (siteId: string, locationId: string) => string;
  locationOf: (id: string) => { site: SiteView; location: LocationView } | undefined;
  deviceOf: (id: string) => DeviceView | undefined;
}

const cache = new WeakMap<Overview, Names>();

/** Names for the ids the API speaks in (sites, places, sensors), from the overview; an unknown id is shown as it is. */
export function namesOf(overview: Overview | null): Names {
  if (overview && cache.has(overview)) return cache.get(overview)!;
  const sites = new Map<string, SiteView>();
  const locations = new Map<string, { site: SiteView; location: LocationView }>();
  const devices = new Map<string, DeviceView>();
  for (const site of overview?.sites ?? []) {
    sites.set(site.id, site);
    for (const location of site.locations) {
      locations.set(location.id, { site, location });
      for (const device of location.devices) devices.set(device.id, device);
    }
  }
  // A name several sensors share (the demo calls every one "simulated") says which one only with its id.
  const count = new Map<string, number>();
  for (const d of devices.values()) count.set(d.name, (count.get(d.name) ?? 0) + 1);
  const names: Names = {
    device: (id) => {
      const name = devices.get(id)?.name;
      if (!name || name === id) return id;
      return (count.get(name) ?? 0) > 1 ? `${name} (${id})` : name;
    },
    location: (id) => locations.get(id)?.location.name ?? id,
    site: (id) => sites.get(id)?.name ?? id,
    place: (siteId, locationId) => {
      const at = locations.get(locationId);
      return `${at?.site.name ?? sites.get(siteId)?.name ?? siteId} · ${at?.location.name ?? locationId}`;
    },
    locationOf: (id) => locations.get(id),
    deviceOf: (id) => devices.get(id),
  };
  if (overview) cache.set(overview, names);
  return names;
}
