import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { api, type Alert, type AlertDetail, type IncidentDetail, type IncidentList, type IncidentView, type SessionInfo } from '../api.js';
import { applyIncident, type BoardState } from '../store.js';
import { amount, say, when, type Labels, type Lang } from '../i18n.js';
import { byUrgency, isShelved, needsSomeone } from '../incidents.js';
import { Lazy } from '../lazy.js';
import { namesOf } from '../names.js';
import { shelfDurations, SignDialog, type SignRequest } from './sign.js';

/** One event of an alert's or an incident's history, as the API answers them (alerts/views.ts). */
type HistoryEvent = AlertDetail['events'][number] | IncidentDetail['events'][number];

const loadTrend = () => import('./trend.js').then((m) => m.TrendChart as (props: never) => unknown);

function History({ events, lang }: { events: HistoryEvent[]; lang: Lang }) {
  if (!events.length) return html`<p class="hint">—</p>`;
  return html`<ol class="events">
    ${events.map(
      (e) => html`<li>
        <b>${when(e.at)}</b> ${say('event', e.event, lang)} — ${e.printedName ?? (e.actor === 'system' ? say('actor', e.actor, lang) : e.actor)}${e.meaning ? ` “${e.meaning}”` : ''}${e.comment ? `: ${e.comment}` : ''}
        ${e.channel ? html` <small>[${say('channel', e.channel, lang)} → ${e.recipient}: ${e.outcome}]</small>` : e.outcome ? html` <small>(${e.outcome})</small>` : null}
      </li>`,
    )}
  </ol>`;
}

/** One sensor's alert inside an incident, its history one click away. */
function MemberRow({ alert, t, lang, deviceName }: { alert: Alert; t: Labels; lang: Lang; deviceName: string }) {
  const [events, setEvents] = useState<HistoryEvent[] | null>(null);
  const toggle = () => (events ? setEvents(null) : void api<AlertDetail>(`/api/v1/alerts/${encodeURIComponent(alert.id)}`).then((r) => setEvents(r.events)));
  return html`<tr data-member=${alert.id} data-device=${alert.deviceId}>
      <td title=${alert.deviceId}>${deviceName}</td><td>${say('kind', alert.kind, lang)}${alert.late ? ` (${t.late})` : ''}</td><td>${say('severity', alert.severity, lang)}</td>
      <td><span class=${`pill ${alert.state}`}>${say('state', alert.state, lang)}</span></td><td>${amount(alert.kind, alert.peak, lang)}</td><td>${when(alert.occurredAt)}</td><td>${when(alert.clearedAt)}</td>
      <td><button data-action="member-history" onClick=${toggle}>${events ? t.hideHistory : t.showHistory}</button></td>
    </tr>
    ${events ? html`<tr class="member-history"><td colspan="8"><${History} events=${events} lang=${lang} /></td></tr>` : null}`;
}

