import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { prepareScenario } from '../cli/simulate.js';
import { loadConfig } from '../core/config/load.js';
import { provisionDevices } from '../simulator/provision.js';
import { scenarioDevices } from '../simulator/render.js';
import { spawnLoadScenario } from './load-scenario.js';
import { alertProbe } from './alert-probe.js';

/**
 * The soak (issue 15, item 5): the service under a steady load for a long time, with an MQTT alert
 * follower, a probe crossing a zero-delay rule every 2 s and board clients attached (each polls the
 * overview every 5 s and keeps a live stream open), reporting per minute the service's RSS and V8
 * heap, the spool depth and the alert latency p99 of that minute. Flat memory and no growing
 * backlog are the point: the last line compares the last minutes with the first ones after warm-up.
 */
export interface SoakDeps {
  cli: string;
  configFile: string;
  start(): Promise<{ port: number; httpPort: number; pid: number; stop(): Promise<void> }>;
  probe: { id: string; token: string };
  user: { name: string; password: string };
  progress(text: string): void;
}

export interface SoakMinute {
  minute: number;
  rssMb: number;
  heapUsedMb: number;
  spoolRecords: number;
  alertP99Ms: number;
  alerts: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const percentile = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : Number.NaN;
const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
const metric = (text: string, name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'm').exec(text)?.[1] ?? Number.NaN);

