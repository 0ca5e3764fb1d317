/**
 * `npm run bench`: the ingest benchmark. Every figure is measured in this run next to an anchor
 * measured on the same machine in the same run (Mosquitto pass-through, raw InfluxDB writes), and
 * the last line of stdout is one JSON object with the figures and ratios.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { stringify } from 'yaml';
import { createLogger } from '../core/logger.js';
import { generateToken, hashPassword, hashToken } from '../core/secrets.js';
import { InfluxClient, compactionsActive } from '../storage/influx.js';
import { ManagedInfluxd, freePort, influxdVersion } from '../storage/influxd.js';
import { SAMPLE_CONFIG } from '../cli/sample-config.js';
import { startMosquitto } from './mosquitto.js';
import { own } from './children.js';
import { haproxyConfig } from './haproxy.js';
import { loadConfig } from '../core/config/load.js';
import { startService } from '../app/service.js';
import type { LoadPlan, LoadResult } from './loadgen.js';
import { alarmQualityFigures } from './alarms.js';
import { soak } from './soak.js';
import { spawnLoadScenario } from './load-scenario.js';
import { alertProbe } from './alert-probe.js';
import { prepareScenario } from '../cli/simulate.js';
import { provisionDevices } from '../simulator/provision.js';
import { scenarioDevices } from '../simulator/render.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(here, '..', 'cli', 'main.js');
const LOADGEN = path.join(here, 'loadgen.js');

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const SIZES = {
  devices: env('BENCH_DEVICES', 100),
  messagesPerDevice: env('BENCH_MESSAGES_PER_DEVICE', 1500),
  window: env('BENCH_WINDOW', 20),
  batchDevices: env('BENCH_BATCH_DEVICES', 20),
  batchMessagesPerDevice: env('BENCH_BATCH_MESSAGES_PER_DEVICE', 250),
  idleConnections: env('BENCH_IDLE_CONNECTIONS', 2000),
  rawPoints: env('BENCH_RAW_POINTS', 400_000),
  simulatedDevices: env('BENCH_SIMULATED_DEVICES', 200),
  simulatedRate: env('BENCH_SIMULATED_RATE', 10_000),
  alertProbes: env('BENCH_ALERT_PROBES', 2000),
  clusterAlertProbes: env('BENCH_CLUSTER_ALERT_PROBES', 200),
};
const ROUNDS = env('BENCH_ROUNDS', 3);
/** Between one probe crossing's reading back in range and the next crossing. */
const ALERT_PROBE_PAUSE_MS = env('BENCH_ALERT_PAUSE_MS', 10);
/**
 * The service runs as `coldchain` does (see cli/main.ts's first line and npm start): a 32 MB young
 * generation, which on this workload cut garbage collection enough for +12 % e2e throughput and
 * half the alert latency p99. BENCH_NODE_FLAGS replaces them for experiments.
 */
const SERVICE_NODE_FLAGS = (process.env.BENCH_NODE_FLAGS ?? '--max-semi-space-size=32').split(' ').filter(Boolean);
/**
 * Idle memory is measured as a difference between two populations of connections: the first
 * IDLE_WARMUP connections let the heap's spaces (young generation, socket pools) reach their
 * working size, so the slope over the next ones is what one more connection costs.
 */
const IDLE_WARMUP = env('BENCH_IDLE_WARMUP', 1000);

const progress = (text: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${text}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU seconds (user + system) a process has used: per reading, a figure the shared machine's load moves far less than throughput. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

/** Forks the load generator, connects its devices, and returns a trigger that runs the plan. */
async function prepareLoad(plan: LoadPlan): Promise<{ go(): Promise<LoadResult>; child: ChildProcess }> {
  const child = own(fork(LOADGEN, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`load generator exited with ${code} while connecting`)));
    child.send({ plan });
  });
  return {
    child,
    go: () =>
      new Promise<LoadResult>((resolve, reject) => {
        child.once('message', (message: { result: LoadResult }) => resolve(message.result));
        child.once('exit', (code) => code !== 0 && reject(new Error(`load generator exited with ${code}`)));
        child.send({ go: true });
      }),
  };
}

/** Connections that only connect and stay (idle memory): the load generator sends nothing on them. */
const idleConnections = (url: string, devices: LoadPlan['devices']) =>
  prepareLoad({ url, devices, messagesPerDevice: 0, qos: 1, maxBatch: 1, window: 1, firstTs: 0, idle: true });

async function countPoints(influx: InfluxClient): Promise<number> {
  const series = await influx.query('SELECT count("temperature") FROM "readings"').catch(() => []);
  return Number(series[0]?.values[0]?.[1] ?? 0);
}

/** Polls InfluxDB until `expected` points are there; returns seconds since `startedAt`. */
async function untilStored(influx: InfluxClient, expected: number, startedAt: number, label: string): Promise<number> {
  const deadline = Date.now() + 300_000;
  let last = -1;
  for (;;) {
    const count = await countPoints(influx);
    if (count >= expected) return (performance.now() - startedAt) / 1000;
    if (Date.now() > deadline) throw new Error(`${label}: only ${count} of ${expected} points reached InfluxDB within 300 s`);
    if (count !== last) progress(`${label}: ${count}/${expected} points in InfluxDB`);
    last = count;
    await sleep(count > expected * 0.9 ? 20 : 250);
  }
}

/**
 * Waits until influxd compacts nothing (two looks in a row, 200 ms apart; at most 90 s): a stage
 * that measures latency starts on a quiet InfluxDB, not beside the compactions of the points the
 * stages before wrote (450,000 in e2e alone). Returns how many seconds it waited.
 */
async function compactionsSettled(influxUrl: string): Promise<number> {
  const influx = new InfluxClient({ url: influxUrl, database: 'bench' });
  const started = performance.now();
  const deadline = Date.now() + 90_000;
  for (let quiet = 0; quiet < 2 && Date.now() < deadline; ) {
    const active = await compactionsActive(influx).catch(() => 0);
    quiet = active === 0 ? quiet + 1 : 0;
    if (quiet < 2) await sleep(200);
  }
  return (performance.now() - started) / 1000;
}

interface Workspace {
  dir: string;
  configFile: string;
  loadDevices: Array<{ id: string; token: string }>;
  batchDevices: Array<{ id: string; token: string }>;
  idleDevices: Array<{ id: string; token: string }>;
  probe: { id: string; token: string };
}

const PROBE_PASSWORD = 'bench-follower-password';