/** The alarm list: one row per incident (one condition at one place), most urgent first. */
export function IncidentsView({ board, t, lang, session }: { board: BoardState; t: Labels; lang: Lang; session: SessionInfo }) {
  const names = namesOf(board.overview);
  const [recent, setRecent] = useState<IncidentView[]>([]);
  const [selected, setSelected] = useState<string | null>(null);
  const [detail, setDetail] = useState<IncidentDetail | null>(null);
  const [signing, setSigning] = useState<SignRequest<{ incident: IncidentView }> | null>(null);
  const [version, setVersion] = useState(0);
  useEffect(() => {
    void api<IncidentList>(`/api/v1/incidents?from=${Date.now() - 7 * 86_400_000}`).then((r) => setRecent(r.incidents));
  }, [board.incidents, version]);
  useEffect(() => {
    if (!selected) return setDetail(null);
    void api<IncidentDetail>(`/api/v1/incidents/${encodeURIComponent(selected)}`).then(setDetail);
  }, [selected, board.incidents?.get(selected ?? ''), version]);

  const merged = new Map(recent.map((i) => [i.id, i]));
  for (const i of board.incidents?.values() ?? []) merged.set(i.id, i);
  const rows = [...merged.values()].sort(byUrgency(board.now));
  const mayAct = session.role !== 'viewer';
  const mayClose = session.role === 'qa' || session.role === 'admin';
  const signed = (r: { incident: IncidentView }) => {
    applyIncident(r.incident);
    setVersion((v) => v + 1);
  };
  const ask = (incident: IncidentView, action: 'ack' | 'close' | 'shelve' | 'unshelve') => (e: Event) => {
    e.stopPropagation();
    const verb = { ack: t.acknowledge, close: t.close, shelve: t.shelve, unshelve: t.unshelve }[action];
    const meaning = { ack: t.meaningAck, close: t.meaningClose, shelve: t.meaningShelve, unshelve: t.meaningUnshelve }[action];
    setSigning({
      title: `${verb}: ${incident.text[lang].title}`,
      path: `/api/v1/incidents/${encodeURIComponent(incident.id)}/${action}`,
      meaning,
      ...(action === 'shelve' ? { durations: shelfDurations(board.overview?.alarms?.maxShelveMs) } : {}),
      onSigned: signed,
    });
  };
  const buttons = (i: IncidentView) => {
    const shelved = isShelved(i, board.now);
    return html`
      ${mayAct && !i.acknowledged && (i.state === 'active' || i.state === 'cleared') ? html`<button class="primary" data-action="ack" onClick=${ask(i, 'ack')}>${t.acknowledge}</button>` : null}
      ${mayAct && !shelved && i.state !== 'closed' ? html`<button data-action="shelve" onClick=${ask(i, 'shelve')}>${t.shelve}</button>` : null}
      ${mayAct && shelved ? html`<button data-action="unshelve" onClick=${ask(i, 'unshelve')}>${t.unshelve}</button>` : null}
      ${mayClose && i.state !== 'closed' ? html`<button data-action="close" onClick=${ask(i, 'close')}>${t.close}</button>` : null}`;
  };
  const stateOf = (i: IncidentView) =>
    isShelved(i, board.now)
      ? html`<span class="pill shelved">${t.shelvedUntil} ${when(i.shelved!.until)}</span>`
      : html`<span class=${`pill ${i.state}`}>${say('state', i.state, lang)}</span>`;

  const open = detail && detail.incident.id === selected ? detail : null;
  const text = open?.incident.text[lang];
  const range = open ? (names.locationOf(open.incident.locationId)?.location.profile.temperature ?? null) : null;
  return html`<section class="alerts incidents">
    ${rows.length === 0 ? html`<p>${t.noIncidents}</p>` : null}
    <div class="scroll"><table>
      <thead><tr><th>${t.severity}</th><th>${t.incident}</th><th>${t.place}</th><th>${t.state}</th><th>${t.sensors}</th><th>${t.since}</th><th>${t.acknowledgedBy}</th><th></th></tr></thead>
      <tbody>
        ${rows.map(
          (i) => html`<tr key=${i.id} data-incident=${i.id} data-state=${i.state} data-shelved=${isShelved(i, board.now) ? 'yes' : 'no'}
              class=${`alert-row state-${i.state}${needsSomeone(i, board.now) ? ' unattended' : ''}${selected === i.id ? ' selected' : ''}`} onClick=${() => setSelected(i.id)}>
            <td><span class=${`pill severity-${i.severity}`}>${say('severity', i.severity, lang)}</span></td>
            <td class="title">${i.text[lang].title}${i.late ? html` <small>(${t.late})</small>` : null}</td>
            <td>${i.siteName} · ${i.locationName}</td>
            <td>${stateOf(i)}</td>
            <td class="num">${i.deviceIds.length}</td>
            <td>${when(i.occurredAt)}</td>
            <td>${i.acknowledged ? `${i.acknowledged.printedName}: ${i.acknowledged.comment}` : '—'}</td>
            <td class="actions">${buttons(i)}</td>
          </tr>`,
        )}
      </tbody>
    </table></div>
    ${
      open && text
        ? html`<article class="incident" data-detail=${open.incident.id}>
          <h3><span class=${`pill severity-${open.incident.severity}`}>${say('severity', open.incident.severity, lang)}</span> ${text.title} ${stateOf(open.incident)}</h3>
          <dl class="alarm-text">
            <dt>${t.what}</dt><dd>${text.what}</dd>
            <dt>${t.where}</dt><dd>${text.where}</dd>
            <dt>${t.since}</dt><dd>${text.since}</dd>
            <dt>${t.howFar}</dt><dd>${text.howFar}</dd>
            <dt>${t.action}</dt><dd class="action">${text.action}</dd>
            <dt>${t.trend}</dt><dd>${text.trend}</dd>
            ${open.incident.shelved ? html`<dt>${t.shelve}</dt><dd>${open.incident.shelved.printedName}, ${when(open.incident.shelved.at)} → ${when(open.incident.shelved.until)}: ${open.incident.shelved.reason}</dd>` : null}
          </dl>
          <h4>${t.lastHour}</h4>
          <${Lazy} load=${loadTrend} props=${{ trend: open.trend, deviceName: names.device, range, timeLabel: t.time }} />
          <h4>${t.memberAlerts} (${open.alerts.length})</h4>
          <div class="scroll"><table class="members">
            <thead><tr><th>${t.sensor}</th><th>${t.kind}</th><th>${t.severity}</th><th>${t.state}</th><th>${t.peak}</th><th>${t.occurred}</th><th>${t.cleared}</th><th></th></tr></thead>
            <tbody>${open.alerts.map((a) => html`<${MemberRow} key=${a.id} alert=${a} t=${t} lang=${lang} deviceName=${names.device(a.deviceId)} />`)}</tbody>
          </table></div>
          <h4>${t.history}</h4>
          <${History} events=${open.events} lang=${lang} />
          <div class="buttons">${buttons(open.incident)}</div>
        </article>`
        : null
    }
    ${signing ? html`<${SignDialog} request=${signing} session=${session} t=${t} lang=${lang} onDone=${() => setSigning(null)} />` : null}
  </section>`;
}
