import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import L from 'leaflet';
import 'leaflet/dist/leaflet.css';
import { api } from '../api.js';
import { age, say, type Labels, type Lang } from '../i18n.js';
import { positionsAfter, type BoardState, type Position } from '../store.js';
import type { BoardSettings } from '../../../api/board.js';
import { tileState, worst } from '../status.js';
import { namesOf } from '../names.js';

/**
 * Leaflet puts a string tooltip in as HTML: a device named `<img src=x onerror=…>` would run in
 * every viewer's board (issue 12, item 16). An element with the name as its text is shown as it is.
 */
export function textElement(text: string): HTMLElement {
  const span = document.createElement('span');
  span.textContent = text;
  return span;
}

interface Track {
  line: L.Polyline;
  marker: L.CircleMarker;
  lastTs: number;
}

/** A device's track and its marker at the newest point, `data-track` and `data-marker` naming the device; the bounds take its points. */
function drawTrack(map: L.Map, bounds: L.LatLngBounds, deviceId: string, colour: string, name: string, track: readonly Position[]): Track {
  const points = track.map((p) => L.latLng(p.lat, p.lon));
  const line = L.polyline(points, { color: colour, weight: 3 }).addTo(map);
  line.getElement()?.setAttribute('data-track', deviceId);
  const marker = L.circleMarker(points.at(-1)!, { radius: 7, color: colour, fillOpacity: 0.9 }).bindTooltip(textElement(name)).addTo(map);
  marker.getElement()?.setAttribute('data-marker', deviceId);
  for (const p of points) bounds.extend(p);
  return { line, marker, lastTs: track.at(-1)!.ts };
}

/**
 * How the map fits the tracks: a street's scale at most. A parked truck's track is one point, and
 * without a tile layer the map has no zoom limit: fitted to it, the map zoomed without end and drew
 * nothing (the demo's truck at the cold store).
 */
const FIT: L.FitBoundsOptions = { padding: [20, 20], maxZoom: 15, animate: false };

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf'];

