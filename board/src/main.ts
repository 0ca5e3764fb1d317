import { html, render } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, liveStream, savedSession, signIn, signOut, type CompactOverview, type Overview, type SessionInfo, type Sparklines } from './api.js';
import { expandOverview } from '../../live/compact-overview.js';
import { LABELS, savedLang, say, type Lang } from './i18n.js';
import { applyAlert, applyIncident, applyReading, isPartial, setConnected, setOverview, setSparklines, tick, useBoard } from './store.js';
import { byUrgency, needsSomeone } from './incidents.js';
import { firstTilesInPlace, LiveView } from './views/live.js';
import { DevicesView } from './views/devices.js';
import { Lazy } from './lazy.js';
import { afterFrames } from './frames.js';
import './style.css';

const VIEWS = ['live', 'alerts', 'fleet', 'shipments', 'devices', 'performance', 'audit'] as const;
type View = (typeof VIEWS)[number];
const viewOf = (): View => ((VIEWS as readonly string[]).includes(location.hash.slice(2)) ? (location.hash.slice(2) as View) : 'live');

/** A short two-tone chime from Web Audio (no sound file to ship or to fail to load). */
function chime(): void {
  try {
    const audio = new AudioContext();
    [880, 660].forEach((frequency, i) => {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = frequency;
      gain.gain.value = 0.15;
      osc.connect(gain).connect(audio.destination);
      osc.start(audio.currentTime + i * 0.25);
      osc.stop(audio.currentTime + i * 0.25 + 0.2);
    });
  } catch {
    // no audio device: the banner and the title still tell
  }
}

const loadFleet = () => import('./views/fleet.js').then((m) => m.FleetView as (props: never) => unknown);
const loadIncidents = () => import('./views/incidents.js').then((m) => m.IncidentsView as (props: never) => unknown);
const loadPerformance = () => import('./views/performance.js').then((m) => m.PerformanceView as (props: never) => unknown);
const loadAudit = () => import('./views/audit.js').then((m) => m.AuditView as (props: never) => unknown);
const loadShipments = () => import('./views/shipments.js').then((m) => m.ShipmentsView as (props: never) => unknown);

/**
 * Without sparklines (they were half the overview's bytes with 2,000 sensors, and come after the
 * first tiles), and compact: what is null or empty left out, filled in again here.
 */
const askOverview = () => api<CompactOverview>('/api/v1/overview?sparklines=false&compact=true').then(expandOverview);

/**
 * Out of sight on the sign-in page: the board's header, headings and one tile, in its own classes,
 * so their fonts are looked up while the person types. The first layout after sign-in spent 11–16
 * ms of its 16 in font lookups (Chromium asks the browser process once for each family, size and
 * weight a page uses: 13 of them for the live view); it is 2 ms once they are known.
 */
const fontsOfTheBoard = html`<div class="font-warm-up" aria-hidden="true">
  <header><h1>Cold-chain monitor</h1><nav><a class="active">Live <span class="count">1</span></a></nav>
    <div class="tools"><span class="stream up">● connected</span><button type="button" tabindex="-1">Mute 中文</button><span class="who">Operator</span></div></header>
  <main><section class="live"><div class="site"><h2>Site <small>truck 沪A12345</small></h2><div class="places"><div class="place">
    <h3>Cold room 1 <small>Range 2…8 °C</small></h3>
    <div class="tiles"><div class="tile state-ok"><div class="tile-head"><span class="name">Sensor A-0</span><span class="badge">OK</span></div>
      <div class="value">-5.1<small> °C</small></div><div class="sub"><span>Humidity 55 %RH</span><span class="age">5 min ago</span></div></div></div>
  </div></div></div></section></main></div>`;

/**
 * The sign-in form, in the language chosen here or last time. Its language switch also puts both
 * scripts' fonts on the page before the password is sent: the board's header has the switch too,
 * and loading the CJK font in the first frame after sign-in made that frame's layout 13 ms.
 */
function SignIn({ lang, setLang, onSignedIn }: { lang: Lang; setLang: (l: Lang) => void; onSignedIn: (s: SessionInfo) => void }) {
  const t = LABELS[lang];
  const [error, setError] = useState('');
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    try {
      const { session, overview } = await signIn(String(form.get('user')), String(form.get('password')), firstTilesInPlace());
      // The overview came with the session (the first screen's sensors): the board's first render draws its tiles.
      setOverview(expandOverview(overview));
      onSignedIn(session);
      performance.mark('board rendered');
    } catch (err) {
      setError((err as { status?: number }).status === 401 ? t.wrongPassword : (err as Error).message);
    }
  };
  return html`<main class="signin"><form onSubmit=${submit}>
    <div class="signin-head"><h1>${t.title}</h1><button type="button" onClick=${() => setLang(lang === 'en' ? 'zh-CN' : 'en')} data-action="language">${t.language}</button></div>
    <label>${t.user}<input name="user" required autocomplete="username" /></label>
    <label>${t.password}<input name="password" type="password" required autocomplete="current-password" /></label>
    ${error ? html`<p class="error" role="alert">${error}</p>` : null}
    <button type="submit" class="primary">${t.signIn}</button>
  </form>${fontsOfTheBoard}</main>`;
}

