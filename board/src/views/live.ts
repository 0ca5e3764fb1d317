import { Component } from 'preact';
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import type { Labels, Lang } from '../i18n.js';
import { age } from '../i18n.js';
import { sparkOf, type BoardState } from '../store.js';
import { sparkPath, tileState, worst, type SparkSeries } from '../status.js';
import { namesOf } from '../names.js';
import { afterFrames } from '../frames.js';

/**
 * A sparkline's path, computed again only when its points changed: the store appends live readings
 * in place, so the series, its length and its last time say whether.
 */
const paths = new WeakMap<SparkSeries, { range: object; length: number; last: number | undefined; path: ReturnType<typeof sparkPath> }>();
function pathOf(series: SparkSeries, range: Parameters<typeof sparkPath>[1]): ReturnType<typeof sparkPath> {
  const known = paths.get(series);
  const last = series.ts[series.ts.length - 1];
  if (known && known.range === range && known.length === series.ts.length && known.last === last) return known.path;
  const path = sparkPath(series, range);
  paths.set(series, { range, length: series.ts.length, last, path });
  return path;
}

interface TileProps {
  id: string;
  name: string;
  state: string;
  badge: string;
  /** The reading as shown (°C, one decimal), or the words for none. */
  value: string | null;
  noData: string;
  humidity: string | null;
  age: string;
  spark: ReturnType<typeof sparkPath>;
  /** The first tile of a place: its reading's paint is timed (Element Timing), which is how the bench sees the first tiles. */
  timed: boolean;
  /** Past the first window's height of its place: laid out and painted only when scrolled to (style.css). */
  lazy: boolean;
}

/**
 * One sensor. Drawn again only when what it shows changed: a live reading or the 5-second clock
 * re-renders the view, and at 2,000 sensors rebuilding every tile took most of the page's time.
 */
class Tile extends Component<TileProps> {
  override shouldComponentUpdate(next: TileProps): boolean {
    for (const key in next) if (next[key as keyof TileProps] !== this.props[key as keyof TileProps]) return true;
    return false;
  }

  override render({ id, name, state, badge, value, noData, humidity, age, spark, timed, lazy }: TileProps) {
    return html`<div class=${`tile state-${state}${lazy ? ' lazy' : ''}`} data-device=${id} data-state=${state}>
      <div class="tile-head"><span class="name" title=${id}>${name}</span><span class="badge">${badge}</span></div>
      <div class="value" elementtiming=${timed ? 'tile' : undefined}>${value !== null ? html`${value}<small> °C</small>` : noData}</div>
      <div class="sub">
        ${humidity !== null ? html`<span>${humidity}</span>` : null}
        <span class="age">${age}</span>
      </div>
      <svg class="spark" viewBox="0 0 1200 280" preserveAspectRatio="none" aria-hidden="true">
        <rect x="0" y=${spark.band[0]} width="1200" height=${Math.max(0, spark.band[1] - spark.band[0])} class="spark-band" />
        <path d=${spark.line} class="spark-line" />
      </svg>
    </div>`;
  }
}

/**
 * Tiles that fill the window at their smallest (140 × 100 px): drawn first, the rest after a frame.
 * Read once: the window's size forces a layout when the page has changed since the last one.
 */
let screenful = 0;
const firstTiles = () => (screenful ||= Math.max(60, Math.ceil(innerWidth / 140) * Math.ceil(innerHeight / 100)));
/**
 * And at most a window's height of them in each place: a window's worth of tiles all in the first
 * place filled a screen nine tenths of which was below the fold (2,000 sensors in one cold room:
 * 80 tiles built before the first frame, 10 seen). Estimated from style.css's grid (places at
 * least 320 px wide with 12 px gaps in a main with 16 px padding; tiles at least 140 px wide with
 * 8 px gaps, ≈ 126 px a row): too few, and the rest come a frame later.
 */
