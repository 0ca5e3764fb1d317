import type { Config } from './schema.js';
import { calibrationFindings } from '../../calibration/check.js';

/** One way a configuration falls short of a profile, at the key that says so. */
export interface Finding {
  /** `error`: the profile is not met; `warning`: worth a look before going live. */
  level: 'error' | 'warning';
  path: Array<string | number>;
  rule: string;
  message: string;
}

const FIVE_YEARS = 1825 * 86_400_000;

/** GSP annex: at least 2 sensors per store, one more per 100 m² (cold stores) or 300 m² (others); vehicles 2, plus one per further 20 m³. */
export function sensorsRequired(location: Config['sites'][number]['locations'][number]): number | undefined {
  if (location.kind === 'vehicle_compartment') return location.volumeM3 === undefined ? undefined : 2 + Math.max(0, Math.ceil((location.volumeM3 - 20) / 20));
  if (location.areaM2 === undefined) return undefined;
  const per = location.kind === 'ambient_zone' ? 300 : 100;
  return Math.max(2, Math.ceil(location.areaM2 / per));
}

/**
 * A configuration against the China GSP annex on automatic temperature/humidity monitoring (the
 * default profile): sensor counts per store area and vehicle volume, refresh intervals, SMS to
 * three people, retention, backup, storage authentication. Errors fail `coldchain check`.
 */
export function checkGsp(config: Config): Finding[] {
  const findings: Finding[] = [];
  const add = (level: Finding['level'], path: Finding['path'], rule: string, message: string) => findings.push({ level, path, rule, message });
  config.sites.forEach((site, s) => {
    site.locations.forEach((location, l) => {
      const devices = config.devices.filter((d) => d.location === location.id);
      const required = sensorsRequired(location);
      const name = location.name ?? location.id;
      if (!devices.length) add('warning', ['sites', s, 'locations', l], 'sensors', `${name} has no sensor yet: it is not monitored`);
      else if (required === undefined)
        add(
          'warning',
          ['sites', s, 'locations', l],
          'sensors',
          `${name}: give ${location.kind === 'vehicle_compartment' ? 'volumeM3' : 'areaM2'} so the number of sensors can be checked`,
        );
      else if (devices.length < required) {
        const basis = location.kind === 'vehicle_compartment' ? `${location.volumeM3} m³` : `${location.areaM2} m²`;
        add(
          'error',
          ['sites', s, 'locations', l],
          'sensors',
          `${name} (${basis}) has ${devices.length} sensor${devices.length === 1 ? '' : 's'}; GSP asks for at least ${required}`,
        );
      }
    });
    const sms = new Set(site.recipients.filter((r) => r.tier === 1 && r.phone).map((r) => r.phone));
    if (sms.size < 3)
      add(
        config.compliance === 'gsp' ? 'error' : 'warning',
        ['sites', s, 'recipients'],
        'sms',
        `${site.name ?? site.id}: alarms reach ${sms.size} people by SMS at tier 1; GSP asks for at least 3`,
      );
  });
  config.devices.forEach((device, d) => {
    if (device.interval > 60_000)
      add(
        'warning',
        ['devices', d, 'interval'],
        'refresh',
        `${device.name ?? device.id} reports every ${device.interval / 1000} s; GSP asks for values refreshed at least every minute`,
      );
  });
  findings.push(...calibrationFindings(config));
  if (!config.notifications.sms)
    add(config.compliance === 'gsp' ? 'error' : 'warning', ['notifications'], 'sms', 'no SMS provider (notifications.sms): GSP alarms go by SMS');
  if (config.influx.retention < FIVE_YEARS) add('error', ['influx', 'retention'], 'retention', 'records are kept less than 5 years');
  if (!config.backup.enabled) add('error', ['backup', 'enabled'], 'backup', 'no daily backup');
  if (config.influx.url && !config.influx.token && !config.influx.username)
    add('error', ['influx', 'url'], 'storage', 'the external InfluxDB is used without credentials: anyone who reaches it can alter records');
  return findings;
}
