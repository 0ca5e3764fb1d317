import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { api, type Alert, type SessionInfo } from '../api.js';
import { SignDialog } from './sign.js';
import { applyAlert, type BoardState } from '../store.js';
import { amount, say, when, type Labels, type Lang } from '../i18n.js';
import { namesOf } from '../names.js';

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

export function AlertsView({ board, t, lang, session }: { board: BoardState; t: Labels; lang: Lang; session: SessionInfo }) {
  const names = namesOf(board.overview);
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
            <td><span class=${`pill ${a.state}`}>${say('state', a.state, lang)}</span></td><td>${say('kind', a.kind, lang)}${a.late ? ` (${t.late})` : ''}</td><td>${say('severity', a.severity, lang)}</td><td title=${a.deviceId}>${names.device(a.deviceId)}</td><td>${names.place(a.siteId, a.locationId)}</td>
            <td>${when(a.occurredAt)}</td><td>${when(a.clearedAt)}</td><td>${amount(a.kind, a.peak, lang)}</td><td>${a.acknowledged ? `${a.acknowledged.printedName}: ${a.acknowledged.comment}` : '—'}</td>
            <td class="actions">
              ${mayAck && !a.acknowledged && (a.state === 'active' || a.state === 'cleared') ? html`<button class="primary" data-action="ack" onClick=${(e: Event) => (e.stopPropagation(), setSigning({ alert: a, action: 'ack' }))}>${t.acknowledge}</button>` : null}
              ${mayClose && a.state !== 'closed' && a.state !== 'pending' ? html`<button data-action="close" onClick=${(e: Event) => (e.stopPropagation(), setSigning({ alert: a, action: 'close' }))}>${t.close}</button>` : null}
            </td>
          </tr>`,
        )}
      </tbody>
    </table></div>
    ${selected
      ? html`<div class="history"><h3>${t.history}: ${merged.get(selected) ? `${say('kind', merged.get(selected)!.kind, lang)} — ${names.device(merged.get(selected)!.deviceId)}` : ''}</h3><ol>${history.map((e) => html`<li><b>${when(e.at)}</b> ${say('event', e.event, lang)} — ${e.printedName ?? (e.actor === 'system' ? say('actor', e.actor, lang) : e.actor)}${e.meaning ? ` “${e.meaning}”` : ''}${e.comment ? `: ${e.comment}` : ''}${e.channel ? ` [${say('channel', e.channel, lang)} → ${e.recipient}: ${e.outcome}]` : ''}${!e.channel && e.outcome ? ` (${e.outcome})` : ''}</li>`)}</ol></div>`
      : null}
    ${signing
      ? html`<${SignDialog}
          request=${{
            title: `${signing.action === 'ack' ? t.acknowledge : t.close}: ${say('kind', signing.alert.kind, lang)} — ${names.device(signing.alert.deviceId)}`,
            path: `/api/v1/alerts/${encodeURIComponent(signing.alert.id)}/${signing.action}`,
            meaning: signing.action === 'ack' ? t.meaningAck : t.meaningClose,
            onSigned: (r: { alert: Alert }) => applyAlert(r.alert),
          }}
          session=${session}
          t=${t}
          lang=${lang}
          onDone=${() => setSigning(null)}
        />`
      : null}
  </section>`;
}