async function makeWorkspace(): Promise<Workspace> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cc-bench-'));
  const make = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${i}`, token: generateToken('dev') }));
  const loadDevices = make('bench', SIZES.devices);
  const batchDevices = make('batch', SIZES.batchDevices);
  const idleDevices = make('idle', SIZES.idleConnections + IDLE_WARMUP);
  const probe = { id: 'probe-0', token: generateToken('dev') };
  const devices = [...loadDevices, ...batchDevices, ...idleDevices, probe].map((d) => ({
    id: d.id,
    location: 'dc-sh-cold-room-1',
    interval: '60s',
    tokenHash: hashToken(d.token),
  }));
  const users = [{ name: 'bench', fullName: 'Benchmark follower', role: 'operator', passwordHash: await hashPassword(PROBE_PASSWORD) }];
  const configFile = path.join(dir, 'coldchain.yaml');
  writeFileSync(configFile, benchConfig(devices, users));
  return { dir, configFile, loadDevices, batchDevices, idleDevices, probe };
}

/** The sample configuration with the bench's devices and user, limits opened for load, and what would disturb a measurement off. */
function benchConfig(devices: Array<Record<string, unknown>>, users: Array<Record<string, unknown>>): string {
  return (
    SAMPLE_CONFIG.replace(/ratePerDevice: \d+/, 'ratePerDevice: 1000000')
      .replace(/rateBurst: \d+/, 'rateBurst: 1000000')
      .replace('maxBatchReadings: 5000', 'maxBatchReadings: 10000')
      // Zero-delay rule for the latency probe; load devices report every few ms, so silence is judged on many intervals.
      .replace(
        '    temperature: { min: 2, max: 8 }\n    humidity: { min: 35, max: 75 }',
        '    temperature: { min: 2, max: 8 }\n    humidity: { min: 35, max: 75 }\n    alerts: { activationDelay: 0s, warningBand: 0, silentAfterIntervals: 1000 }',
      )
      // Each probe crossing must be an alarm of its own to be timed: no folding of a rule that breaks again.
      .replace(/ {2}foldWindow: 30m/, '  foldWindow: 0s')
      // …and an incident of its own: merged, the probe's incident gained a member per crossing and every
      // incident event (published, spooled, streamed) carried all of them, 2,000 by the end of the stage.
      .replace(/ {2}incidentMerge: 30m/, '  incidentMerge: 0s')
      // The daily backup is due at start after 02:30 (no backup on record yet): it exported the
      // bench's own database, gzip and InfluxDB queries, during the measured load, but only on runs
      // started after 02:30 UTC. Not what a throughput figure is about.
      .replace('backup:\n  enabled: true', 'backup:\n  enabled: false')
      .replace('devices: []', stringify({ devices }).trimEnd())
      .replace('users: []', stringify({ users }).trimEnd())
  );
}

async function startOurService(
  ws: Workspace,
  influxUrl: string,
  database: string,
  extraArgs: string[] = [],
  dataDir = path.join(ws.dir, `data-${database}`),
  cli = CLI,
  configFile = ws.configFile,
): Promise<{ port: number; httpPort: number; pid: number; stop(): Promise<void> }> {
  const port = await freePort();
  const httpPort = await freePort();
  const child = own(
    spawn(
      process.execPath,
      [
        ...SERVICE_NODE_FLAGS,
        ...(process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROFILE] : []),
        ...(process.env.BENCH_DIAG ? ['--import', path.join(here, 'diag.js')] : []),
        cli,
        'start',
        '--config',
        configFile,
        '--data-dir',
        dataDir,
        '--mqtt-port',
        String(port),
        '--http-port',
        String(httpPort),
        '--influx-url',
        influxUrl,
        '--influx-db',
        database,
        ...extraArgs,
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, COLDCHAIN_LOG_LEVEL: 'warn' },
      },
    ),
  );
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => (log = (log + chunk).slice(-20_000)));
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      // GSP findings about the bench's own configuration (its sensors have no calibration on file) are not faults of the run.
      const faults = log.split('\n').filter((line) => (line.includes('"level":50') || line.includes('"level":60')) && !line.includes('"msg":"GSP: '));
      if (faults.length) reject(new Error(`service logged an error:\n${log}`));
    }, 100);
    const poll = setInterval(async () => {
      const ok = await new Promise<boolean>((r) => {
        const socket = require_connect(port);
        socket.once('connect', () => (socket.destroy(), r(true)));
        socket.once('error', () => r(false));
      });
      if (ok) {
        clearInterval(poll);
        clearInterval(timer);
        resolve();
      }
    }, 100);
    child.once('exit', (code) => {
      clearInterval(poll);
      clearInterval(timer);
      reject(new Error(`service exited with ${code}:\n${log}`));
    });
  });
  let stopping = false;
  // A service that ends during a stage (a crash, a signal from elsewhere) is said at once, with its log.
  child.once('exit', (code, signal) => {
    if (!stopping) progress(`service (${database}) exited during the stage: code ${code}, signal ${signal}; its log ends:\n${log.slice(-4000)}`);
  });
  return {
    port,
    httpPort,
    pid: child.pid!,
    async stop() {
      stopping = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

import { connect } from 'node:net';
import { reportBenchmark } from './reports.js';
import { boardBenchmark } from './board.js';

/**
 * The board against our service, signed in as the bench's registry user, at fleet size (issue 15,
 * item 4): BENCH_BOARD_DEVICES (2,000) sensors, each with 6 hours of readings in InfluxDB (one
 * every 5 minutes: last readings and sparklines to draw) before the service starts.
 */
async function boardStage(ws: Workspace, influxUrl: string) {
  const count = env('BENCH_BOARD_DEVICES', 2000);
  const devices = Array.from({ length: count }, (_, i) => ({
    id: `board-${i}`,
    location: 'dc-sh-cold-room-1',
    interval: '5m',
    tokenHash: hashToken(generateToken('dev')),
  }));
  const users = [{ name: 'bench', fullName: 'Benchmark follower', role: 'operator', passwordHash: await hashPassword(PROBE_PASSWORD) }];
  const configFile = path.join(ws.dir, 'coldchain-board.yaml');
  writeFileSync(configFile, benchConfig(devices, users));
  const influx = new InfluxClient({ url: influxUrl, database: 'bench_board' });
  await influx.ensureDatabase(1830 * 86_400_000);
  const now = Date.now();
  const perDevice = 72;
  for (let from = 0; from < count; from += 200) {
    let body = '';
    for (let d = from; d < Math.min(count, from + 200); d++)
      for (let k = 0; k < perDevice; k++) {
        const ts = now - (perDevice - k) * 300_000;
        body += `readings,deviceId=board-${d},locationId=dc-sh-cold-room-1,siteId=dc-shanghai temperature=${(4 + ((d + k) % 30) / 10).toFixed(1)},humidity=55.2,receivedAt=${ts + 800}i ${ts}000000\n`;
      }
    await influx.write(body);
  }
  await untilStored(influx, count * perDevice, performance.now(), 'board readings');
  // The page timings (ours and the plain page's) are taken on a quiet InfluxDB, not beside the compaction of what was just written.
  const settled = await compactionsSettled(influxUrl);
  if (settled > 1) progress(`board: waited ${settled.toFixed(1)} s for InfluxDB's compactions`);
  const service = await startOurService(ws, influxUrl, 'bench_board', [], undefined, CLI, configFile);
  try {
    const figures = await boardBenchmark(`http://127.0.0.1:${service.httpPort}/`, { user: 'bench', password: PROBE_PASSWORD }, count);
    progress(
      `board: initial bundle ${figures.initialBytes} B (gzip ${figures.initialGzipBytes} B), first paint ${figures.firstPaintMs.toFixed(0)} ms (plain page ${figures.anchorFirstPaintMs.toFixed(0)} ms), sign-in → first tile painted ${figures.signInToTilesMs.toFixed(0)} ms (${(figures.signInToTilesMs / figures.anchorFirstPaintMs).toFixed(2)} × the plain page; a timer after its frame at ${figures.signInToTileFrameMs.toFixed(0)} ms; without the password check ${figures.afterPasswordCheckToTilesMs.toFixed(0)} ms, ${(figures.afterPasswordCheckToTilesMs / figures.anchorFirstPaintMs).toFixed(2)} ×; ${figures.tiles} tiles, all of them at ${figures.allTilesMs.toFixed(0)} ms, the first sparkline at ${figures.sparklinesMs.toFixed(0)} ms; session with the first screen's overview (${figures.overviewBytes} B) answered at ${figures.signInAnsweredMs.toFixed(0)} ms, of which the service's password check ${figures.passwordCheckMs.toFixed(0)} ms, then ${figures.overviewBuiltMs.toFixed(0)} ms waiting for the overview built beside it)`,
    );
    return figures;
  } finally {
    await service.stop();
  }
}
const require_connect = (port: number) => connect(port, '127.0.0.1');

