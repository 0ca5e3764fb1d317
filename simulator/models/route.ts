import type { VehicleSpec } from '../scenario.js';

const EARTH_RADIUS_KM = 6371;

export function haversineKm(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.sqrt(h));
}

export interface RoutePosition {
  lat: number;
  lon: number;
  /** At a stop with the cargo door open (loading or unloading). */
  doorOpen: boolean;
  moving: boolean;
}

/**
 * A vehicle's timeline: at each waypoint it stops (door open for the first part of the stop),
 * then drives to the next at constant speed. After the last waypoint it stays parked there.
 */
export class Route {
  private readonly legs: Array<{
    from: VehicleSpec['route'][number];
    to: VehicleSpec['route'][number];
    stopUntil: number;
    arriveAt: number;
    departAt: number;
  }> = [];

  constructor(spec: Pick<VehicleSpec, 'route' | 'speedKmh'>) {
    let t = 0;
    for (let i = 0; i < spec.route.length - 1; i++) {
      const from = spec.route[i]!;
      const to = spec.route[i + 1]!;
      const departAt = t + from.stop;
      const arriveAt = departAt + (haversineKm(from, to) / spec.speedKmh) * 3_600_000;
      this.legs.push({ from, to, stopUntil: departAt, arriveAt, departAt });
      t = arriveAt;
    }
  }

  /** Total time from the first departure preparation to arrival at the last waypoint. */
  get durationMs(): number {
    return this.legs.at(-1)?.arriveAt ?? 0;
  }

  at(offsetMs: number): RoutePosition {
    let legStart = 0;
    for (const leg of this.legs) {
      if (offsetMs < leg.departAt) {
        return { lat: leg.from.lat, lon: leg.from.lon, doorOpen: offsetMs - legStart < leg.from.doorOpen, moving: false };
      }
      if (offsetMs < leg.arriveAt) {
        const f = (offsetMs - leg.departAt) / (leg.arriveAt - leg.departAt);
        return { lat: leg.from.lat + (leg.to.lat - leg.from.lat) * f, lon: leg.from.lon + (leg.to.lon - leg.from.lon) * f, doorOpen: false, moving: true };
      }
      legStart = leg.arriveAt;
    }
    const last = this.legs.at(-1)!.to;
    return { lat: last.lat, lon: last.lon, doorOpen: offsetMs - legStart < last.doorOpen, moving: false };
  }
}
