import { effectiveRules, type Config, type Device, type Location, type ProductProfile, type Site } from './config/schema.js';
import type { AlertRules } from './config/alert-rules.js';
import type { AlarmPolicy } from './config/alarm-policy.js';

export interface DevicePlacement {
  device: Device;
  site: Site;
  location: Location;
  profile: ProductProfile;
  /** The profile's alert rules with the location's overrides applied. */
  rules: AlertRules;
  alarms: AlarmPolicy;
}

/** Read-only lookups over the registry part of the config; rebuilt whenever the config is reloaded. */
export class Registry {
  private readonly devices = new Map<string, DevicePlacement>();
  private readonly locations = new Map<string, { site: Site; location: Location }>();

  constructor(readonly config: Config) {
    const profiles = new Map(config.profiles.map((p) => [p.id, p]));
    const rulesByLocation = new Map<string, AlertRules>();
    for (const site of config.sites) {
      for (const location of site.locations) this.locations.set(location.id, { site, location });
    }
    for (const device of config.devices) {
      const placed = this.locations.get(device.location);
      const profile = placed && profiles.get(placed.location.profile);
      // The config schema guarantees both exist; a miss here means a programming error.
      if (!placed || !profile) throw new Error(`device ${device.id}: location ${device.location} is not in the registry`);
      // Rules belong to the location: merged once per location, shared by its devices (thousands of devices, a few dozen places).
      let rules = rulesByLocation.get(device.location);
      if (!rules) {
        const merged = effectiveRules(profile, placed.location);
        // The config schema has validated the merge; a failure here is a programming error.
        if (!merged.success) throw new Error(`location ${placed.location.id}: alert rules do not validate`);
        rules = merged.data;
        rulesByLocation.set(device.location, rules);
      }
      this.devices.set(device.id, { device, site: placed.site, location: placed.location, profile, rules, alarms: config.alarms });
    }
  }

  device(id: string): DevicePlacement | undefined {
    return this.devices.get(id);
  }

  location(id: string): { site: Site; location: Location } | undefined {
    return this.locations.get(id);
  }

  get deviceCount(): number {
    return this.devices.size;
  }
}