async function rawInfluxAnchor(url: string, database = 'bench_raw'): Promise<number> {
  const influx = new InfluxClient({ url, database });
  await influx.ensureDatabase(1830 * 86_400_000);
  const perBatch = 5000;
  const t0 = Date.now() - 10 * 86_400_000;
  const batches: string[] = [];
  for (let b = 0; b < SIZES.rawPoints / perBatch; b++) {
    let body = '';
    for (let i = 0; i < perBatch; i++) {
      const n = b * perBatch + i;
      body += `readings,deviceId=raw-${n % 100},locationId=dc-sh-cold-room-1,siteId=dc-shanghai temperature=${(4 + (n % 30) / 10).toFixed(1)},humidity=55.2,seq=${n}i,receivedAt=${t0}i ${t0 + Math.floor(n / 100)}000000\n`;
    }
    batches.push(body);
  }
  const started = performance.now();
  let next = 0;
  // Two writers in flight: what a tuned client would do on a 2-core machine.
  await Promise.all(
    [0, 1].map(async () => {
      while (next < batches.length) await influx.write(batches[next++]!);
    }),
  );
  await untilStored(influx, SIZES.rawPoints, started, 'raw InfluxDB');
  return SIZES.rawPoints / ((performance.now() - started) / 1000);
}

async function mosquittoPassThrough(measureIdle: boolean): Promise<{ msgsPerS: number; bytesPerIdle: number }> {
  const broker = await startMosquitto();
  try {
    let bytesPerIdle = 0;
    // Idle memory first, on a fresh broker: after the throughput run freed buffers would be reused.
    if (measureIdle) {
      const pid = broker.pid()!;
      const url = `mqtt://127.0.0.1:${broker.port}`;
      const idleDevices = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ id: `mq-idle-${from + i}` }));
      const warmup = await idleConnections(url, idleDevices(0, IDLE_WARMUP));
      await sleep(1000);
      const before = rssBytes(pid);
      const idle = await idleConnections(url, idleDevices(IDLE_WARMUP, SIZES.idleConnections));
      await sleep(1000);
      bytesPerIdle = (rssBytes(pid) - before) / SIZES.idleConnections;
      warmup.child.send({ stop: true });
      idle.child.send({ stop: true });
      await new Promise((r) => idle.child.once('exit', r));
    }

    const devices = Array.from({ length: SIZES.devices }, (_, i) => ({ id: `mq-${i}` }));
    const total = SIZES.devices * SIZES.messagesPerDevice;
    const subscriber = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId: 'bench-subscriber', reconnectPeriod: 0 });
    let received = 0;
    let allReceived!: () => void;
    const done = new Promise<void>((r) => (allReceived = r));
    subscriber.on('message', () => {
      if (++received === total) allReceived();
    });
    await subscriber.subscribeAsync('cc/v1/+/telemetry', { qos: 1 });
    const load = await prepareLoad({
      url: `mqtt://127.0.0.1:${broker.port}`,
      devices,
      messagesPerDevice: SIZES.messagesPerDevice,
      qos: 1,
      maxBatch: 1,
      window: SIZES.window,
      firstTs: Date.now() - 86_400_000,
    });
    progress(`mosquitto pass-through: ${total} QoS 1 messages from ${devices.length} connections to one subscriber`);
    const started = performance.now();
    const [result] = await Promise.all([load.go(), done]);
    const seconds = (performance.now() - started) / 1000;
    await subscriber.endAsync();
    progress(`mosquitto: publisher done in ${result.seconds.toFixed(2)} s, subscriber in ${seconds.toFixed(2)} s`);

    return { msgsPerS: total / seconds, bytesPerIdle };
  } finally {
    await broker.stop();
  }
}

/**
 * The simulator's load scenario (a paced rate, not a flood) through the whole service: does the
 * service keep up with a steady R readings/s from N devices? Reported as achieved vs requested.
 */
async function simulatedLoad(
  ws: Workspace,
  influxUrl: string,
  devices: number,
  rate: number,
  seconds: number,
): Promise<{ requested: number; achieved: number; stored: number }> {
  const service = await startOurService(ws, influxUrl, 'bench_simulated');
  try {
    progress(`simulated load: ${devices} devices at ${rate} readings/s for ${seconds} s (coldchain simulate --scenario load)`);
    const child = spawnLoadScenario({
      cli: CLI,
      configFile: ws.configFile,
      devices,
      rate,
      seconds,
      broker: `mqtt://127.0.0.1:${service.port}`,
      provision: true,
      output: true,
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d));
    child.stderr!.on('data', (d: Buffer) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0) throw new Error(`coldchain simulate failed (${code}):\n${stderr}`);
    const match = /load: requested (\d+) readings\/s, achieved (\d+) readings\/s/.exec(stdout);
    if (!match) throw new Error(`unexpected simulate output:\n${stdout}`);
    const sent = Number(/readings sent (\d+)/.exec(stdout)![1]);
    const influx = new InfluxClient({ url: influxUrl, database: 'bench_simulated' });
    await untilStored(influx, sent, performance.now(), 'simulated load');
    return { requested: Number(match[1]), achieved: Number(match[2]), stored: sent };
  } finally {
    await service.stop();
  }
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

interface ProbeSample {
  /** Wall clock when the crossing was published (ms since the epoch). */
  at: number;
  ms: number;
  /** Until the crossing reading's PUBACK. */
  ackMs: number;
  lost: boolean;
}
const PROBE_TIMEOUT_MS = 10_000;

/**
 * One probe crossing after another: the probe publishes a reading (QoS 1) and `arrived` resolves
 * when the follower sees what that reading caused (the alert, or for the anchor the reading itself);
 * then a reading back in range, a pause, and the next crossing. Latencies in ms, in the order taken,
 * with each one's PUBACK time (the crossing reading on disk) and wall-clock start for correlation.
 */
async function timeCrossings(
  probe: mqtt.MqttClient,
  topic: string,
  waiting: Map<number, (at: number) => void>,
  count: number,
  label: string,
): Promise<ProbeSample[]> {
  const samples: ProbeSample[] = [];
  let lost = 0;
  let ts = Date.now() - 3_600_000;
  for (let i = 0; i < count; i++) {
    const crossing = ts++;
    const arrived = new Promise<number>((resolve) => waiting.set(crossing, resolve));
    const sent = performance.now();
    let acked = Number.NaN;
    probe.publish(topic, JSON.stringify({ ts: crossing, temperature: 9.2 }), { qos: 1 }, () => (acked = performance.now()));
    const at = await Promise.race([arrived, sleep(PROBE_TIMEOUT_MS).then(() => Number.NaN)]);
    waiting.delete(crossing);
    // A sample that never came counts as the timeout (it is in the p99), and a run losing many stops.
    if (Number.isNaN(at) && ++lost > Math.max(1, count / 100))
      throw new Error(`${label}: nothing arrived within ${PROBE_TIMEOUT_MS / 1000} s for ${lost} probe crossings`);
    const back = await Promise.race([
      probe.publishAsync(topic, JSON.stringify({ ts: ts++, temperature: 5 }), { qos: 1 }).then(() => true),
      sleep(PROBE_TIMEOUT_MS).then(() => false),
    ]);
    if (!back) throw new Error(`${label}: the reading back in range after crossing ${i} was not acknowledged within ${PROBE_TIMEOUT_MS / 1000} s`);
    // Taken once the next reading is acknowledged (PUBACKs come in order): the alert is judged
    // while the crossing's commit group is fsynced, so it usually arrives before its PUBACK.
    samples.push({ at: performance.timeOrigin + sent, ms: Number.isNaN(at) ? PROBE_TIMEOUT_MS : at - sent, ackMs: acked - sent, lost: Number.isNaN(at) });
    if ((i + 1) % 500 === 0 && i + 1 < count) progress(`${label}: ${i + 1} of ${count} crossings`);
    await sleep(ALERT_PROBE_PAUSE_MS);
  }
  return samples;
}

export interface AlertLatency {
  p50: number;
  p99: number;
  samples: number;
  background: number;
  /** Mosquitto's own publish → subscriber latency under the same background (the anchor). */
  anchorP50: number;
  anchorP99: number;
  /** Crossing → PUBACK of the crossing reading (it is on disk) in our service. */
  ackP50: number;
  ackP99: number;
  /** Crossings whose alert never came (counted as PROBE_TIMEOUT_MS in the figures). */
  lost: number;
}

/** The alert latency's figures as the JSON line gives them, beside Mosquitto's (the anchor). */
const alertLatencyFigures = (l: AlertLatency) => ({
  alert_latency_p50_ms: Number(l.p50.toFixed(1)),
  alert_latency_p99_ms: Number(l.p99.toFixed(1)),
  alert_latency_samples: l.samples,
  alert_latency_lost: l.lost,
  mosquitto_latency_p50_ms: Number(l.anchorP50.toFixed(1)),
  mosquitto_latency_p99_ms: Number(l.anchorP99.toFixed(1)),
  alert_latency_p99_ratio_vs_mosquitto: Number((l.p99 / l.anchorP99).toFixed(2)),
});

/** The simulator's load scenario at the bench's rate against a broker, for `seconds` (stopped earlier by `stop`). */
function backgroundLoad(ws: Workspace, url: string, seconds: number): { child: ChildProcess; log: () => string; stop(): Promise<void> } {
  const child = spawnLoadScenario({
    cli: CLI,
    configFile: ws.configFile,
    devices: SIZES.simulatedDevices,
    rate: SIZES.simulatedRate,
    seconds: Math.ceil(seconds),
    broker: url,
  });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log = (log + d).slice(-4000)));
  return {
    child,
    log: () => log,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      await exited;
    },
  };
}

