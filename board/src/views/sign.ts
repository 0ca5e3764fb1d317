import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api, ApiError, type SessionInfo } from '../api.js';
import type { Labels, Lang } from '../i18n.js';

export interface SignRequest<T> {
  /** The dialog's heading: the action and what it is about, in words. */
  title: string;
  path: string;
  meaning: string;
  /** Shelving asks how long (up to the limit) and why. */
  durations?: string[];
  onSigned: (answer: T) => void;
}

const SHELF_WORDS: Record<string, Record<Lang, string>> = {
  '15m': { en: '15 minutes', 'zh-CN': '15分钟' },
  '30m': { en: '30 minutes', 'zh-CN': '30分钟' },
  '1h': { en: '1 hour', 'zh-CN': '1小时' },
  '2h': { en: '2 hours', 'zh-CN': '2小时' },
  '4h': { en: '4 hours', 'zh-CN': '4小时' },
  '8h': { en: '8 hours', 'zh-CN': '8小时' },
  '12h': { en: '12 hours', 'zh-CN': '12小时' },
  '24h': { en: '24 hours', 'zh-CN': '24小时' },
};
const SHELF_MS: Record<string, number> = {
  '15m': 900_000,
  '30m': 1_800_000,
  '1h': 3_600_000,
  '2h': 7_200_000,
  '4h': 14_400_000,
  '8h': 28_800_000,
  '12h': 43_200_000,
  '24h': 86_400_000,
};

/** Shelving durations up to the site's limit (alarms.maxShelve; 24 h unless the server says otherwise). */
export const shelfDurations = (maxMs = 86_400_000) => Object.keys(SHELF_MS).filter((d) => SHELF_MS[d]! <= maxMs);

/** The e-signature dialog: password re-entered, meaning and comment, as 21 CFR Part 11 asks. */
export function SignDialog<T>({
  request,
  session,
  t,
  lang,
  onDone,
}: {
  request: SignRequest<T>;
  session: SessionInfo;
  t: Labels;
  lang: Lang;
  onDone: () => void;
}) {
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    setBusy(true);
    try {
      const body: Record<string, unknown> = { user: session.user, password: form.get('password'), meaning: form.get('meaning'), comment: form.get('comment') };
      if (request.durations) body.duration = form.get('duration');
      request.onSigned(await api<T>(request.path, { method: 'POST', body }));
      onDone();
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? t.wrongPassword : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return html`<div class="modal" role="dialog" aria-modal="true" aria-labelledby="sign-title">
    <form class="dialog" onSubmit=${submit}>
      <h3 id="sign-title">${request.title}</h3>
      <p class="hint">${t.signatureHint}</p>
      <label>${t.user}<input name="user" value=${`${session.fullName} (${session.user})`} disabled /></label>
      <label>${t.password}<input name="password" type="password" required autocomplete="current-password" /></label>
      ${
        request.durations
          ? html`<label>${t.duration}<select name="duration" required>${request.durations.map((d) => html`<option value=${d} selected=${d === '2h'}>${SHELF_WORDS[d]?.[lang] ?? d}</option>`)}</select></label>`
          : null
      }
      <label>${t.meaning}<input name="meaning" required minlength="3" value=${request.meaning} /></label>
      <label>${request.durations ? t.reason : t.comment}<textarea name="comment" required rows="3"></textarea></label>
      ${error ? html`<p class="error" role="alert">${error}</p>` : null}
      <div class="buttons"><button type="button" onClick=${onDone}>${t.cancel}</button><button type="submit" class="primary" disabled=${busy}>${t.sign}</button></div>
    </form>
  </div>`;
}
