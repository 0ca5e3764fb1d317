import { html } from 'htm/preact';
import { age, say, type Labels, type Lang } from '../i18n.js';
import type { BoardState } from '../store.js';
import { tileState } from '../status.js';

/** Every sensor: last seen, battery, firmware, what was rejected and why. */
export function DevicesView({ board, t, lang }: { board: BoardState; t: Labels; lang: Lang }) {
  const rows = (board.overview?.sites ?? []).flatMap((site) =>
    site.locations.flatMap((location) => location.devices.map((device) => ({ site, location, device }))),
  );
  return html`<section class="devices"><div class="scroll"><table>
    <thead><tr><th>${t.sensor}</th><th>${t.place}</th><th>${t.state}</th><th>${t.lastSeen}</th><th>${t.battery}</th><th>${t.firmware}</th><th>${t.rejected24h}</th><th>${t.why}</th></tr></thead>
    <tbody>
      ${rows.map(({ site, location, device }) => {
        const state = tileState(device, location, board.alerts, board.now);
        const battery = device.last?.battery ?? device.status.battery;
        return html`<tr key=${device.id} data-device=${device.id}>
          <td title=${device.id}>${device.name}${device.name !== device.id ? html`<br /><small>${device.id}</small>` : null}</td><td>${site.name} · ${location.name}<br /><small>${say('locationKind', location.kind, lang)}</small></td><td><span class=${`pill state-${state}`}>${t[state]}</span></td>
          <td>${device.last ? age(board.now - (device.last.receivedAt ?? device.last.ts), lang) : '—'}</td>
          <td>${battery != null ? `${battery.toFixed(0)} %` : '—'}</td><td>${device.status.firmware ?? '—'}</td>
          <td class=${device.rejects24h.count ? 'bad' : ''}>${device.rejects24h.count}</td><td>${device.rejects24h.lastReason ? html`<b>${say('rejectReason', device.rejects24h.lastReason, lang)}</b><br /><small>${device.rejects24h.lastMessage}</small>` : ''}</td>
        </tr>`;
      })}
    </tbody>
  </table></div></section>`;
}
