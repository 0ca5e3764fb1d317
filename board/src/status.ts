import type { Alert, DeviceView, LocationView } from './api.js';
import type { SparkSeries } from '../../live/sparkline.js';

export type { SparkSeries };

export type TileState = 'ok' | 'warning' | 'alarm' | 'silent';

/** Open alarms (raised, acknowledged or not) of one device. */
export const alarmsOf = (alerts: Map<string, Alert>, deviceId: string) =>
  [...alerts.values()].filter((a) => a.deviceId === deviceId && (a.state === 'active' || a.state === 'acknowledged'));

/** Devices with an open alarm, once per alerts map (the store replaces the map on every change): 2,000 tiles, each asking. */
const alarmed = new WeakMap<Map<string, Alert>, Set<string>>();
function inAlarm(alerts: Map<string, Alert>, deviceId: string): boolean {
  let ids = alarmed.get(alerts);
  if (!ids) {
    ids = new Set();
    for (const a of alerts.values()) if (a.state === 'active' || a.state === 'acknowledged') ids.add(a.deviceId);
    alarmed.set(alerts, ids);
  }
  return ids.has(deviceId);
}

/**
 * A sensor's colour: alarm when out of range or in alarm, warning inside the warning band (临界值),
 * silent after three missed intervals, ok otherwise.
 */
export function tileState(device: DeviceView, location: LocationView, alerts: Map<string, Alert>, now: number): TileState {
  if (inAlarm(alerts, device.id)) return 'alarm';
  if (!device.last || now - (device.last.receivedAt ?? device.last.ts) > 3 * device.intervalMs) return 'silent';
  const t = device.last.temperature;
  const { min, max } = location.profile.temperature;
  if (t > max || t < min) return 'alarm';
  if (t > max - location.warningBand || t < min + location.warningBand) return 'warning';
  return 'ok';
}

/** The worst state of several sensors, for a place or a vehicle. */
export function worst(states: TileState[]): TileState {
  for (const s of ['alarm', 'warning', 'silent', 'ok'] as const) if (states.includes(s)) return s;
  return 'ok';
}

/**
 * A sparkline as a small inline SVG path (dozens of tiles: no chart instance each), in whole units
 * of a `width` × `height` view box: integers are quicker to write than decimals, and 1200 × 280
 * keeps a tenth of a pixel of the 120 × 28 the tile shows it at.
 */
export function sparkPath(series: SparkSeries, range: { min: number; max: number }, width = 1200, height = 280): { line: string; band: [number, number] } {
  const { ts, values } = series;
  const n = ts.length;
  if (n < 2) return { line: '', band: [0, 0] };
  const t0 = ts[0]!;
  const span = Math.max(1, ts[n - 1]! - t0);
  let lo = range.min;
  let hi = range.max;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const pad = (hi - lo) * 0.1 || 1;
  lo -= pad;
  hi += pad;
  const y = (v: number) => Math.round(height - ((v - lo) / (hi - lo)) * height);
  let line = '';
  for (let i = 0; i < n; i++) line += `${i ? 'L' : 'M'}${Math.round(((ts[i]! - t0) / span) * width)} ${y(values[i]!)}`;
  return { line, band: [y(range.max), y(range.min)] };
}