/**
 * Alert latency: while the simulator's load scenario sends a steady background, a probe device
 * publishes a reading that crosses a zero-delay rule; the time until the alert arrives on MQTT
 * (cc/v1/alerts/#, followed as a registry user) is one sample. The anchor is Mosquitto under the
 * same background from the same simulator: the probe's reading published QoS 1, the time until a
 * subscriber to the probe's topic has it. That is the floor a broker sets on this machine under this
 * load (the same clients, the same cores, the same loopback); our figure adds validation, the
 * fsync, the rules and the alert's own publish on top of it.
 */
async function alertLatency(ws: Workspace, influxUrl: string): Promise<AlertLatency> {
  // The load's devices registered before the service starts, as the soak does: no configuration
  // reload while the background connects (refused logins during one count against the address).
  const loaded = loadConfig(ws.configFile);
  provisionDevices(
    loaded.file,
    loaded.dataDir,
    scenarioDevices(prepareScenario({ scenario: 'load', devices: SIZES.simulatedDevices, rate: SIZES.simulatedRate }, loaded.config)),
  );
  const settled = await compactionsSettled(influxUrl);
  if (settled > 1) progress(`alert latency: waited ${settled.toFixed(1)} s for InfluxDB's compactions of the stages before`);
  const n = SIZES.alertProbes;
  // Longer than any run of the probes takes, even slowed by a loaded machine; stopped when they end.
  const backgroundSeconds = 60 + (n * (ALERT_PROBE_PAUSE_MS + 500)) / 1000;
  const topic = `cc/v1/${ws.probe.id}/telemetry`;
  const warm = 5000;

  // The anchor first: Mosquitto, the same background, the probe's reading itself followed.
  let anchor: ProbeSample[];
  {
    const broker = await startMosquitto();
    const url = `mqtt://127.0.0.1:${broker.port}`;
    const background = backgroundLoad(ws, url, backgroundSeconds);
    try {
      await sleep(warm);
      if (background.child.exitCode !== null) throw new Error(`background load on Mosquitto stopped:\n${background.log()}`);
      const follower = await mqtt.connectAsync(url, { clientId: 'bench-anchor-follower', reconnectPeriod: 0 });
      const waiting = new Map<number, (at: number) => void>();
      follower.on('message', (_topic, payload) => {
        const reading = JSON.parse(payload.toString()) as { ts: number };
        waiting.get(reading.ts)?.(performance.now());
      });
      await follower.subscribeAsync(topic, { qos: 1 });
      const probe = await mqtt.connectAsync(url, { clientId: 'bench-anchor-probe', reconnectPeriod: 0 });
      progress(`alert latency anchor: ${n} probe readings through Mosquitto under ${SIZES.simulatedRate} readings/s of background`);
      anchor = await timeCrossings(probe, topic, waiting, n, 'Mosquitto anchor');
      const a = anchor.map((s) => s.ms).sort((x, y) => x - y);
      progress(`alert latency anchor: Mosquitto p50 ${percentile(a, 50).toFixed(1)} ms, p99 ${percentile(a, 99).toFixed(1)} ms`);
      if (background.child.exitCode !== null) throw new Error(`background load on Mosquitto stopped before the probe did:\n${background.log()}`);
      await probe.endAsync();
      await follower.endAsync();
    } finally {
      await background.stop();
      await broker.stop();
    }
  }

  const service = await startOurService(ws, influxUrl, 'bench_alerts');
  const url = `mqtt://127.0.0.1:${service.port}`;
  const background = backgroundLoad(ws, url, backgroundSeconds);
  let ours: ProbeSample[];
  try {
    await sleep(warm);
    if (background.child.exitCode !== null) throw new Error(`background load stopped:\n${background.log()}`);
    const { follower, probe, waiting } = await alertProbe({ follower: url, probe: url }, { name: 'bench', password: PROBE_PASSWORD }, ws.probe);
    progress(`alert latency: ${n} crossings under ${SIZES.simulatedRate} readings/s of background`);
    ours = await timeCrossings(probe, topic, waiting, n, 'alert latency');
    if (background.child.exitCode !== null) throw new Error(`background load stopped before the probe did:\n${background.log()}`);
    await probe.endAsync();
    await follower.endAsync();
  } finally {
    await background.stop();
    await service.stop();
  }
  if (process.env.BENCH_ALERT_SAMPLES) writeFileSync(process.env.BENCH_ALERT_SAMPLES, JSON.stringify({ anchor, ours }));
  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  const latency = sorted(ours.map((s) => s.ms));
  const acks = sorted(ours.map((s) => s.ackMs));
  const anchorLatency = sorted(anchor.map((s) => s.ms));
  return {
    p50: percentile(latency, 50),
    p99: percentile(latency, 99),
    samples: latency.length,
    background: SIZES.simulatedRate,
    anchorP50: percentile(anchorLatency, 50),
    anchorP99: percentile(anchorLatency, 99),
    ackP50: percentile(acks, 50),
    ackP99: percentile(acks, 99),
    lost: ours.filter((s) => s.lost).length,
  };
}