/** Vehicles: last position, compartment temperatures, connectivity, and their tracks on a map. */
export function FleetView({ board, t, lang }: { board: BoardState; t: Labels; lang: Lang }) {
  const vehicles = (board.overview?.sites ?? []).filter((s) => s.kind === 'vehicle');
  const names = namesOf(board.overview);
  const mapElement = useRef<HTMLDivElement>(null);
  const [settings, setSettings] = useState<BoardSettings | null>(null);
  useEffect(() => void api<BoardSettings>('/api/v1/board-settings').then(setSettings), []);

  /**
   * The map and each device's track on it (null: read, nothing to draw yet), with the time of its
   * last point: the stream's newer positions extend it, or start it for a vehicle that had none.
   */
  const drawing = useRef<{ map: L.Map; bounds: L.LatLngBounds; tracks: Map<string, Track | null>; follow: () => void } | null>(null);

  useEffect(() => {
    if (!mapElement.current || !settings) return;
    const map = L.map(mapElement.current, { attributionControl: Boolean(settings.tileUrl) }).setView([31.2, 121.4], 8);
    if (settings.tileUrl) L.tileLayer(settings.tileUrl, { attribution: settings.tileAttribution, maxZoom: 18 }).addTo(map);
    const bounds = L.latLngBounds([]);
    const tracks = new Map<string, Track | null>();
    // The map follows the tracks until the person moves or zooms it: then it stays where they put it.
    let fitting = false;
    let moved = false;
    map.on('dragstart zoomstart', () => {
      if (!fitting) moved = true;
    });
    const follow = () => {
      if (moved || !bounds.isValid()) return;
      fitting = true;
      map.fitBounds(bounds, FIT);
      fitting = false;
    };
    drawing.current = { map, bounds, tracks, follow };
    const devices = vehicles.flatMap((v) => v.locations.flatMap((l) => l.devices));
    let cancelled = false;
    void Promise.all(
      devices.map(async (device, i) => {
        const { readings } = await api<{ readings: Array<{ ts: number; lat?: number; lon?: number }> }>(
          `/api/v1/devices/${encodeURIComponent(device.id)}/readings?from=${Date.now() - 12 * 3_600_000}&limit=5000`,
        );
        if (cancelled) return;
        // The stored track, then what the stream brought after its last point (it may have come while this was read).
        const stored = readings.filter((r) => r.lat != null && r.lon != null).map((r) => ({ ts: r.ts, lat: r.lat!, lon: r.lon! }));
        const storedTo = stored.at(-1)?.ts ?? Number.NEGATIVE_INFINITY;
        const track = [...stored, ...positionsAfter(device.id, storedTo)];
        tracks.set(device.id, track.length ? drawTrack(map, bounds, device.id, COLOURS[i % COLOURS.length]!, names.device(device.id), track) : null);
        follow();
      }),
    );
    return () => {
      cancelled = true;
      drawing.current = null;
      map.remove();
    };
  }, [settings, vehicles.length]);

  // After each update of the board: positions newer than a track's last point extend it (a vehicle
  // read with none gets its track), and its marker moves to the newest; the map moves only when
  // that leaves the view (and the person has not moved the map). (Older ones, a late backlog, are
  // in the track the next time it opens.)
  useEffect(() => {
    if (!drawing.current) return;
    const { map, bounds, tracks, follow } = drawing.current;
    let colour = tracks.size;
    for (const [deviceId, drawn] of tracks) {
      // Found from the track's end (this runs after every update of the board).
      const newer = positionsAfter(deviceId, drawn?.lastTs ?? Number.NEGATIVE_INFINITY);
      if (!newer.length) continue;
      const newest = L.latLng(newer.at(-1)!.lat, newer.at(-1)!.lon);
      if (drawn) {
        for (const p of newer) {
          drawn.line.addLatLng([p.lat, p.lon]);
          bounds.extend([p.lat, p.lon]);
        }
        drawn.marker.setLatLng(newest);
        drawn.lastTs = newer.at(-1)!.ts;
      } else tracks.set(deviceId, drawTrack(map, bounds, deviceId, COLOURS[colour++ % COLOURS.length]!, names.device(deviceId), newer));
      if (!map.getBounds().contains(newest)) follow();
    }
  });

  return html`<section class="fleet">
    <div class="vehicles">
      ${vehicles.map((vehicle) => {
        const devices = vehicle.locations.flatMap((l) => l.devices.map((d) => ({ d, l })));
        const states = devices.map(({ d, l }) => tileState(d, l, board.alerts, board.now));
        const lastSeen = Math.max(0, ...devices.map(({ d }) => d.last?.receivedAt ?? d.last?.ts ?? 0));
        const online = devices.some(({ d }) => d.last && board.now - (d.last.receivedAt ?? d.last.ts) < 3 * d.intervalMs);
        const position = devices.map(({ d }) => d.last).find((l) => l?.lat != null);
        return html`<div class=${`vehicle state-${worst(states)}`} key=${vehicle.id} data-vehicle=${vehicle.id}>
          <h3>${vehicle.name} <small>${vehicle.vehicleType ?? say('siteKind', vehicle.kind, lang)} ${vehicle.plate ?? ''}</small></h3>
          <p>${t.connectivity}: <b class=${online ? 'online' : 'offline'}>${online ? t.online : t.offline}</b>${lastSeen ? ` · ${age(board.now - lastSeen, lang)}` : ''}</p>
          <p>${t.lastPosition}: ${position ? `${position.lat!.toFixed(4)}, ${position.lon!.toFixed(4)}` : '—'}</p>
          <ul>${devices.map(({ d, l }, i) => html`<li class=${`state-${states[i]}`}>${l.name} · <span title=${d.id}>${names.device(d.id)}</span>: <b>${d.last ? `${d.last.temperature.toFixed(1)} °C` : t.noData}</b> (${l.profile.temperature.min}…${l.profile.temperature.max} °C)</li>`)}</ul>
        </div>`;
      })}
    </div>
    ${settings && !settings.tileUrl ? html`<p class="hint">${t.mapNoTiles}</p>` : null}
    <div class="map" ref=${mapElement}></div>
  </section>`;
}
