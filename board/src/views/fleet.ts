import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import L from 'leaflet';
import 'leaflet/dist/leaflet.css';
import { api } from '../api.js';
import { age, say, type Labels, type Lang } from '../i18n.js';
import type { BoardState } from '../store.js';
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

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf'];

/** Vehicles: last position, compartment temperatures, connectivity, and their tracks on a map. */
export function FleetView({ board, t, lang }: { board: BoardState; t: Labels; lang: Lang }) {
  const vehicles = (board.overview?.sites ?? []).filter((s) => s.kind === 'vehicle');
  const names = namesOf(board.overview);
  const mapElement = useRef<HTMLDivElement>(null);
  const [settings, setSettings] = useState<BoardSettings | null>(null);
  useEffect(() => void api<BoardSettings>('/api/v1/board-settings').then(setSettings), []);

  useEffect(() => {
    if (!mapElement.current || !settings) return;
    const map = L.map(mapElement.current, { attributionControl: Boolean(settings.tileUrl) }).setView([31.2, 121.4], 8);
    if (settings.tileUrl) L.tileLayer(settings.tileUrl, { attribution: settings.tileAttribution, maxZoom: 18 }).addTo(map);
    const bounds = L.latLngBounds([]);
    const devices = vehicles.flatMap((v) => v.locations.flatMap((l) => l.devices));
    let cancelled = false;
    void Promise.all(
      devices.map(async (device, i) => {
        const { readings } = await api<{ readings: Array<{ ts: number; lat?: number; lon?: number }> }>(
          `/api/v1/devices/${encodeURIComponent(device.id)}/readings?from=${Date.now() - 12 * 3_600_000}&limit=5000`,
        );
        const track = readings.filter((r) => r.lat != null && r.lon != null).map((r) => L.latLng(r.lat!, r.lon!));
        if (cancelled || !track.length) return;
        L.polyline(track, { color: COLOURS[i % COLOURS.length], weight: 3 }).addTo(map);
        L.circleMarker(track[track.length - 1]!, { radius: 7, color: COLOURS[i % COLOURS.length], fillOpacity: 0.9 })
          .bindTooltip(textElement(names.device(device.id)))
          .addTo(map);
        track.forEach((p) => bounds.extend(p));
        if (bounds.isValid()) map.fitBounds(bounds, { padding: [20, 20] });
      }),
    );
    return () => {
      cancelled = true;
      map.remove();
    };
  }, [settings, vehicles.length]);

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
