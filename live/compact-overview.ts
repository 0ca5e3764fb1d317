import type { CompactDeviceView, CompactOverview, DeviceView, Overview, SiteView } from './overview.js';

/**
 * The overview's compact form (`?compact=true`, issue 15 item 4): a sensor's record without what
 * is null or empty — no sparkline, no status nobody reported, no rejects when there were none, no
 * null fields in its last reading. With 2,000 sensors a record was ≈ 320 B, mostly key names and
 * nulls, and the board's first tiles waited for the whole answer to be written, received and parsed.
 * No zod here: the board imports this module to read the compact form back.
 */
export function compactSites(sites: SiteView[]): CompactOverview['sites'] {
  return sites.map((site) => ({
    ...site,
    locations: site.locations.map((location) => ({ ...location, devices: location.devices.map(compactDevice) })),
  }));
}

function compactDevice({ id, name, intervalMs, last, sparkline, status, rejects24h }: DeviceView): CompactDeviceView {
  const device: CompactDeviceView = { id, name, intervalMs };
  if (last) device.last = withoutNulls(last);
  if (sparkline) device.sparkline = sparkline;
  if (status.firmware !== null || status.battery !== null) device.status = withoutNulls(status);
  if (rejects24h.count > 0) device.rejects24h = withoutNulls(rejects24h);
  return device;
}

/**
 * The overview as the rest of the board reads it: every field there, null where the compact form
 * left it out. Each sensor's record is filled in place (its last reading as a new record with every
 * field, in the order the full form has): copying the whole overview again added to what the page
 * allocated and collected before its first tiles (2,000 sensors).
 */
export function expandOverview(compact: CompactOverview): Overview {
  for (const site of compact.sites) for (const location of site.locations) for (const device of location.devices) expandDevice(device);
  return compact as Overview;
}

function expandDevice(device: CompactDeviceView): void {
  const { last, sparkline, status, rejects24h } = device;
  // The same object, filled in: from here on it is read as a full record.
  const full = device as unknown as DeviceView;
  if (last)
    full.last = {
      ts: last.ts,
      temperature: last.temperature,
      humidity: last.humidity ?? null,
      battery: last.battery ?? null,
      lat: last.lat ?? null,
      lon: last.lon ?? null,
      door: last.door ?? null,
      receivedAt: last.receivedAt ?? null,
    };
  else full.last = null;
  full.sparkline = sparkline ?? null;
  full.status = status ? { firmware: status.firmware ?? null, battery: status.battery ?? null } : NO_STATUS;
  full.rejects24h = rejects24h
    ? { count: rejects24h.count, lastReason: rejects24h.lastReason ?? null, lastMessage: rejects24h.lastMessage ?? null }
    : NO_REJECTS;
}

/** Shared by every sensor without them (the board only reads them): 2,000 records fewer to allocate. */
const NO_STATUS: DeviceView['status'] = Object.freeze({ firmware: null, battery: null });
const NO_REJECTS: DeviceView['rejects24h'] = Object.freeze({ count: 0, lastReason: null, lastMessage: null });

/** A record whose nullable fields become optional ones, left out when null. */
type WithoutNulls<T> = { [K in keyof T as null extends T[K] ? never : K]: T[K] } & { [K in keyof T as null extends T[K] ? K : never]?: Exclude<T[K], null> };
const withoutNulls = <T extends object>(record: T): WithoutNulls<T> =>
  Object.fromEntries(Object.entries(record).filter(([, value]) => value !== null)) as WithoutNulls<T>;