export async function soak(deps: SoakDeps, minutes: number, rate: number, devices: number, boardClients: number) {
  // The load's devices registered before the service starts (what `simulate --provision` does), so none of
  // their logins is refused while a running service reloads its configuration: refused logins count against
  // the address and would lock the bench's own clients out.
  const loaded = loadConfig(deps.configFile);
  provisionDevices(loaded.file, loaded.dataDir, scenarioDevices(prepareScenario({ scenario: 'load', devices, rate }, loaded.config)));
  const service = await deps.start();
  const base = `http://127.0.0.1:${service.httpPort}`;
  const url = `mqtt://127.0.0.1:${service.port}`;
  const seconds = minutes * 60 + 30;
  deps.progress(`soak: ${minutes} min at ${rate} readings/s over ${devices} devices, ${boardClients} board clients, an alert probe every 2 s`);
  let background: ChildProcess | undefined;
  let backgroundLog = '';
  const stopping = { now: false };
  const signIn = () =>
    fetch(`${base}/api/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: deps.user.name, password: deps.user.password }),
    });
  const clients: Array<Promise<void>> = [];
  const controllers: AbortController[] = [];
  try {
    // The MQTT port opens before the HTTP API listens: wait for /healthz.
    for (let i = 0; ; i++) {
      const ok = await fetch(`${base}/healthz`)
        .then((r) => r.ok)
        .catch(() => false);
      if (ok) break;
      if (i >= 600) throw new Error(`the service's HTTP API at ${base} did not answer within 60 s`);
      await sleep(100);
    }
    const session = await signIn();
    if (!session.ok) throw new Error(`sign-in for the soak's board clients failed: HTTP ${session.status}`);
    const { token } = (await session.json()) as { token: string };
    const auth = { Authorization: `Bearer ${token}` };
    background = spawnLoadScenario({ cli: deps.cli, configFile: deps.configFile, devices, rate, seconds, broker: url });
    background.stderr!.on('data', (d: Buffer) => (backgroundLog = (backgroundLog + d).slice(-4000)));
    // Board clients: an overview poll every 5 s and one live stream each, read and dropped.
    for (let i = 0; i < boardClients; i++) {
      const controller = new AbortController();
      controllers.push(controller);
      clients.push(
        (async () => {
          const ticket = (await (await fetch(`${base}/api/v1/stream/ticket`, { method: 'POST', headers: auth })).json()) as { url: string };
          const stream = await fetch(new URL(ticket.url, base), { signal: controller.signal });
          const reader = stream.body!.getReader();
          void (async () => {
            while (!(await reader.read().catch(() => ({ done: true }))).done);
          })();
          while (!stopping.now) {
            const overview = await fetch(`${base}/api/v1/overview?hours=6`, { headers: auth, signal: controller.signal }).catch(() => undefined);
            await overview?.arrayBuffer().catch(() => undefined);
            await sleep(5000);
          }
        })().catch((err: Error) => {
          if (!stopping.now) deps.progress(`board client stopped: ${err.message}`);
        }),
      );
    }
    const { follower, probe, waiting, topic } = await alertProbe({ follower: url, probe: url }, deps.user, deps.probe);
    let ts = Date.now() - 3_600_000;
    const rows: SoakMinute[] = [];
    const started = performance.now();
    for (let minute = 1; minute <= minutes; minute++) {
      const samples: number[] = [];
      while (performance.now() - started < minute * 60_000) {
        if (background.exitCode !== null) throw new Error(`the background load stopped:\n${backgroundLog}`);
        const crossing = ts++;
        const arrived = new Promise<number>((resolve) => waiting.set(crossing, resolve));
        const sent = performance.now();
        probe.publish(topic, JSON.stringify({ ts: crossing, temperature: 9.2 }), { qos: 1 });
        const at = await Promise.race([arrived, sleep(10_000).then(() => Number.NaN)]);
        waiting.delete(crossing);
        samples.push(Number.isNaN(at) ? 10_000 : at - sent);
        await probe.publishAsync(topic, JSON.stringify({ ts: ts++, temperature: 5 }), { qos: 1 });
        await sleep(2000);
      }
      const text = await (await fetch(`${base}/metrics`, { headers: auth })).text();
      samples.sort((a, b) => a - b);
      const row = {
        minute,
        rssMb: Math.round(rssOf(service.pid) / 1_048_576),
        heapUsedMb: Math.round(metric(text, 'coldchain_process_nodejs_heap_size_used_bytes') / 1_048_576),
        spoolRecords: metric(text, 'coldchain_spool_depth_records'),
        alertP99Ms: Math.round(percentile(samples, 99) * 10) / 10,
        alerts: samples.length,
      };
      rows.push(row);
      deps.progress(
        `soak minute ${minute}/${minutes}: RSS ${row.rssMb} MB, heap ${row.heapUsedMb} MB, spool ${row.spoolRecords} records, alert p99 ${row.alertP99Ms} ms (${row.alerts} crossings)`,
      );
    }
    await probe.endAsync();
    await follower.endAsync();
    // Flat: the mean of the last third against the mean of the second third (the first is warm-up).
    const third = Math.max(1, Math.floor(rows.length / 3));
    const mean = (xs: SoakMinute[], key: 'rssMb' | 'heapUsedMb' | 'spoolRecords') => xs.reduce((s, r) => s + r[key], 0) / Math.max(1, xs.length);
    const middle = rows.slice(third, 2 * third);
    const last = rows.slice(-third);
    return {
      soak_minutes: minutes,
      soak_rate_per_s: rate,
      soak_board_clients: boardClients,
      soak_per_minute: rows,
      soak_rss_growth_ratio: Math.round((mean(last, 'rssMb') / Math.max(1, mean(middle, 'rssMb'))) * 100) / 100,
      soak_heap_growth_ratio: Math.round((mean(last, 'heapUsedMb') / Math.max(1, mean(middle, 'heapUsedMb'))) * 100) / 100,
      soak_spool_last_records: rows.at(-1)?.spoolRecords ?? Number.NaN,
      soak_alert_p99_max_ms: Math.max(...rows.map((r) => r.alertP99Ms)),
    };
  } finally {
    stopping.now = true;
    for (const c of controllers) c.abort();
    await Promise.all(clients);
    if (background) {
      const load = background;
      load.kill('SIGINT');
      await new Promise((r) => (load.exitCode !== null ? r(null) : load.once('exit', r)));
    }
    await service.stop();
  }
}
