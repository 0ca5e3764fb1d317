import { html } from 'htm/preact';
import type { Labels, Lang } from '../i18n.js';
import { age } from '../i18n.js';
import type { BoardState } from '../store.js';
import { sparkPath, tileState, worst } from '../status.js';
import { namesOf } from '../names.js';

/**
 * A sparkline's path, computed again only when its points changed: the store appends live readings
 * to the array in place (a new last point), so the array, its length and its last point say whether.
 */
const paths = new WeakMap<object, { range: object; length: number; last: unknown; path: ReturnType<typeof sparkPath> }>();
function pathOf(points: Parameters<typeof sparkPath>[0], range: Parameters<typeof sparkPath>[1]): ReturnType<typeof sparkPath> {
  const known = paths.get(points);
  const last = points[points.length - 1];
  if (known && known.range === range && known.length === points.length && known.last === last) return known.path;
  const path = sparkPath(points, range);
  paths.set(points, { range, length: points.length, last, path });
  return path;
}

/** Sites → places → sensors, each with its reading now, range, state colour, age and sparkline. */
export function LiveView({ board, t, lang }: { board: BoardState; t: Labels; lang: Lang }) {
  const sites = board.overview?.sites ?? [];
  const names = namesOf(board.overview);
  return html`<section class="live">
    ${sites.map(
      (site) => html`<div class="site" key=${site.id}>
        <h2>${site.name}${site.plate ? html` <small>${site.vehicleType ?? ''} ${site.plate}</small>` : null}</h2>
        <div class="places">
          ${site.locations.map((location) => {
            const states = location.devices.map((d) => tileState(d, location, board.alerts, board.now));
            return html`<div class=${`place state-${worst(states)}`} key=${location.id} data-location=${location.id}>
              <h3>${location.name} <small>${t.range} ${location.profile.temperature.min}…${location.profile.temperature.max} °C</small></h3>
              <div class="tiles">
                ${location.devices.map((device, i) => {
                  const state = states[i]!;
                  const spark = pathOf(device.sparkline, location.profile.temperature);
                  return html`<div class=${`tile state-${state}`} key=${device.id} data-device=${device.id} data-state=${state}>
                    <div class="tile-head"><span class="name" title=${device.id}>${names.device(device.id)}</span><span class="badge">${t[state]}</span></div>
                    <div class="value">${device.last ? html`${device.last.temperature.toFixed(1)}<small> °C</small>` : t.noData}</div>
                    <div class="sub">
                      ${device.last?.humidity != null ? html`<span>${t.humidity} ${device.last.humidity.toFixed(0)} %RH</span>` : null}
                      <span class="age">${device.last ? age(board.now - (device.last.receivedAt ?? device.last.ts), lang) : ''}</span>
                    </div>
                    <svg class="spark" viewBox="0 0 120 28" preserveAspectRatio="none" aria-hidden="true">
                      <rect x="0" y=${spark.band[0]} width="120" height=${Math.max(0, spark.band[1] - spark.band[0])} class="spark-band" />
                      <path d=${spark.line} class="spark-line" />
                    </svg>
                  </div>`;
                })}
              </div>
            </div>`;
          })}
        </div>
      </div>`,
    )}
  </section>`;
}