function Board({ session, lang, setLang, onSignOut }: { session: SessionInfo; lang: Lang; setLang: (l: Lang) => void; onSignOut: () => void }) {
  const t = LABELS[lang];
  const board = useBoard();
  const [view, setView] = useState<View>(viewOf());
  const [muted, setMuted] = useState(localStorage.getItem('coldchain.muted') === '1');
  useEffect(() => {
    const onHash = () => setView(viewOf());
    addEventListener('hashchange', onHash);
    // The overview came with the sign-in, or is asked for here when the page opened signed in. The
    // sign-in's has the first screen's sensors only: the whole one is asked for once they are on
    // screen (two frames: their raster is not to share the CPU with its answer). The sparklines
    // after the frame with the first tiles.
    const signedIn = board.overview;
    let closed = false;
    // Asked again until it comes (a wall display outlives a restart of the service), as the stream reconnects.
    const asked = (): Promise<Overview> =>
      askOverview().then(
        (overview) => (setOverview(overview), overview),
        () => new Promise<void>((r) => setTimeout(r, 5_000)).then(() => (closed ? new Promise<Overview>(() => undefined) : asked())),
      );
    void (!signedIn ? asked() : isPartial(signedIn) ? new Promise<void>((r) => afterFrames(2, r)).then(asked) : Promise.resolve(signedIn)).then((overview) =>
      afterFrames(1, () => void api<Sparklines>(`/api/v1/overview/sparklines?hours=${overview.hours}`).then(setSparklines, () => undefined)),
    );
    const close = liveStream(applyReading, applyAlert, setConnected, applyIncident);
    const clock = setInterval(tick, 5000);
    return () => {
      closed = true;
      removeEventListener('hashchange', onHash);
      close();
      clearInterval(clock);
    };
  }, []);
  // What needs someone now: one line per incident nobody acknowledged or shelved (ISA-18.2: one
  // event, one alarm), if it pages people or shows on the board (the digest ones wait).
  const alarming = [...(board.incidents?.values() ?? [])]
    .filter((i) => needsSomeone(i, board.now))
    .sort(byUrgency(board.now))
    .map((i) => ({ id: i.id, line: i.text[lang].title }));
  const openCount = board.incidents?.size ?? 0;
  useEffect(() => {
    document.title = alarming.length ? `(${alarming.length}) ${t.title}` : t.title;
  }, [alarming.length, lang]);
  // Chime when an incident starts needing someone: new, come back, or back from its shelf.
  const heard = useRef(new Set<string>());
  useEffect(() => {
    const now = new Set(alarming.map((a) => a.id));
    const fresh = [...now].some((id) => !heard.current.has(id));
    heard.current = now;
    if (fresh && !muted) chime();
  }, [alarming.map((a) => a.id).join()]);
  const toggleMute = () => {
    localStorage.setItem('coldchain.muted', muted ? '0' : '1');
    setMuted(!muted);
  };
  return html`<div class="board">
    <header>
      <h1>${t.title}</h1>
      <nav>${VIEWS.filter(
        (v) => (v !== 'performance' || session.role !== 'viewer') && (v !== 'audit' || session.role === 'qa' || session.role === 'admin'),
      ).map(
        (v) =>
          html`<a href=${`#/${v}`} class=${view === v ? 'active' : ''} data-view=${v}>${t[v]}${v === 'alerts' && alarming.length ? html` <span class="count" data-count>${alarming.length}</span>` : v === 'alerts' && openCount ? html` <span class="count quiet" data-count>${openCount}</span>` : null}</a>`,
      )}</nav>
      <div class="tools">
        <span class=${`stream ${board.connected ? 'up' : 'down'}`} title=${t.stream}>● ${board.connected ? t.connected : t.reconnecting}</span>
        <button onClick=${toggleMute} data-action="mute">${muted ? t.unmute : t.mute}</button>
        <button onClick=${() => setLang(lang === 'en' ? 'zh-CN' : 'en')} data-action="language">${t.language}</button>
        <span class="who">${session.fullName} (${say('role', session.role, lang)})</span>
        <button onClick=${onSignOut}>${t.signOut}</button>
      </div>
    </header>
    ${
      alarming.length
        ? html`<a class="banner" role="alert" href="#/alerts" data-banner>
          ⚠ ${alarming.length} ${t.newAlarms}: ${alarming
            .slice(0, 3)
            .map((a) => a.line)
            .join(' · ')}${alarming.length > 3 ? ' …' : ''}
        </a>`
        : null
    }
    <main>
      ${view === 'live' ? html`<${LiveView} board=${board} t=${t} lang=${lang} />` : null}
      ${view === 'alerts' ? html`<${Lazy} load=${loadIncidents} props=${{ board, t, lang, session }} />` : null}
      ${view === 'fleet' ? html`<${Lazy} load=${loadFleet} props=${{ board, t, lang }} />` : null}
      ${view === 'shipments' ? html`<${Lazy} load=${loadShipments} props=${{ board, t, lang }} />` : null}
      ${view === 'devices' ? html`<${DevicesView} board=${board} t=${t} lang=${lang} />` : null}
      ${view === 'performance' ? html`<${Lazy} load=${loadPerformance} props=${{ board, t, lang }} />` : null}
      ${view === 'audit' && (session.role === 'qa' || session.role === 'admin') ? html`<${Lazy} load=${loadAudit} props=${{ t, lang }} />` : null}
    </main>
  </div>`;
}

function App() {
  const [session, setSession] = useState<SessionInfo | null>(savedSession());
  const [lang, setLangState] = useState<Lang>(savedLang());
  const setLang = (l: Lang) => {
    localStorage.setItem('coldchain.lang', l);
    setLangState(l);
  };
  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);
  if (!session) return html`<${SignIn} lang=${lang} setLang=${setLang} onSignedIn=${setSession} />`;
  return html`<${Board} session=${session} lang=${lang} setLang=${setLang} onSignOut=${() => void signOut().then(() => setSession(null))} />`;
}

render(html`<${App} />`, document.getElementById('app')!);
