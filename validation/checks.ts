import { accessSync, constants, existsSync } from 'node:fs';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { checkGsp } from '../core/config/compliance.js';
import type { LoadedConfig } from '../core/config/load.js';
import type { AlertList } from '../api/alerts.js';
import type { IncidentDetail } from '../alerts/views.js';
import type { IncidentView } from '../alerts/incident.js';
import type { AuditReview } from '../audit/review.js';
import type { Overview } from '../live/overview.js';
import type { ReadingsResponse, RejectsResponse } from '../api/readings.js';
import type { GspRecord } from '../reports/schema.js';
import type { RequirementId } from './requirements.js';

const MIN = 60_000;

/** Everything a run needs: where the deployment is, its credentials, the installation's configuration. */
export interface ValidationContext {
  url: string;
  mqttUrl: string;
  apiToken: string;
  device: { id: string; token: string };
  signer: { user: string; password: string };
  /** The installation's configuration, or why it could not be read. */
  config: LoadedConfig | Error;
  runId: string;
  /** How long to wait for each asynchronous outcome (stored, alarmed, notified). */
  waitMs: number;
}

/** What the run learned on the way, shared by later checks. */
export interface RunFacts {
  versions: { coldchain?: string; commit?: string; nodeValidator: string; nodeService?: string; influxd?: string };
  health?: { components: Record<string, { ready: boolean; url?: string; managed?: boolean }> };
  place?: { siteId: string; siteName: string; locationId: string; locationName: string; min: number; max: number };
  startedAt: number;
  seriesStart?: number;
  alertId?: string;
  incidentId?: string;
  mqtt?: MqttClient;
  downlink: Array<{ rejected: Array<{ reason: string; message: string }> }>;
}

export interface CheckResult {
  /** null: not run, because a check it depends on failed. */
  ok: boolean | null;
  evidence: string;
}

export interface Check {
  id: string;
  stage: 'IQ' | 'OQ';
  en: string;
  zh: string;
  requirements: RequirementId[];
  /** Checks that must pass first (the validation place, the alarm). */
  needs?: string[];
  run(ctx: ValidationContext, facts: RunFacts): Promise<CheckResult>;
}

class CheckFailed extends Error {}
const fail = (message: string): never => {
  throw new CheckFailed(message);
};
export const isCheckFailure = (err: unknown): err is Error => err instanceof CheckFailed;

/** An API answer: JSON (typed where it is used) or text; errors carry the service's message. */
type Answer = { message?: string; [key: string]: unknown } | undefined;