let placeful = 0;
export function firstTilesInPlace(): number {
  if (placeful) return placeful;
  const places = Math.max(1, Math.floor((innerWidth - 32 + 12) / (320 + 12)));
  const placeWidth = (innerWidth - 32 - 12 * (places - 1)) / places;
  const perRow = Math.max(1, Math.floor((placeWidth - 24 + 8) / (140 + 8)));
  placeful = perRow * Math.ceil(innerHeight / 126);
  return placeful;
}
const MORE_TILES = 300;

/**
 * How many tiles are drawn, in all and in each place: a screenful on arrival, at most
 * `firstTilesInPlace` in a place, then `MORE_TILES` more after each painted frame, with no limit
 * per place. With 2,000 sensors one render of every tile kept the first one off the screen for seconds.
 */
function useTileBudget(total: number, overview: object | null): { count: number; inPlace: number } {
  const [drawn, setDrawn] = useState<{ overview: object | null; count: number }>(() => ({ overview, count: 0 }));
  const count = drawn.overview === overview ? drawn.count : 0;
  useEffect(() => {
    if (count >= total && count > 0) return;
    // A timer after the frame: the frame with the tiles so far is painted before the next ones are
    // built. After the first frame, a frame later still: building the next 300 tiles (≈ 100 ms and
    // a collection) right after the first frame's commit took the CPU its raster needed (2 cores),
    // and the first tiles reached the screen 40–80 ms after their frame instead of ≈ 25.
    return afterFrames(count === 0 ? 2 : 1, () => setDrawn({ overview, count: count === 0 ? firstTiles() + MORE_TILES : count + MORE_TILES }));
  }, [count, total, overview]);
  return count === 0 ? { count: firstTiles(), inPlace: firstTilesInPlace() } : { count, inPlace: Number.POSITIVE_INFINITY };
}

/** Sites → places → sensors, each with its reading now, range, state colour, age and sparkline. */
export function LiveView({ board, t, lang }: { board: BoardState; t: Labels; lang: Lang }) {
  const sites = board.overview?.sites ?? [];
  const names = namesOf(board.overview);
  let total = 0;
  for (const site of sites) for (const location of site.locations) total += location.devices.length;
  const { count, inPlace } = useTileBudget(total, board.overview);
  let budget = count;
  return html`<section class="live">
    ${sites.map(
      (site) => html`<div class="site" key=${site.id}>
        <h2>${site.name}${site.plate ? html` <small>${site.vehicleType ?? ''} ${site.plate}</small>` : null}</h2>
        <div class="places">
          ${site.locations.map((location) => {
            const states = location.devices.map((d) => tileState(d, location, board.alerts, board.now));
            const drawn = location.devices.slice(0, Math.max(0, Math.min(budget, inPlace)));
            budget -= drawn.length;
            // A place whose other sensors are still to come (the sign-in's first screen) claims no state yet.
            return html`<div class=${location.more ? 'place partial' : `place state-${worst(states)}`} key=${location.id} data-location=${location.id}>
              <h3>${location.name} <small>${t.range} ${location.profile.temperature.min}…${location.profile.temperature.max} °C</small></h3>
              <div class="tiles">
                ${drawn.map((device, i) => {
                  const state = states[i]!;
                  const last = device.last;
                  return html`<${Tile}
                    key=${device.id}
                    id=${device.id}
                    name=${names.device(device.id)}
                    state=${state}
                    badge=${t[state]}
                    value=${last ? last.temperature.toFixed(1) : null}
                    noData=${t.noData}
                    humidity=${last?.humidity != null ? `${t.humidity} ${last.humidity.toFixed(0)} %RH` : null}
                    age=${last ? age(board.now - (last.receivedAt ?? last.ts), lang) : ''}
                    spark=${pathOf(sparkOf(device), location.profile.temperature)}
                    timed=${i === 0}
                    lazy=${i >= firstTilesInPlace()}
                  />`;
                })}
              </div>
            </div>`;
          })}
        </div>
      </div>`,
    )}
  </section>`;
}
