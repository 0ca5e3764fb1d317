/** The board's side of the HTTP API: a session token from sign-in, sent as a bearer token. */
// Response types are inferred from the zod schemas of the API and of the domains it answers with:
// `import type` only, so no zod (and nothing of the server) reaches the bundle.
import type { SessionInfo } from '../../api/sessions.js';
import type { BoardSignedIn } from '../../api/board.js';
import type { CompactOverview } from '../../live/overview.js';
import type { Alert as StoredAlert } from '../../api/alerts.js';
import type { IncidentView } from '../../alerts/incident.js';
import type { AlertDetail, IncidentDetail } from '../../alerts/views.js';
import type { IncidentList } from '../../api/alerts.js';
import type { Overview as ServerOverview } from '../../live/overview.js';
import type { StreamTicket } from '../../api/stream.js';
import type { LiveAlert, LiveReading } from '../../live/hub.js';

export type { SessionInfo, IncidentView, LiveReading, AlertDetail, IncidentDetail, IncidentList };
export type { CompactOverview, DeviceView, LocationView, SiteView, Sparklines } from '../../live/overview.js';
export type { AlarmText } from '../../alerts/text.js';
/** Printed name, time and meaning of a signature (audit/signature-record.ts). */
export type { SignatureRecord as Signature } from '../../audit/signature-record.js';
/** An alert from the overview, or from the live stream with what just happened to it (`event`). */
export type Alert = StoredAlert & Partial<Pick<LiveAlert, 'event'>>;
export type Overview = ServerOverview;

const TOKEN_KEY = 'coldchain.session';

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export function savedSession(): SessionInfo | null {
  const raw = sessionStorage.getItem(TOKEN_KEY);
  if (!raw) return null;
  const session = JSON.parse(raw) as SessionInfo;
  return session.expiresAt > Date.now() ? session : null;
}

/**
 * Signs in and takes the overview in the same answer (api/board.ts): the session is kept without
 * it. The overview has at most `tiles` sensors a place (the first screen's), the rest counted.
 */
export async function signIn(user: string, password: string, tiles: number): Promise<{ session: SessionInfo; overview: CompactOverview }> {
  const response = await fetch(`/api/v1/board/sign-in?tiles=${tiles}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ user, password }),
  });
  performance.mark('sign-in answered');
  const text = await response.text();
  performance.mark('sign-in text');
  const body = JSON.parse(text) as BoardSignedIn & { message?: string };
  performance.mark('sign-in read');
  if (!response.ok) throw new ApiError(body.message ?? 'sign-in failed', response.status);
  const { overview, ...session } = body;
  sessionStorage.setItem(TOKEN_KEY, JSON.stringify(session));
  return { session, overview };
}

export async function signOut(): Promise<void> {
  const session = savedSession();
  sessionStorage.removeItem(TOKEN_KEY);
  if (session) await fetch('/api/v1/session', { method: 'DELETE', headers: { Authorization: `Bearer ${session.token}` } }).catch(() => undefined);
}

export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const session = savedSession();
  const response = await fetch(path, {
    method: init.method ?? 'GET',
    headers: { ...(session ? { Authorization: `Bearer ${session.token}` } : {}), ...(init.body ? { 'Content-Type': 'application/json' } : {}) },
    body: init.body ? JSON.stringify(init.body) : undefined,
  });
  if (response.status === 401 && !path.includes('/ack') && !path.includes('/close')) {
    sessionStorage.removeItem(TOKEN_KEY);
    location.reload();
  }
  const body = (await response.json().catch(() => ({}))) as T & { message?: string };
  if (!response.ok) throw new ApiError(body.message ?? `HTTP ${response.status}`, response.status);
  return body;
}

/** Downloads a report with the session's token (a plain link could not send it). */
export async function download(path: string, filename: string): Promise<void> {
  const session = savedSession();
  const response = await fetch(path, { headers: session ? { Authorization: `Bearer ${session.token}` } : {} });
  if (!response.ok) throw new ApiError(`download failed: HTTP ${response.status}`, response.status);
  const url = URL.createObjectURL(await response.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * Server-sent events. EventSource cannot send headers, and a token in the URL would land in logs
 * and history, so each connection first takes a one-use ticket (POST, bearer header). A ticket
 * cannot be reused, so on an error the page closes the source and reconnects with a new one.
 */
export function liveStream(
  onReading: (r: LiveReading) => void,
  onAlert: (a: Alert) => void,
  onState: (connected: boolean) => void,
  onIncident?: (i: IncidentView) => void,
): () => void {
  let source: EventSource | undefined;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  let delay = 1000;
  const connect = async () => {
    const session = savedSession();
    if (!session || closed) return;
    const response = await fetch('/api/v1/stream/ticket', { method: 'POST', headers: { Authorization: `Bearer ${session.token}` } }).catch(() => undefined);
    if (closed) return;
    // Signed out or the session expired: nothing to reconnect with.
    if (response?.status === 401) return onState(false);
    if (!response?.ok) return reconnect();
    const { ticket } = (await response.json()) as StreamTicket;
    source = new EventSource(`/api/v1/stream?ticket=${encodeURIComponent(ticket)}`);
    source.addEventListener('reading', (e) => onReading(JSON.parse((e as MessageEvent<string>).data) as LiveReading));
    source.addEventListener('alert', (e) => onAlert(JSON.parse((e as MessageEvent<string>).data) as LiveAlert));
    source.addEventListener('incident', (e) => onIncident?.(JSON.parse((e as MessageEvent<string>).data) as IncidentView));
    source.addEventListener('end', () => reconnect());
    source.onopen = () => {
      delay = 1000;
      onState(true);
    };
    source.onerror = () => reconnect();
  };
  const reconnect = () => {
    onState(false);
    source?.close();
    source = undefined;
    if (closed || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      void connect();
    }, delay);
    delay = Math.min(30_000, delay * 2);
  };
  void connect();
  return () => {
    closed = true;
    if (retry) clearTimeout(retry);
    source?.close();
  };
}
