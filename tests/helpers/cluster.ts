import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, inject } from 'vitest';
import type { RunningService } from '../../app/service.js';
import { clusterSettingsSchema } from '../../cluster/engines.js';
import { freePort } from '../../storage/influxd.js';
import { CLI } from './browser.js';
import { connectDevice, influxFor, startTestService, waitFor, type Workspace } from './workspace.js';

/**
 * Starts a program and resolves once its output matches `ready` (rejects with the output when it
 * exits first). Its output is read to the end (to `sink` when given), so a full pipe never blocks
 * it; `children` gets it as soon as it is spawned, for the test's afterAll to stop.
 */
export function startProcess(
  command: string,
  args: string[],
  ready: RegExp,
  options: { children: ChildProcess[]; env?: NodeJS.ProcessEnv; sink?: (text: string) => void },
): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env });
    options.children.push(child);
    let output = '';
    let isReady = false;
    const onData = (chunk: Buffer) => {
      options.sink?.(chunk.toString());
      if (isReady) return;
      output += chunk.toString();
      if (ready.test(output)) {
        isReady = true;
        output = '';
        resolve(child);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => reject(new Error(`${command} exited (${code ?? signal}) before it was ready:\n${output.slice(-4000)}`)));
    child.once('error', reject);
  });
}

/**
 * What a cluster test starts and has to end: its MQTT clients and child processes, ended after the
 * describe block (the clients first, then SIGTERM to each process still running).
 */
export function endedAfterAll(): { children: ChildProcess[]; clients: MqttClient[] } {
  const children: ChildProcess[] = [];
  const clients: MqttClient[] = [];
  afterAll(() => {
    for (const c of clients) c.end(true);
    for (const p of children) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
  });
  return { children, clients };
}

/** Debian's redis-server on a loopback port, keeping nothing on disk (a restart comes back empty). */
export function startRedis(dir: string, port: number, children: ChildProcess[]): Promise<ChildProcess> {
  return startProcess(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    /Ready to accept connections/,
    { children },
  );
}

/** A cluster test's temp directory (named from `prefix`) with redis-server on a free port in it. */
export async function redisInTempDir(prefix: string, children: ChildProcess[]) {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  const port = await freePort();
  const redis = await startRedis(dir, port, children);
  return { dir, port, url: `redis://127.0.0.1:${port}`, redis };
}

/** Nodes of one cluster in this process, each with its own data directory under `dir`, started together as nodes of one deployment are. */
export function startClusterNodes(ws: Workspace, dir: string, redisUrl: string, nodeIds: string[]): Promise<RunningService[]> {
  return Promise.all(
    nodeIds.map((nodeId) =>
      startTestService(ws, {
        dataDir: path.join(dir, nodeId),
        influxUrl: inject('influxUrl'),
        cluster: { settings: clusterSettingsSchema.parse({ redis: redisUrl, nodeId }) },
      }),
    ),
  );
}

/** A `coldchain start --cluster` process and where it listens. */
export interface NodeProcess {
  id: string;
  dataDir: string;
  mqttPort: number;
  httpPort: number;
  process?: ChildProcess;
}

/** Where `coldchain start --cluster` processes will run: a data directory each under `dir`, free ports. */
export async function nodePlaces(dir: string, ids: string[]): Promise<NodeProcess[]> {
  const places: NodeProcess[] = [];
  for (const id of ids) places.push({ id, dataDir: path.join(dir, id), mqttPort: await freePort(), httpPort: await freePort() });
  return places;
}

/** Starts `node` as a `coldchain start --cluster` process (logging at info, to `sink` when given) and resolves once it says it started. */
export async function startNodeProcess(
  ws: Workspace,
  node: NodeProcess,
  redisUrl: string,
  options: { children: ChildProcess[]; sink?: (text: string) => void },
): Promise<void> {
  node.process = await startProcess(
    process.execPath,
    [
      CLI,
      'start',
      '--config',
      ws.configFile,
      '--data-dir',
      node.dataDir,
      '--mqtt-port',
      String(node.mqttPort),
      '--http-port',
      String(node.httpPort),
      '--influx-url',
      inject('influxUrl'),
      '--influx-db',
      ws.database,
      '--cluster',
      redisUrl,
      '--node-id',
      node.id,
    ],
    /coldchain service started/,
    { ...options, env: { ...process.env, COLDCHAIN_LOG_LEVEL: 'info' } },
  );
}

/**
 * Debian's HAProxy with `config` (lines of haproxy.cfg, written into `dir`); resolves once it
 * forwards an MQTT connection of `device` on `port` (HAProxy says little when it starts well).
 */
export async function startHaproxy(
  dir: string,
  config: string[],
  children: ChildProcess[],
  forwarding: { port: number; ws: Workspace; deviceId: string },
): Promise<void> {
  const cfg = path.join(dir, 'haproxy.cfg');
  writeFileSync(cfg, [...config, ''].join('\n'));
  children.push(spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'ignore'] }));
  const { port, ws, deviceId } = forwarding;
  await waitFor(
    async () =>
      connectDevice(port, deviceId, ws.deviceTokens[deviceId]!).then(
        (c) => c.endAsync().then(() => true),
        () => false,
      ),
    Boolean,
    15_000,
    'HAProxy forwarding MQTT',
  );
}

/** Waits until every reading acknowledged (device → device times, within [from, to)) is in the workspace's InfluxDB. */
export async function allStored(ws: Workspace, acked: Map<string, Set<number>>, from: number, to: number): Promise<void> {
  const influx = influxFor(ws);
  for (const [deviceId, want] of acked) {
    await waitFor(
      async () => {
        const series = await influx.query(`SELECT "temperature" FROM "readings" WHERE "deviceId" = '${deviceId}' AND time >= ${from}ms AND time < ${to}ms`);
        const stored = new Set((series[0]?.values ?? []).map((v) => v[0] as number));
        return [...want].filter((ts) => !stored.has(ts)).length;
      },
      (missing) => missing === 0,
      20_000,
      `every acknowledged reading of ${deviceId} in InfluxDB`,
    );
  }
}