async function api(ctx: ValidationContext, route: string, init: RequestInit & { token?: string | null } = {}): Promise<{ status: number; body: Answer }> {
  const token = init.token === undefined ? ctx.apiToken : init.token;
  const headers: Record<string, string> = { 'User-Agent': 'coldchain-validate' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (init.body) headers['Content-Type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(new URL(route, ctx.url), { ...init, headers, signal: AbortSignal.timeout(30_000) });
  } catch (err) {
    return fail(`${route}: the service is not reachable (${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message})`);
  }
  const text = await response.text();
  let body: Answer;
  try {
    body = JSON.parse(text);
  } catch {
    body = { text }; // not JSON (Prometheus text, say)
  }
  return { status: response.status, body };
}

/** An API answer that must be 200; anything else fails the check with the service's words. */
async function ok<T>(ctx: ValidationContext, route: string, init: RequestInit = {}): Promise<T> {
  const answer = await api(ctx, route, init);
  if (answer.status !== 200) fail(`${route}: HTTP ${answer.status} ${answer.body?.message ?? ''}`.trim());
  return answer.body as T;
}

/** Polls until `probe` gives a value, or fails with `what` after the run's wait. */
async function until<T>(ctx: ValidationContext, what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ctx.waitMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) return fail(`${what}: not within ${ctx.waitMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

interface Health {
  httpStatus: number;
  status?: string;
  components: Record<string, { ready: boolean; url?: string; managed?: boolean }>;
}
/** `/healthz` (open, no token): the components and, for InfluxDB, where it is and whether the service runs it. */
async function health(ctx: ValidationContext): Promise<Health> {
  const answer = await api(ctx, '/healthz', { token: null });
  const body = answer.body as Partial<Health> | undefined;
  return { httpStatus: answer.status, status: body?.status, components: body?.components ?? {} };
}

const config = (ctx: ValidationContext): LoadedConfig => (ctx.config instanceof Error ? fail(ctx.config.message) : ctx.config);

const signatureComment = (ctx: ValidationContext) =>
  `coldchain validate ${ctx.runId}: operational qualification test alarm at the validation place; no goods involved`;

async function publish(facts: RunFacts, ctx: ValidationContext, payload: unknown): Promise<void> {
  // QoS 1: the promise resolves on PUBACK, which the service sends once the reading is on disk.
  await facts.mqtt!.publishAsync(`cc/v1/${ctx.device.id}/telemetry`, JSON.stringify(payload), { qos: 1 });
}

async function readingsAround(ctx: ValidationContext, from: number, to: number): Promise<Array<{ ts: number; temperature: number; humidity?: number }>> {
  const body = await ok<ReadingsResponse>(ctx, `/api/v1/devices/${encodeURIComponent(ctx.device.id)}/readings?from=${from}&to=${to}`);
  return body.readings as Array<{ ts: number; temperature: number; humidity?: number }>;
}

export const CHECKS: Check[] = [
  {
    id: 'IQ-01',
    stage: 'IQ',
    en: 'Software versions are recorded (coldchain, git commit, Node.js, InfluxDB)',
    zh: '记录软件版本（coldchain、git 提交、Node.js、InfluxDB）',
    requirements: ['CFR-11.10(a)'],
    async run(ctx, facts) {
      const metrics = await api(ctx, '/metrics');
      if (metrics.status === 200) facts.versions.nodeService = /nodejs_version_info\{version="([^"]+)"/.exec(String(metrics.body?.text))?.[1];
      const influx = (await health(ctx)).components.influxdb;
      if (influx?.url) {
        const ping = await fetch(new URL('/ping', influx.url), { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
        facts.versions.influxd = ping?.headers.get('x-influxdb-version') ?? undefined;
      }
      const v = facts.versions;
      const evidence = `coldchain ${v.coldchain ?? '?'} (commit ${v.commit ?? 'unknown'}); Node.js ${v.nodeService ?? '?'} (service), ${v.nodeValidator} (this run); InfluxDB ${v.influxd ?? '?'}`;
      const missing = [!v.coldchain && 'coldchain', !v.nodeService && 'the service’s Node.js (GET /metrics)', !v.influxd && 'InfluxDB (its /ping)'].filter(
        Boolean,
      );
      return missing.length ? { ok: false, evidence: `${evidence}; not determined: ${missing.join(', ')}` } : { ok: true, evidence };
    },
  },
  {
    id: 'IQ-02',
    stage: 'IQ',
    en: 'The service runs and every component is ready (/healthz)',
    zh: '服务运行，各组件就绪（/healthz）',
    requirements: ['CFR-11.10(a)'],
    async run(ctx, facts) {
      const answer = await health(ctx);
      facts.health = { components: answer.components };
      const states = Object.entries(answer.components).map(([name, c]) => `${name} ${c.ready ? 'ready' : 'NOT READY'}`);
      return { ok: answer.httpStatus === 200 && answer.status === 'ok', evidence: `HTTP ${answer.httpStatus}: ${states.join(', ') || 'no components'}` };
    },
  },
  {
    id: 'IQ-03',
    stage: 'IQ',
    en: 'The configuration meets GSP (coldchain check: no errors)',
    zh: '配置符合 GSP（coldchain check 无错误）',
    requirements: ['GSP-SENSORS', 'GSP-ALARM-SMS', 'GSP-RETENTION'],
    async run(ctx) {
      const loaded = config(ctx);
      const findings = checkGsp(loaded.config);
      const errors = findings.filter((f) => f.level === 'error');
      const warnings = findings.filter((f) => f.level === 'warning');
      const list = (items: typeof findings) => items.map((f) => f.message).join('; ');
      return {
        ok: errors.length === 0,
        evidence: `${loaded.file}: ${errors.length} errors${errors.length ? ` (${list(errors)})` : ''}, ${warnings.length} warnings${warnings.length ? ` (${list(warnings)})` : ''}; retention ${Math.round(loaded.config.influx.retention / 86_400_000)} d`,
      };
    },
  },
  {
    id: 'IQ-04',
    stage: 'IQ',
    en: 'InfluxDB refuses access without credentials',
    zh: 'InfluxDB 拒绝无凭据访问',
    requirements: ['GSP-IMMUTABLE', 'CFR-11.10(c)', 'CFR-11.10(d)'],
    async run(ctx, facts) {
      const influx = facts.health?.components.influxdb ?? (await health(ctx)).components.influxdb;
      if (!influx?.url) return fail('the service does not name its InfluxDB in /healthz');
      const probe = new URL('/query', influx.url);
      probe.searchParams.set('q', 'SHOW DATABASES');
      let status: number;
      try {
        status = (await fetch(probe, { signal: AbortSignal.timeout(5000) })).status;
      } catch (err) {
        return fail(
          `InfluxDB at ${influx.url} is not reachable from this host (${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message}): run coldchain validate on the service's host`,
        );
      }
      const which = influx.managed ? 'the managed influxd' : 'the external InfluxDB';
      if (status === 401 || status === 403) return { ok: true, evidence: `${which} at ${influx.url}: a query without credentials is refused (HTTP ${status})` };
      return { ok: false, evidence: `${which} at ${influx.url} answers a query without credentials (HTTP ${status}): anyone who reaches it can alter records` };
    },
  },
  {
    id: 'IQ-05',
    stage: 'IQ',
    en: 'The daily backup is configured and its directory writable',
    zh: '已配置每日备份，备份目录可写',
    requirements: ['GSP-BACKUP', 'CFR-11.10(c)'],
    async run(ctx) {
      const loaded = config(ctx);
      const backup = loaded.config.backup;
      if (!backup.enabled) return { ok: false, evidence: `backup.enabled is false in ${loaded.file}` };
      const dir = path.resolve(path.dirname(loaded.file), backup.dir);
      const existing = existsSync(dir) ? dir : path.dirname(dir);
      try {
        accessSync(existing, constants.W_OK);
      } catch {
        return { ok: false, evidence: `daily at ${backup.at}, into ${dir}: ${existing} is not writable` };
      }
      return {
        ok: true,
        evidence: `daily at ${backup.at} (local time), into ${dir}${existing === dir ? '' : ' (made at the first backup)'}, keeping ${backup.keep}`,
      };
    },
  },
  {
    id: 'IQ-06',
    stage: 'IQ',
    en: 'The audit trail verifies (hash chain)',
    zh: '审计追踪校验通过（哈希链）',
    requirements: ['CFR-11.10(e)'],
    async run(ctx) {
      const v = (await ok<AuditReview>(ctx, '/api/v1/audit?limit=1')).verified;
      return { ok: v.ok, evidence: v.ok ? `${v.entries} entries, chain intact` : `chain broken: ${v.problem}` };
    },
  },
  {
    id: 'OQ-01',
    stage: 'OQ',
    en: 'The API refuses requests without a valid token',
    zh: 'API 拒绝无有效令牌的请求',
    requirements: ['CFR-11.10(d)'],
    async run(ctx) {
      const none = await api(ctx, '/api/v1/alerts', { token: null });
      const wrong = await api(ctx, '/api/v1/alerts', { token: `api_${'0'.repeat(43)}` });
      const refused = none.status === 401 && wrong.status === 401;
      return { ok: refused, evidence: `no token: HTTP ${none.status}; an unknown token: HTTP ${wrong.status} (expected 401 for both)` };
    },
  },
  {
    id: 'OQ-02',
    stage: 'OQ',
    en: 'The validation device is alone at a dedicated validation place',
    zh: '验证设备单独位于专用验证位置',
    requirements: ['CFR-11.10(a)'],
    async run(ctx, facts) {
      const overview = await ok<Overview>(ctx, '/api/v1/overview?hours=1');
      for (const site of overview.sites)
        for (const location of site.locations) {
          if (!location.devices.some((d) => d.id === ctx.device.id)) continue;
          const others = location.devices.filter((d) => d.id !== ctx.device.id).map((d) => d.id);
          facts.place = {
            siteId: site.id,
            siteName: site.name,
            locationId: location.id,
            locationName: location.name,
            min: location.profile.temperature.min,
            max: location.profile.temperature.max,
          };
          if (others.length)
            return fail(
              `${location.name} (${location.id}) also has ${others.join(', ')}: the test alarm would enter a real record; give the validation device a place of its own`,
            );
          return {
            ok: true,
            evidence: `device ${ctx.device.id} at ${site.name} / ${location.name} (${location.id}), range ${location.profile.temperature.min}…${location.profile.temperature.max} °C, no other sensor`,
          };
        }
      return fail(`device ${ctx.device.id} is not at any place the service knows (coldchain device add ${ctx.device.id} --location <validation place>)`);
    },
  },
  {
    id: 'OQ-03',
    stage: 'OQ',
    en: 'A reading published over MQTT is acknowledged and stored (read back through the API)',
    zh: '通过 MQTT 发布的读数被确认并存储（经 API 读回）',
    requirements: ['GSP-RECORD', 'CFR-11.10(c)', 'CFR-11.10(h)'],
    needs: ['OQ-02'],
    async run(ctx, facts) {
      const place = facts.place!;
      try {
        facts.mqtt = await mqtt.connectAsync(ctx.mqttUrl, {
          username: ctx.device.id,
          password: ctx.device.token,
          clientId: `${ctx.device.id}-validate-${ctx.runId.slice(-6)}`,
          reconnectPeriod: 0,
          connectTimeout: 10_000,
        });
      } catch (err) {
        return fail(`MQTT connection as ${ctx.device.id} to ${ctx.mqttUrl} refused: ${(err as Error).message}`);
      }
      facts.mqtt.on('message', (_topic, payload) => {
        try {
          facts.downlink.push(JSON.parse(payload.toString()));
        } catch {
          // not ours to judge
        }
      });
      await facts.mqtt.subscribeAsync(`cc/v1/${ctx.device.id}/downlink/#`, { qos: 1 });
      const ts = facts.startedAt - 28 * MIN;
      const temperature = Math.round(((place.min + place.max) / 2) * 10) / 10;
      const sent = Date.now();
      await publish(facts, ctx, { ts, temperature, humidity: 50 });
      const ackMs = Date.now() - sent;
      const stored = await until(ctx, 'the reading read back through the API', async () => (await readingsAround(ctx, ts, ts + 1)).find((r) => r.ts === ts));
      const same = stored.temperature === temperature && stored.humidity === 50;
      return {
        ok: same,
        evidence: `published ${temperature} °C / 50 %RH at ${new Date(ts).toISOString()} (QoS 1, PUBACK after ${ackMs} ms); read back ${stored.temperature} °C / ${stored.humidity} %RH`,
      };
    },
  },
  {
    id: 'OQ-04',
    stage: 'OQ',
    en: 'A bad reading is refused with its reason and not stored',
    zh: '异常读数被拒收并说明原因，不存储',
    requirements: ['CFR-11.10(h)', 'GSP-IMMUTABLE'],
    needs: ['OQ-03'],
    async run(ctx, facts) {
      const ts = facts.startedAt - 27 * MIN;
      await publish(facts, ctx, { ts, temperature: 999 });
      const explained = await until(ctx, 'the refusal on the device downlink', async () =>
        facts.downlink.flatMap((d) => d.rejected ?? []).find((r) => r.reason === 'impossible_value'),
      );
      const quarantined = await until(ctx, 'the quarantine record (GET /api/v1/rejects)', async () => {
        const body = await ok<RejectsResponse>(
          ctx,
          `/api/v1/rejects?device=${encodeURIComponent(ctx.device.id)}&reason=impossible_value&from=${facts.startedAt - 1000}`,
        );
        return body.rejects[0];
      });
      const stored = (await readingsAround(ctx, ts, ts + 1)).filter((r) => r.ts === ts);
      return {
        ok: stored.length === 0,
        evidence: `999 °C refused: "${explained.message}" (downlink), quarantined as ${quarantined.reason}; readings stored at that time: ${stored.length}`,
      };
    },
  },
  {
    id: 'OQ-05',
    stage: 'OQ',
    en: 'An out-of-range series raises an alarm',
    zh: '超出范围的数据序列触发报警',
    requirements: ['GSP-ALARM'],
    needs: ['OQ-03'],
    async run(ctx, facts) {
      const place = facts.place!;
      const hot = place.max + 3;
      facts.seriesStart = facts.startedAt - 26 * MIN;
      // 25 minutes above the range on device time, as a store-and-forward batch: past any usual activation delay.
      const series = Array.from({ length: 25 }, (_, i) => ({ ts: facts.seriesStart! + i * MIN, temperature: hot, humidity: 50 }));
      await publish(facts, ctx, series);
      const alert = await until(ctx, `a temperature alarm at ${place.locationName}`, async () => {
        const body = await ok<AlertList>(ctx, `/api/v1/alerts?site=${encodeURIComponent(place.siteId)}&from=${facts.seriesStart! - 1}`);
        return body.alerts.find((a) => a.deviceId === ctx.device.id && a.kind === 'temperature_high' && a.state !== 'pending');
      });
      facts.alertId = alert.id;
      facts.incidentId = alert.incidentId ?? undefined;
      if (!alert.incidentId) return fail(`alert ${alert.id} belongs to no incident`);
      return {
        ok: true,
        evidence: `${hot} °C for 25 min → alert ${alert.id} (${alert.state}, above ${alert.threshold} °C, peak ${alert.peak} °C), incident ${alert.incidentId}`,
      };
    },
  },
  {
    id: 'OQ-06',
    stage: 'OQ',
    en: 'The alarm is sent to the designated recipients',
    zh: '报警发送给指定接收人',
    requirements: ['GSP-ALARM-NOTIFY'],
    needs: ['OQ-05'],
    async run(ctx, facts) {
      const events = await until(ctx, 'a notification of the incident', async () => {
        const { events } = await ok<IncidentDetail>(ctx, `/api/v1/incidents/${encodeURIComponent(facts.incidentId!)}`);
        return events.some((e) => e.event === 'notified' || e.event === 'notification_failed') ? events : undefined;
      });
      const sent = events.filter((e) => e.event === 'notified');
      const failed = events.filter((e) => e.event === 'notification_failed');
      const line = (e: (typeof events)[number]) => `${e.channel ?? ''} ${e.recipient ?? ''}: ${e.outcome ?? ''}`.trim();
      return {
        ok: sent.length > 0 && failed.length === 0,
        evidence: `${sent.length} delivered (${sent.map(line).join('; ')})${failed.length ? `; ${failed.length} FAILED (${failed.map(line).join('; ')})` : ''}`,
      };
    },
  },
  {
    id: 'OQ-07',
    stage: 'OQ',
    en: 'Acknowledging and closing the alarm need an electronic signature (name, password, meaning)',
    zh: '确认和关闭报警需要电子签名（用户名、密码、含义）',
    requirements: ['CFR-11.10(g)', 'CFR-11.50', 'CFR-11.200(a)'],
    needs: ['OQ-05'],
    async run(ctx, facts) {
      const route = (action: string) => `/api/v1/incidents/${encodeURIComponent(facts.incidentId!)}/${action}`;
      const comment = signatureComment(ctx);
      // Without the password: refused before any signer is looked up (so it never counts towards a lockout).
      const unsigned = await api(ctx, route('ack'), { method: 'POST', body: JSON.stringify({ user: ctx.signer.user, meaning: 'acknowledged', comment }) });
      if (unsigned.status !== 400) return fail(`an acknowledgement without a password was answered HTTP ${unsigned.status}, not refused`);
      const signed = await api(ctx, route('ack'), {
        method: 'POST',
        body: JSON.stringify({ user: ctx.signer.user, password: ctx.signer.password, meaning: 'acknowledged (validation)', comment }),
      });
      if (signed.status !== 200)
        return fail(`the signed acknowledgement by ${ctx.signer.user} was refused: HTTP ${signed.status} ${signed.body?.message ?? ''}`);
      const ack = (signed.body as { incident: IncidentView }).incident.acknowledged;
      if (!ack?.printedName || !ack.at || !ack.meaning) return fail('the acknowledgement does not show printed name, time and meaning');
      // Back in range, so the incident clears and can be closed: nothing of the run stays open.
      const place = facts.place!;
      await publish(facts, ctx, { ts: Date.now() - 1000, temperature: Math.round(((place.min + place.max) / 2) * 10) / 10, humidity: 50 });
      await until(ctx, 'the incident clearing after an in-range reading', async () => {
        const body = await ok<IncidentDetail>(ctx, `/api/v1/incidents/${encodeURIComponent(facts.incidentId!)}`);
        return body.incident.state === 'cleared' ? true : undefined;
      });
      const closed = await api(ctx, route('close'), {
        method: 'POST',
        body: JSON.stringify({ user: ctx.signer.user, password: ctx.signer.password, meaning: 'closed after review (validation)', comment }),
      });
      if (closed.status !== 200) return fail(`closing by ${ctx.signer.user} was refused: HTTP ${closed.status} ${closed.body?.message ?? ''}`);
      return {
        ok: true,
        evidence: `without a password: HTTP 400 (${unsigned.body?.message ?? 'refused'}); signed by ${ack.printedName} at ${new Date(ack.at).toISOString()}, meaning "${ack.meaning}"; cleared, then closed with a second signature`,
      };
    },
  },
  {
    id: 'OQ-08',
    stage: 'OQ',
    en: 'The GSP record of the validation place renders as JSON and PDF with a digest',
    zh: '验证位置的 GSP 温湿度记录可生成 JSON 和 PDF，并带摘要',
    requirements: ['CFR-11.10(b)', 'GSP-RECORD'],
    needs: ['OQ-03'],
    async run(ctx, facts) {
      const place = facts.place!;
      const window = `from=${facts.startedAt - 30 * MIN}&to=${Date.now()}`;
      const record = await ok<GspRecord>(ctx, `/api/v1/locations/${encodeURIComponent(place.locationId)}/record?${window}&format=json`);
      const digest = record.digest;
      if (!/^[0-9a-f]{64}$/.test(digest?.value ?? '')) return fail('the record has no SHA-256 digest');
      const pdf = await fetch(new URL(`/api/v1/locations/${encodeURIComponent(place.locationId)}/record?${window}&format=pdf`, ctx.url), {
        headers: { Authorization: `Bearer ${ctx.apiToken}` },
      });
      const bytes = Buffer.from(await pdf.arrayBuffer());
      const isPdf = pdf.status === 200 && bytes.subarray(0, 5).toString() === '%PDF-';
      return {
        ok: isPdf && digest.readings > 0,
        evidence: `${digest.readings} readings, ${digest.algorithm} ${digest.value}; PDF ${isPdf ? `${bytes.length} bytes` : `not rendered (HTTP ${pdf.status})`}`,
      };
    },
  },
  {
    id: 'OQ-09',
    stage: 'OQ',
    en: 'The audit trail records this run’s signatures and still verifies',
    zh: '审计追踪记录本次签名，且仍校验通过',
    requirements: ['CFR-11.10(e)'],
    needs: ['OQ-07'],
    async run(ctx, facts) {
      const body = await ok<AuditReview>(ctx, `/api/v1/audit?from=${facts.startedAt - 1000}&limit=500`);
      const entries = body.entries.filter((e) => e.details.comment === signatureComment(ctx));
      const actions = new Set(entries.map((e) => e.action));
      const wanted = ['incident.acknowledge', 'incident.close'];
      const missing = wanted.filter((a) => !actions.has(a));
      const verified = body.verified;
      return {
        ok: missing.length === 0 && verified.ok,
        evidence: `${entries.map((e) => `#${e.seq} ${e.at} ${e.actor} ${e.action}`).join('; ')}${missing.length ? `; MISSING ${missing.join(', ')}` : ''}; chain ${verified.ok ? `intact (${verified.entries} entries)` : `broken: ${verified.problem}`}`,
      };
    },
  },
];
