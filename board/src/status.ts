import type { Alert, DeviceView, LocationView } from './api.js';

export type TileState = 'ok' | 'warning' | 'alarm' | 'silent';

/** Open alarms (raised, acknowledged or not) of one device. */
export const alarmsOf = (alerts: Map<string, Alert>, deviceId: string) =>
  [...alerts.values()].filter((a) => a.deviceId === deviceId && (a.state === 'active' || a.state === 'acknowledged'));

/**
 * A sensor's colour: alarm when out of range or in alarm, warning inside the warning band (临界值),
 * silent after three missed intervals, ok otherwise.
 */
export function tileState(device: DeviceView, location: LocationView, alerts: Map<string, Alert>, now: number): TileState {
  if (alarmsOf(alerts, device.id).length) return 'alarm';
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

/** A sparkline as a small inline SVG path (dozens of tiles: no chart instance each). */
export function sparkPath(
  points: Array<[number, number]>,
  range: { min: number; max: number },
  width = 120,
  height = 28,
): { line: string; band: [number, number] } {
  if (points.length < 2) return { line: '', band: [0, 0] };
  const t0 = points[0]![0];
  const t1 = points[points.length - 1]![0];
  let lo = range.min;
  let hi = range.max;
  for (const [, v] of points) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const pad = (hi - lo) * 0.1 || 1;
  lo -= pad;
  hi += pad;
  const x = (t: number) => ((t - t0) / Math.max(1, t1 - t0)) * width;
  const y = (v: number) => height - ((v - lo) / (hi - lo)) * height;
  return { line: points.map(([t, v], i) => `${i ? 'L' : 'M'}${x(t).toFixed(1)} ${y(v).toFixed(1)}`).join(''), band: [y(range.max), y(range.min)] };
}
