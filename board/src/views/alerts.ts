import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, type Alert, type SessionInfo } from '../api.js';
import { applyAlert, type BoardState } from '../store.js';
import { when, type Labels } from '../i18n.js';

interface HistoryEvent {
  event: string;
  at: number;
  actor: string;
  printedName?: string;
  meaning?: string;
  comment?: string;
  channel?: string;
  recipient?: string;
  outcome?: string;
}

/** The e-signature dialog: password re-entered, meaning and comment, as 21 CFR Part 11 asks. */
function SignDialog({ alert, action, session, t, onDone }: { alert: Alert; action: 'ack' | 'close'; session: SessionInfo; t: Labels; onDone: () => void }) {
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    setBusy(true);
    try {
      const { alert: updated } = await api<{ alert: Alert }>(`/api/v1/alerts/${encodeURIComponent(alert.id)}/${action}`, { method: 'POST', body: { user: session.user, password: form.get('password'), meaning: form.get('meaning'), comment: form.get('comment') } });
      applyAlert(updated);
      onDone();
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? t.wrongPassword : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return html`<div class="modal" role="dialog" aria-modal="true" aria-labelledby="sign-title">
    <form class="dialog" onSubmit=${submit}>
      <h3 id="sign-title">${action === 'ack' ? t.acknowledge : t.close}: ${alert.kind} — ${alert.deviceId}</h3>
      <p class="hint">${t.signatureHint}</p>
      <label>${t.user}<input name="user" value=${`${session.fullName} (${session.user})`} disabled /></label>
      <label>${t.password}<input name="password" type="password" required autocomplete="current-password" /></label>
      <label>${t.meaning}<input name="meaning" required minlength="3" value=${action === 'ack' ? 'acknowledged' : 'closed after review'} /></label>
      <label>${t.comment}<textarea name="comment" required rows="3"></textarea></label>
      ${error ? html`<p class="error" role="alert">${error}</p>` : null}
      <div class="buttons"><button type="button" onClick=${onDone}>${t.cancel}</button><button type="submit" class="primary" disabled=${busy}>${t.sign}</button></div>
    </form>
  </div>`;
}

export function AlertsView({ board, t, session }: { board: BoardState; t: Labels; session: SessionInfo }) {
  const [recent, setRecent] = useState<Alert[]>([]);
  const [selected, setSelected] = useState<string | null>(null);
  const [history, setHistory] = useState<HistoryEvent[]>([]);
  const [signing, setSigning] = useState<{ alert: Alert; action: 'ack' | 'close' } | null>(null);
  useEffect(() => {
    void api<{ alerts: Alert[] }>(`/api/v1/alerts?from=${Date.now() - 7 * 86_400_000}`).then((r) => setRecent(r.alerts));
  }, [board.alerts]);
  useEffect(() => {
    if (selected) void api<{ events: HistoryEvent[] }>(`/api/v1/alerts/${encodeURIComponent(selected)}`).then((r) => setHistory(r.events));
  }, [selected, board.alerts]);
  const merged = new Map(recent.map((a) => [a.id, a]));
  for (const a of board.alerts.values()) merged.set(a.id, a);
  const rows = [...merged.values()].sort((a, b) => b.occurredAt - a.occurredAt);
  const mayAck = session.role !== 'viewer';
  const mayClose = session.role === 'qa' || session.role === 'admin';
  return html`<section class="alerts">
    ${rows.length === 0 ? html`<p>${t.noAlerts}</p>` : null}
    <div class="scroll"><table>
      <thead><tr><th>${t.state}</th><th>${t.kind}</th><th>${t.severity}</th><th>${t.sensor}</th><th>${t.place}</th><th>${t.occurred}</th><th>${t.cleared}</th><th>${t.peak}</th><th>${t.acknowledgedBy}</th><th></th></tr></thead>
      <tbody>
        ${rows.map(
          (a) => html`<tr key=${a.id} data-alert=${a.id} data-state=${a.state} class=${`alert-row state-${a.state}${selected === a.id ? ' selected' : ''}`} onClick=${() => setSelected(a.id)}>
            <td><span class=${`pill ${a.state}`}>${a.state}</span></td><td>${a.kind}${a.late ? ' (late)' : ''}</td><td>${a.severity}</td><td>${a.deviceId}</td><td>${a.locationId}</td>
            <td>${when(a.occurredAt)}</td><td>${when(a.clearedAt)}</td><td>${a.peak}</td><td>${a.acknowledged ? `${a.acknowledged.printedName}: ${a.acknowledged.comment}` : '—'}</td>
            <td class="actions">
              ${mayAck && !a.acknowledged && (a.state === 'active' || a.state === 'cleared') ? html`<button class="primary" data-action="ack" onClick=${(e: Event) => (e.stopPropagation(), setSigning({ alert: a, action: 'ack' }))}>${t.acknowledge}</button>` : null}
              ${mayClose && a.state !== 'closed' && a.state !== 'pending' ? html`<button data-action="close" onClick=${(e: Event) => (e.stopPropagation(), setSigning({ alert: a, action: 'close' }))}>${t.close}</button>` : null}
            </td>
          </tr>`,
        )}
      </tbody>
    </table></div>
    ${selected
      ? html`<div class="history"><h3>${t.history}: ${selected}</h3><ol>${history.map((e) => html`<li><b>${when(e.at)}</b> ${e.event} — ${e.printedName ?? e.actor}${e.meaning ? ` “${e.meaning}”` : ''}${e.comment ? `: ${e.comment}` : ''}${e.channel ? ` [${e.channel} → ${e.recipient}: ${e.outcome}]` : ''}</li>`)}</ol></div>`
      : null}
    ${signing ? html`<${SignDialog} alert=${signing.alert} action=${signing.action} session=${session} t=${t} onDone=${() => setSigning(null)} />` : null}
  </section>`;
}