async function ourPath(
  ws: Workspace,
  influxUrl: string,
  label: string,
  database: string,
  plan: Omit<LoadPlan, 'url'>,
  cli = CLI,
): Promise<{ ackedPerS: number; storedPerS: number; readings: number; cpuUsPerReading: number }> {
  const service = await startOurService(ws, influxUrl, database, [], undefined, cli);
  try {
    const influx = new InfluxClient({ url: influxUrl, database });
    // BENCH_WARMUP=<messages per connection>: the same connections first send that many messages
    // (device times 5 days earlier, so the measured ones stay new to the index), stored before
    // the measured load starts. A service's first seconds of load pay once for V8 compiling the
    // ingest path (≈ a quarter of the service's CPU in a batched round: bench/README, fourth
    // profile); with a warm-up the figures are those of a running service. Off (0) by default.
    const warmup = env('BENCH_WARMUP', 0);
    let warmed = 0;
    if (warmup > 0) {
      const warm = await prepareLoad({ ...plan, messagesPerDevice: warmup, firstTs: plan.firstTs - 5 * 86_400_000, url: `mqtt://127.0.0.1:${service.port}` });
      warmed = (await warm.go()).readings;
      await untilStored(influx, warmed, performance.now(), `${label} warm-up`);
      progress(`${label}: warm-up of ${warmed} readings stored`);
    }
    const cpuBefore = cpuSeconds(service.pid);
    const load = await prepareLoad({ ...plan, url: `mqtt://127.0.0.1:${service.port}` });
    progress(
      `${label}: ${plan.devices.length} connections × ${plan.messagesPerDevice} messages (QoS ${plan.qos}${plan.maxBatch > 1 ? `, batches of 10–${plan.maxBatch}` : ''})`,
    );
    const started = performance.now();
    const result = await load.go();
    progress(`${label}: publisher done in ${result.seconds.toFixed(2)} s (${result.readings} readings)`);
    const seconds = await untilStored(influx, warmed + result.readings, started, label);
    const cpuUsPerReading = ((cpuSeconds(service.pid) - cpuBefore) * 1e6) / result.readings;
    return { ackedPerS: result.readings / result.seconds, storedPerS: result.readings / seconds, readings: result.readings, cpuUsPerReading };
  } finally {
    await service.stop();
  }
}

/**
 * Alert latency between a probe device and a follower that may be on different nodes: the probe
 * (connected to `probeUrl`, its own node's port) publishes a reading that crosses a zero-delay
 * rule; the time until the `activated` message arrives at a follower of `cc/v1/alerts/#`
 * connected to `followerUrl` is one sample. No background load: what is measured is the path.
 * The first crossings are not counted (a cluster node takes the probe over on its first reading
 * and reads its history from InfluxDB first).
 */
async function crossingLatency(ws: Workspace, probeUrl: string, followerUrl: string, label: string): Promise<{ p50: number; p99: number; samples: number }> {
  const { follower, probe, waiting, topic } = await alertProbe(
    { follower: followerUrl, probe: probeUrl },
    { name: 'bench', password: PROBE_PASSWORD },
    ws.probe,
  );
  const samples: number[] = [];
  // Later than anything the probe sent in earlier stages of the same run (each stage has its own database, the engine does not).
  let ts = Date.now() - 1_800_000;
  const WARMUP = 5;
  progress(`${label}: ${SIZES.clusterAlertProbes} crossings`);
  try {
    for (let i = 0; i < SIZES.clusterAlertProbes + WARMUP; i++) {
      const crossing = ts++;
      const arrived = new Promise<number>((resolve) => waiting.set(crossing, resolve));
      const sent = performance.now();
      probe.publish(topic, JSON.stringify({ ts: crossing, temperature: 9.2 }), { qos: 1 });
      const at = await Promise.race([arrived, sleep(10_000).then(() => NaN)]);
      waiting.delete(crossing);
      if (Number.isNaN(at)) throw new Error(`${label}: no alert within 10 s for crossing ${i}`);
      if (i >= WARMUP) samples.push(at - sent);
      await probe.publishAsync(topic, JSON.stringify({ ts: ts++, temperature: 5 }), { qos: 1 });
      await sleep(20);
    }
  } finally {
    await probe.endAsync();
    await follower.endAsync();
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99), samples: samples.length };
}

/**
 * The same e2e QoS 1 load through HAProxy onto three `coldchain start --cluster` nodes sharing
 * Debian's redis-server and the one influxd (issue 16), then onto one node alone, same machine:
 * the ratio is what clustering costs (or gains) on these cores. Then the latency of an alert
 * crossing nodes (probe on node A's own port, follower on node B's) beside the same measurement
 * on one node alone (probe and follower on it).
 */
async function clusterStage(ws: Workspace, influxUrl: string) {
  const plan = { devices: ws.loadDevices, messagesPerDevice: SIZES.messagesPerDevice, qos: 1 as const, maxBatch: 1, window: SIZES.window };
  const started: Array<{ stop(): Promise<void> } | ChildProcess> = [];
  const stopAll = async () => {
    for (const p of started.reverse()) 'kill' in p ? p.kill('SIGTERM') : await p.stop();
  };
  let clustered = { ackedPerS: 0, storedPerS: 0, readings: 0, cpuUsPerReading: 0 };
  let crossNodes = { p50: NaN, p99: NaN, samples: 0 };
  try {
    const redisPort = await freePort();
    const redis = own(spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' }));
    started.push(redis);
    await waitPort(redisPort);
    const database = 'bench_cluster';
    const nodes = [];
    for (const id of ['node-a', 'node-b', 'node-c']) {
      const node = await startOurService(
        ws,
        influxUrl,
        database,
        ['--cluster', `redis://127.0.0.1:${redisPort}`, '--node-id', id],
        path.join(ws.dir, `data-cluster-${id}`),
      );
      started.push(node);
      nodes.push(node);
    }
    const lbPort = await freePort();
    const cfg = path.join(ws.dir, 'haproxy-bench.cfg');
    // maxconn: two file descriptors per proxied connection; stay within the default open-file limit.
    const config = haproxyConfig({ maxconn: 4096, mqttPort: lbPort, nodes: nodes.map((n, i) => ({ name: `n${i}`, mqttPort: n.port })) });
    writeFileSync(cfg, [...config, ''].join('\n'));
    started.push(own(spawn('haproxy', ['-db', '-f', cfg], { stdio: 'ignore' })));
    await waitPort(lbPort);
    const influx = new InfluxClient({ url: influxUrl, database });
    const load = await prepareLoad({ ...plan, url: `mqtt://127.0.0.1:${lbPort}`, firstTs: Date.now() - 20 * 86_400_000 });
    progress(`cluster e2e QoS 1: ${plan.devices.length} connections × ${plan.messagesPerDevice} messages through HAProxy onto 3 nodes`);
    const t0 = performance.now();
    const result = await load.go();
    const seconds = await untilStored(influx, result.readings, t0, 'cluster e2e QoS 1');
    clustered = { ackedPerS: result.readings / result.seconds, storedPerS: result.readings / seconds, readings: result.readings, cpuUsPerReading: 0 };
    await sleep(2000);
    crossNodes = await crossingLatency(
      ws,
      `mqtt://127.0.0.1:${nodes[0]!.port}`,
      `mqtt://127.0.0.1:${nodes[1]!.port}`,
      'alert latency across nodes (A → Redis → B)',
    );
  } finally {
    await stopAll();
  }
  await sleep(2000);
  const single = await ourPath(ws, influxUrl, 'single-node e2e QoS 1', 'bench_cluster_single', { ...plan, firstTs: Date.now() - 20 * 86_400_000 });
  await sleep(2000);
  const alone = await startOurService(ws, influxUrl, 'bench_cluster_single_alerts');
  let oneNode: Awaited<ReturnType<typeof crossingLatency>>;
  try {
    const url = `mqtt://127.0.0.1:${alone.port}`;
    oneNode = await crossingLatency(ws, url, url, 'alert latency on one node (anchor)');
  } finally {
    await alone.stop();
  }
  const figures = {
    cluster3_e2e_stored_per_s: Math.round(clustered.storedPerS),
    cluster3_e2e_acked_per_s: Math.round(clustered.ackedPerS),
    single_e2e_stored_per_s: Math.round(single.storedPerS),
    cluster3_vs_single_ratio: Number((clustered.storedPerS / single.storedPerS).toFixed(2)),
    cluster_alert_latency_p50_ms: Number(crossNodes.p50.toFixed(1)),
    cluster_alert_latency_p99_ms: Number(crossNodes.p99.toFixed(1)),
    single_alert_latency_p50_ms: Number(oneNode.p50.toFixed(1)),
    single_alert_latency_p99_ms: Number(oneNode.p99.toFixed(1)),
    cluster_alert_p50_vs_single: Number((crossNodes.p50 / oneNode.p50).toFixed(2)),
    cluster_alert_samples: crossNodes.samples,
  };
  progress(
    `cluster: 3 nodes ${figures.cluster3_e2e_stored_per_s} readings/s stored vs one node ${figures.single_e2e_stored_per_s} (×${figures.cluster3_vs_single_ratio}), same machine`,
  );
  progress(
    `cluster: alert across nodes p50 ${figures.cluster_alert_latency_p50_ms} ms, p99 ${figures.cluster_alert_latency_p99_ms} ms; one node p50 ${figures.single_alert_latency_p50_ms} ms, p99 ${figures.single_alert_latency_p99_ms} ms (${crossNodes.samples} crossings each)`,
  );
  return figures;
}

/** Resolves once something listens on the loopback port (bounded: 15 s). */
async function waitPort(port: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const socket = require_connect(port);
      socket.once('connect', () => (socket.destroy(), r(true)));
      socket.once('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after 15 s`);
    await sleep(100);
  }
}

/**
 * Memory per idle device connection, measured on the broker running in this process (the load
 * generator stays a separate process) so that a full GC can run before each reading: what is
 * reported is memory the broker retains per connection, not garbage or V8's heap sizing slack.
 * The RSS slope over the same connections is reported beside it.
 */
async function idleMemory(ws: Workspace, influxUrl: string): Promise<{ retained: number; rss: number }> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run the benchmark with node --expose-gc (npm run bench does)');
  const loaded = loadConfig(ws.configFile);
  const service = await startService(
    loaded,
    { mqttPort: 0, httpPort: 0, influxUrl, influxDb: 'bench_idle', dataDir: path.join(ws.dir, 'data-idle') },
    createLogger('warn', 'bench-service'),
  );
  try {
    const url = `mqtt://127.0.0.1:${service.mqttPort}`;
    const settled = async () => {
      await sleep(1000);
      gc();
      gc();
      const { heapUsed, external, rss } = process.memoryUsage();
      return { retained: heapUsed + external, rss };
    };
    const warmup = await idleConnections(url, ws.idleDevices.slice(0, IDLE_WARMUP));
    const before = await settled();
    const measured = await idleConnections(url, ws.idleDevices.slice(IDLE_WARMUP));
    const after = await settled();
    for (const load of [warmup, measured]) load.child.send({ stop: true });
    const n = SIZES.idleConnections;
    return { retained: (after.retained - before.retained) / n, rss: (after.rss - before.rss) / n };
  } finally {
    await service.stop();
  }
}

async function main(): Promise<void> {
  const log = createLogger('warn', 'bench');
  const ws = await makeWorkspace();
  const influxd = new ManagedInfluxd({ dataDir: path.join(ws.dir, 'influxd'), log });
  await influxd.start();
  try {
    progress(`influxd ${influxdVersion() ?? '?'} at ${influxd.url}; work dir ${ws.dir}`);
    const only = process.env.BENCH_ONLY;
    if (only === 'alarms') {
      process.stdout.write(`${JSON.stringify(alarmQualityFigures())}\n`);
      return;
    }
    if (only === 'idle') {
      process.stdout.write(`${JSON.stringify(await idleMemory(ws, influxd.url))}\n`);
      return;
    }
    if (only === 'soak') {
      // 30 min at 5,000 readings/s by default (issue 15, item 5); BENCH_SOAK_MINUTES shortens it for a try.
      const figures = await soak(
        {
          cli: CLI,
          configFile: ws.configFile,
          start: () => startOurService(ws, influxd.url, 'bench_soak'),
          probe: ws.probe,
          user: { name: 'bench', password: PROBE_PASSWORD },
          progress,
        },
        env('BENCH_SOAK_MINUTES', 30),
        env('BENCH_SOAK_RATE', 5000),
        SIZES.simulatedDevices,
        env('BENCH_SOAK_BOARD_CLIENTS', 20),
      );
      process.stdout.write(`${JSON.stringify(figures)}\n`);
      return;
    }
    if (only === 'alerts') {
      const latency = await alertLatency(ws, influxd.url);
      progress(
        `alert latency: p50 ${latency.p50.toFixed(1)} ms, p99 ${latency.p99.toFixed(1)} ms over ${latency.samples} crossings; Mosquitto p50 ${latency.anchorP50.toFixed(1)} ms, p99 ${latency.anchorP99.toFixed(1)} ms`,
      );
      process.stdout.write(
        `${JSON.stringify({
          ...alertLatencyFigures(latency),
          alert_latency_ack_p50_ms: Number(latency.ackP50.toFixed(1)),
          alert_latency_ack_p99_ms: Number(latency.ackP99.toFixed(1)),
          background_readings_per_s: latency.background,
        })}\n`,
      );
      return;
    }
    if (only === 'simulated') {
      process.stdout.write(`${JSON.stringify(await simulatedLoad(ws, influxd.url, SIZES.simulatedDevices, SIZES.simulatedRate, 10))}\n`);
      return;
    }
    if (only === 'cluster') {
      process.stdout.write(`${JSON.stringify(await clusterStage(ws, influxd.url))}\n`);
      return;
    }
    if (only === 'board') {
      process.stdout.write(`${JSON.stringify(await boardStage(ws, influxd.url))}\n`);
      return;
    }
    if (only === 'report' || only === 'reports') {
      process.stdout.write(`${JSON.stringify(await reportBenchmark(influxd.url, progress))}\n`);
      return;
    }
    if (only === 'e2e' || only === 'batched') {
      // Beside its anchor, measured in the same run, alternately for BENCH_ROUNDS rounds: the
      // machine is shared, so absolute figures drift; best of the rounds for each, as the full run does.
      // BENCH_CLI_B names another build's dist/cli/main.js, run in each round right after ours (A/B on the same load).
      const builds = [CLI, ...(process.env.BENCH_CLI_B ? [path.resolve(process.env.BENCH_CLI_B)] : [])];
      const rounds: Array<{ build: string; ours: number; anchor: number; ratio: number; cpuUsPerReading: number }> = [];
      for (let round = 0; round < ROUNDS; round++) {
        const anchor = only === 'e2e' ? (await mosquittoPassThrough(false)).msgsPerS : await rawInfluxAnchor(influxd.url, `bench_raw_${round}`);
        for (const [b, cli] of builds.entries()) {
          await sleep(2000);
          const firstTs = Date.now() - 20 * 86_400_000;
          const db = `bench_${only}_${round}_${b}`;
          const ours =
            only === 'e2e'
              ? await ourPath(
                  ws,
                  influxd.url,
                  'e2e QoS 1',
                  db,
                  { devices: ws.loadDevices, messagesPerDevice: SIZES.messagesPerDevice, qos: 1, maxBatch: 1, window: SIZES.window, firstTs },
                  cli,
                )
              : await ourPath(
                  ws,
                  influxd.url,
                  'batched',
                  db,
                  { devices: ws.batchDevices, messagesPerDevice: SIZES.batchMessagesPerDevice, qos: 1, maxBatch: 100, window: 4, firstTs },
                  cli,
                );
          const ratio = Number((ours.storedPerS / anchor).toFixed(3));
          const build = b === 0 ? 'A' : 'B';
          rounds.push({
            build,
            ours: Math.round(ours.storedPerS),
            anchor: Math.round(anchor),
            ratio,
            cpuUsPerReading: Math.round(ours.cpuUsPerReading * 100) / 100,
          });
          progress(
            `${only} round ${round + 1} build ${build}: ${Math.round(ours.storedPerS)} readings/s stored vs ${Math.round(anchor)}/s anchor: ×${ratio}; service CPU ${ours.cpuUsPerReading.toFixed(2)} µs/reading`,
          );
        }
        await sleep(2000);
      }
      const bestAnchor = Math.max(...rounds.map((r) => r.anchor));
      const summary = (build: string) => {
        const mine = rounds.filter((r) => r.build === build);
        const best = Math.max(...mine.map((r) => r.ours));
        return { best, bestRatio: Number((best / bestAnchor).toFixed(3)), minCpuUsPerReading: Math.min(...mine.map((r) => r.cpuUsPerReading)) };
      };
      process.stdout.write(`${JSON.stringify({ stage: only, rounds, bestAnchor, A: summary('A'), ...(builds.length > 1 ? { B: summary('B') } : {}) })}\n`);
      return;
    }
    // First, while this process holds little garbage: the RSS slope is only meaningful then.
    const idle = await idleMemory(ws, influxd.url);
    progress(`idle connections: ${Math.round(idle.retained)} B retained, ${Math.round(idle.rss)} B RSS per connection`);

    // Throughput figures are the best of ROUNDS runs, for the anchor and for us alike: on a
    // 2-core machine a background compaction in influxd can cost one run a tenth of its speed.
    const firstTs = Date.now() - 20 * 86_400_000;
    let mosquitto = { msgsPerS: 0, bytesPerIdle: 0 };
    let single = { ackedPerS: 0, storedPerS: 0, readings: 0, cpuUsPerReading: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      const m = await mosquittoPassThrough(round === 0);
      mosquitto = { msgsPerS: Math.max(mosquitto.msgsPerS, m.msgsPerS), bytesPerIdle: round === 0 ? m.bytesPerIdle : mosquitto.bytesPerIdle };
      await sleep(2000);
      const e2e = await ourPath(ws, influxd.url, 'e2e QoS 1', `bench_e2e_${round}`, {
        devices: ws.loadDevices,
        messagesPerDevice: SIZES.messagesPerDevice,
        qos: 1,
        maxBatch: 1,
        window: SIZES.window,
        firstTs,
      });
      if (e2e.storedPerS > single.storedPerS) single = e2e;
      await sleep(2000);
    }
    // InfluxDB compacts what the rounds wrote for a few seconds; measure latency once it is quiet.
    await sleep(10_000);
    const latency = await alertLatency(ws, influxd.url);
    progress(
      `alert latency: p50 ${latency.p50.toFixed(1)} ms, p99 ${latency.p99.toFixed(1)} ms over ${latency.samples} crossings; Mosquitto p50 ${latency.anchorP50.toFixed(1)} ms, p99 ${latency.anchorP99.toFixed(1)} ms`,
    );
    await sleep(2000);
    const qos0 = await ourPath(ws, influxd.url, 'e2e QoS 0', 'bench_qos0', {
      devices: ws.loadDevices,
      messagesPerDevice: SIZES.messagesPerDevice,
      qos: 0,
      maxBatch: 1,
      window: SIZES.window,
      firstTs,
    });
    // Batched beside raw InfluxDB writes, alternately, the best of ROUNDS runs for each, as e2e
    // beside Mosquitto above (one run of each, 2-3 s long, was at the mercy of whatever compaction
    // the earlier stages left in influxd; BENCH_ONLY=batched has always taken rounds).
    let batched = { ackedPerS: 0, storedPerS: 0, readings: 0, cpuUsPerReading: 0 };
    let rawPointsPerS = 0;
    for (let round = 0; round < ROUNDS; round++) {
      await sleep(2000);
      rawPointsPerS = Math.max(rawPointsPerS, await rawInfluxAnchor(influxd.url, `bench_raw_${round}`));
      await sleep(2000);
      const run = await ourPath(ws, influxd.url, 'batched', `bench_batch_${round}`, {
        devices: ws.batchDevices,
        messagesPerDevice: SIZES.batchMessagesPerDevice,
        qos: 1,
        maxBatch: 100,
        window: 4,
        firstTs,
      });
      if (run.storedPerS > batched.storedPerS) batched = run;
    }
    progress(`raw InfluxDB writes: ${Math.round(rawPointsPerS)} points/s (best of ${ROUNDS})`);
    await sleep(2000);
    const simulated = await simulatedLoad(ws, influxd.url, SIZES.simulatedDevices, SIZES.simulatedRate, 10);
    progress(`simulated load: requested ${simulated.requested}/s, achieved ${simulated.achieved}/s, ${simulated.stored} stored`);
    await sleep(2000);
    const report = await reportBenchmark(influxd.url, progress);
    await sleep(2000);
    const board = await boardStage(ws, influxd.url);
    await sleep(2000);
    // Last, as it stops and starts the most processes: three cluster nodes, Redis and HAProxy.
    const cluster = await clusterStage(ws, influxd.url);
    const alarms = alarmQualityFigures();

    const figures = {
      e2e_readings_per_s: Math.round(single.storedPerS),
      e2e_acked_per_s: Math.round(single.ackedPerS),
      mosquitto_msgs_per_s: Math.round(mosquitto.msgsPerS),
      ratio_vs_mosquitto: Number((single.storedPerS / mosquitto.msgsPerS).toFixed(3)),
      qos0_readings_per_s: Math.round(qos0.storedPerS),
      batched_readings_per_s: Math.round(batched.storedPerS),
      influx_raw_points_per_s: Math.round(rawPointsPerS),
      batched_ratio_vs_raw_influx: Number((batched.storedPerS / rawPointsPerS).toFixed(3)),
      simulated_load_requested_per_s: simulated.requested,
      simulated_load_achieved_per_s: simulated.achieved,
      ...alertLatencyFigures(latency),
      broker_bytes_per_idle_connection: Math.round(idle.retained),
      broker_rss_bytes_per_idle_connection: Math.round(idle.rss),
      mosquitto_bytes_per_idle_connection: Math.round(mosquitto.bytesPerIdle),
      report_readings: report.readings,
      report_influx_query_ms: Math.round(report.influxQueryMs),
      report_json_ms: Math.round(report.jsonMs),
      report_pdf_ms: Math.round(report.pdfMs),
      report_json_ratio_vs_query: Number((report.jsonMs / report.influxQueryMs).toFixed(2)),
      report_pdf_ratio_vs_query: Number((report.pdfMs / report.influxQueryMs).toFixed(2)),
      report_json_cold_ms: Math.round(report.jsonColdMs),
      report_json_uncached_ms: Math.round(report.jsonRawMs),
      report_bucket_hours_cached: report.cacheHits,
      report_bucket_hours_read: report.cacheMisses,
      board_initial_bytes: board.initialBytes,
      board_initial_gzip_bytes: board.initialGzipBytes,
      board_total_bytes: board.totalBytes,
      board_first_paint_ms: Math.round(board.firstPaintMs),
      board_first_paint_ratio_vs_plain_page: Number((board.firstPaintMs / board.anchorFirstPaintMs).toFixed(2)),
      board_plain_page_first_paint_ms: Math.round(board.anchorFirstPaintMs),
      board_sign_in_to_tiles_ms: Math.round(board.signInToTilesMs),
      board_sign_in_to_tiles_ratio_vs_plain_page: Number((board.signInToTilesMs / board.anchorFirstPaintMs).toFixed(2)),
      board_sign_in_to_tile_frame_ms: Math.round(board.signInToTileFrameMs),
      board_session_answered_ms: Math.round(board.signInAnsweredMs),
      board_password_check_ms: Math.round(board.passwordCheckMs),
      board_overview_built_ms: Math.round(board.overviewBuiltMs),
      // Labelled: the whole path less the service's password check (scrypt).
      board_after_password_check_to_tiles_ms: Math.round(board.afterPasswordCheckToTilesMs),
      board_after_password_check_to_tiles_ratio_vs_plain_page: Number((board.afterPasswordCheckToTilesMs / board.anchorFirstPaintMs).toFixed(2)),
      ...cluster,
      ...alarms,
      messages_per_run: SIZES.devices * SIZES.messagesPerDevice,
      connections: SIZES.devices,
      idle_connections: SIZES.idleConnections,
    };
    const rows: Array<[string, string, string, string]> = [
      ['Mosquitto pass-through, QoS 1 → 1 subscriber (anchor)', `${figures.mosquitto_msgs_per_s} msg/s`, '', ''],
      ['InfluxDB raw line-protocol writes (anchor)', `${figures.influx_raw_points_per_s} points/s`, '', ''],
      [
        'e2e QoS 1: publish → spool (fsync) → InfluxDB, count verified',
        `${figures.e2e_readings_per_s} readings/s`,
        `${figures.ratio_vs_mosquitto} × Mosquitto`,
        '≥ 0.9 ×',
      ],
      ['  of which acknowledged (PUBACK after fsync)', `${figures.e2e_acked_per_s} readings/s`, '', ''],
      ['e2e QoS 0 devices, count verified', `${figures.qos0_readings_per_s} readings/s`, '', ''],
      [
        'batched uploads (10–100 readings/message), count verified',
        `${figures.batched_readings_per_s} readings/s`,
        `${figures.batched_ratio_vs_raw_influx} × raw InfluxDB`,
        '≥ 0.6 ×',
      ],
      [
        'simulator load scenario (paced), all stored',
        `${figures.simulated_load_achieved_per_s} readings/s`,
        `requested ${figures.simulated_load_requested_per_s}/s`,
        '',
      ],
      [
        `Mosquitto publish → subscriber, ${SIZES.simulatedRate}/s background (anchor)`,
        `p50 ${figures.mosquitto_latency_p50_ms} ms`,
        `p99 ${figures.mosquitto_latency_p99_ms} ms`,
        '',
      ],
      [
        `alert latency, crossing → MQTT alert, ${SIZES.simulatedRate}/s background`,
        `p50 ${figures.alert_latency_p50_ms} ms`,
        `p99 ${figures.alert_latency_p99_ms} ms = ${figures.alert_latency_p99_ratio_vs_mosquitto} ×`,
        'p99 ≤ 25 ms',
      ],
      [
        'broker memory retained per idle device connection (after GC)',
        `${figures.broker_bytes_per_idle_connection} B`,
        `Mosquitto RSS: ${figures.mosquitto_bytes_per_idle_connection} B`,
        '≤ 10240 B',
      ],
      ['  broker RSS growth per idle connection (incl. V8 heap slack)', `${figures.broker_rss_bytes_per_idle_connection} B`, '', ''],
      ['InfluxDB query of a 30-day 4-leg shipment (anchor)', `${figures.report_influx_query_ms} ms`, `${figures.report_readings} readings`, ''],
      [
        'full-chain shipment report, JSON (hour buckets cached)',
        `${figures.report_json_ms} ms`,
        `${figures.report_json_ratio_vs_query} × the query`,
        '≤ 0.25 ×',
      ],
      ['full-chain shipment report, PDF (zh-CN, vector chart)', `${figures.report_pdf_ms} ms`, `${figures.report_pdf_ratio_vs_query} × the query`, '≤ 0.5 ×'],
      [
        '  JSON, first report (cache empty, filled) / without the cache',
        `${figures.report_json_cold_ms} ms`,
        `${figures.report_json_uncached_ms} ms uncached; ${figures.report_bucket_hours_cached} hours cached, ${figures.report_bucket_hours_read} read`,
        '',
      ],
      [
        'live board bundle, sign-in + live view (map and charts load later)',
        `${figures.board_initial_bytes} B`,
        `gzip ${figures.board_initial_gzip_bytes} B; all ${figures.board_total_bytes} B`,
        '',
      ],
      [
        'live board first contentful paint (headless Chromium)',
        `${figures.board_first_paint_ms} ms`,
        `${figures.board_first_paint_ratio_vs_plain_page} × a plain page`,
        '',
      ],
      [
        '  sign-in → sensor tiles drawn',
        `${figures.board_sign_in_to_tiles_ms} ms`,
        `${figures.board_sign_in_to_tiles_ratio_vs_plain_page} × a plain page (${figures.board_plain_page_first_paint_ms} ms)`,
        '≤ 2 × plain page paint',
      ],
      [
        '    of which the service checked the password (scrypt)',
        `${figures.board_password_check_ms} ms`,
        `the rest ${figures.board_after_password_check_to_tiles_ms} ms = ${figures.board_after_password_check_to_tiles_ratio_vs_plain_page} × a plain page (session with overview answered at ${figures.board_session_answered_ms} ms)`,
        '',
      ],
      [
        'cluster: 3 nodes behind HAProxy on Redis, e2e QoS 1, count verified',
        `${figures.cluster3_e2e_stored_per_s} readings/s`,
        `${figures.cluster3_vs_single_ratio} × one node (${figures.single_e2e_stored_per_s}/s)`,
        '',
      ],
      [
        `cluster: alert latency across nodes (device on A → follower on B), ${figures.cluster_alert_samples} crossings`,
        `p50 ${figures.cluster_alert_latency_p50_ms} ms`,
        `one node: p50 ${figures.single_alert_latency_p50_ms} ms`,
        '',
      ],
      ['  p99 across nodes / on one node', `p99 ${figures.cluster_alert_latency_p99_ms} ms`, `one node: p99 ${figures.single_alert_latency_p99_ms} ms`, ''],
      ['alarms per site-day, demo site on a normal simulated day', `${alarms.demo_alarms_per_site_day}`, `${alarms.demo_alarms} alarms`, '0'],
      [
        'door-left-open: alarms / incidents, recall, precision',
        `${alarms.door_left_open_alarms} / ${alarms.door_left_open_incidents}`,
        `${alarms.door_left_open_recall}, ${alarms.door_left_open_precision}`,
        '1 incident, 1, ≥ 0.95',
      ],
      [
        '7 normal days: cold room / freezer / reefer alarms',
        `${alarms.cold_room_week_alarms} / ${alarms.freezer_week_alarms} / ${alarms.reefer_week_alarms}`,
        '',
        '0 / 0 / 0',
      ],
      [
        'ISA-18.2 over every scenario: peak per 10 min, floods, chattering, stale',
        `${alarms.isa_peak_per_10_min}, ${alarms.isa_floods}, ${alarms.isa_chattering}, ${alarms.isa_stale}`,
        `${alarms.isa_assessment}`,
        '≤ 10, 0',
      ],
    ];
    const width = Math.max(...rows.map((r) => r[0].length));
    process.stdout.write(`\n${'measurement'.padEnd(width)} | figure               | vs anchor               | target\n`);
    process.stdout.write(`${'-'.repeat(width)}-|----------------------|-------------------------|--------\n`);
    for (const [name, figure, ratio, target] of rows) process.stdout.write(`${name.padEnd(width)} | ${figure.padEnd(20)} | ${ratio.padEnd(23)} | ${target}\n`);
    process.stdout.write(`\n${JSON.stringify(figures)}\n`);
  } finally {
    await influxd.stop();
    rmSync(ws.dir, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  process.stderr.write(`bench failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
