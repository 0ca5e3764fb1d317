import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import mqtt, { type MqttClient, type IClientOptions } from 'mqtt';
import { afterAll, beforeAll, inject } from 'vitest';
import { appendToList, editConfig } from '../../core/config/edit.js';
import { loadConfig } from '../../core/config/load.js';
import { createLogger } from '../../core/logger.js';
import { generateToken, hashPassword, hashToken } from '../../core/secrets.js';
import { InfluxClient, compactionsActive, type Series } from '../../storage/influx.js';
import { startService, type Overrides, type RunningService } from '../../app/service.js';
import { SAMPLE_CONFIG } from '../../cli/sample-config.js';

export const testLog = createLogger((process.env.TEST_LOG_LEVEL as 'info') ?? 'silent', 'test');

export interface Workspace {
  dir: string;
  configFile: string;
  database: string;
  deviceTokens: Record<string, string>;
  apiTokens: Record<string, string>;
}

/** Config patch for tests that stream as fast as they can: the per-device rate limit would pace them. */
export const unlimitedRate = (yaml: string) => yaml.replace(/ratePerDevice: \d+/, 'ratePerDevice: 1000000').replace(/rateBurst: \d+/, 'rateBurst: 1000000');

/** A calibration in force from a month ago for a year, for tests whose reports should not flag the sensor as uncalibrated. */
export const calibratedSensor = (serial: string) => {
  const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
  return {
    model: 'Testo 184 T4',
    serial,
    accuracy: { temperature: 0.2, humidity: 2 },
    certificates: [
      {
        number: `CAL-${serial}`,
        laboratory: 'Shanghai Institute of Measurement',
        calibratedAt: day(-30),
        dueAt: day(335),
        points: [{ quantity: 'temperature', reference: 5, reading: 5.1 }],
      },
    ],
  };
};

/** People who sign in with a password, `<name>-password-1`, by name. */
const TEST_USERS = {
  quinn: { fullName: 'Quinn QA', role: 'qa' },
  olga: { fullName: 'Olga Operator', role: 'operator' },
  ada: { fullName: 'Ada Admin', role: 'admin' },
};

/** A config patch that lists the named users in place of the sample's `users: []` (their passwords hashed first, hence async). */
export async function withUsers(...names: Array<keyof typeof TEST_USERS>): Promise<(yaml: string) => string> {
  const entries: string[] = [];
  for (const name of names) {
    const { fullName, role } = TEST_USERS[name];
    entries.push(`  - { name: ${name}, fullName: ${fullName}, role: ${role}, passwordHash: "${await hashPassword(`${name}-password-1`)}" }`);
  }
  return (yaml) => yaml.replace('users: []', `users:\n${entries.join('\n')}`);
}

/** A temp dir with the sample config, the given devices (by default in the 2–8 °C cold room) and one API token per role. */
export function makeWorkspace(options: {
  devices: Array<string | { id: string; location: string; interval?: string; calibration?: Record<string, unknown> }>;
  location?: string;
  yamlPatch?: (yaml: string) => string;
}): Workspace {
  const dir = mkdtempSync(path.join(tmpdir(), 'cc-test-'));
  const configFile = path.join(dir, 'coldchain.yaml');
  writeFileSync(configFile, options.yamlPatch ? options.yamlPatch(SAMPLE_CONFIG) : SAMPLE_CONFIG);
  const deviceTokens: Record<string, string> = {};
  const apiTokens: Record<string, string> = {};
  editConfig(configFile, (doc) => {
    // The daily backup would start within a test's run after its time of day; tests/backup.test.ts covers it.
    if (doc.hasIn(['backup', 'enabled'])) doc.setIn(['backup', 'enabled'], false);
    for (const device of options.devices) {
      const { id, location, interval, calibration } =
        typeof device === 'string' ? { id: device, location: options.location ?? 'dc-sh-cold-room-1', interval: '60s', calibration: undefined } : device;
      deviceTokens[id] = generateToken('dev');
      appendToList(doc, 'devices', {
        id,
        location,
        interval: interval ?? '60s',
        tokenHash: hashToken(deviceTokens[id]),
        ...(calibration ? { calibration } : {}),
      });
    }
    for (const role of ['admin', 'viewer']) {
      apiTokens[role] = generateToken('api');
      appendToList(doc, 'apiTokens', { id: `test-${role}`, role, tokenHash: hashToken(apiTokens[role]) });
    }
  });
  return { dir, configFile, database: `t_${randomUUID().replace(/-/g, '').slice(0, 12)}`, deviceTokens, apiTokens };
}

export async function startTestService(ws: Workspace, overrides: Overrides = {}): Promise<RunningService> {
  return startService(loadConfig(ws.configFile), { mqttPort: 0, httpPort: 0, influxUrl: inject('influxUrl'), influxDb: ws.database, ...overrides }, testLog);
}

/** Where the service's HTTP API answers. */
export const httpBase = (service: RunningService) => `http://127.0.0.1:${service.httpPort}`;

/**
 * A test's caller of the service's HTTP API at `base()`: the body sent as JSON, the answer read as
 * JSON (as text when it is not), with its status and content type; as `token` (by default
 * `defaultToken()`, null: no Authorization header).
 */
export function apiCaller(base: () => string, defaultToken: () => string) {
  return async (method: string, path: string, body?: unknown, token: string | null = defaultToken()) => {
    const response = await fetch(`${base()}${path}`, {
      method,
      headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const type = response.headers.get('content-type') ?? '';
    return { status: response.status, type, body: (type.includes('json') ? await response.json() : await response.text()) as any };
  };
}

/** The first five bytes of an answer, as text: `%PDF-` for a PDF. */
export const leadingBytes = async (response: Response): Promise<string> =>
  Buffer.from(await response.arrayBuffer())
    .subarray(0, 5)
    .toString();

export function influxFor(ws: Workspace, url = inject('influxUrl')): InfluxClient {
  return new InfluxClient({ url, database: ws.database });
}

/**
 * Waits until InfluxDB runs no compaction of the workspace's database (two looks in a row, 200 ms
 * apart). Right after a bulk write, influxd 1.6 compacts the new TSM files; a query that meets a
 * shard in the middle of that has been seen to miss the shard's points, so tests that compare
 * counts over freshly written bulk data wait for it first.
 */
export async function compactionsSettled(ws: Workspace, timeoutMs = 60_000): Promise<void> {
  const influx = new InfluxClient({ url: inject('influxUrl'), database: ws.database });
  const active = () => compactionsActive(influx, ws.database);
  let quiet = 0;
  await waitFor(
    async () => {
      quiet = (await active()) === 0 ? quiet + 1 : 0;
      if (quiet < 2) await new Promise((r) => setTimeout(r, 200));
      return quiet;
    },
    (n) => n >= 2,
    timeoutMs,
    `InfluxDB to finish compacting ${ws.database}`,
  );
}

export async function connectDevice(port: number, deviceId: string, token: string, extra: IClientOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
    username: deviceId,
    password: token,
    clientId: `${deviceId}-${randomUUID().slice(0, 8)}`,
    reconnectPeriod: 0,
    ...extra,
  });
}

/** One telemetry message of `readings` from `deviceId`, QoS 1: resolved on its PUBACK (the readings are in the spool). */
export const publishReadings = (client: MqttClient, deviceId: string, readings: unknown[]) =>
  client.publishAsync(`cc/v1/${deviceId}/telemetry`, JSON.stringify({ readings }), { qos: 1 });

/**
 * The workspace's devices on the running service's broker (both asked for when a device connects,
 * so a restarted service is found): `connect` opens a client of a device's own, `send` connects and
 * publishes one telemetry message; `close` ends every client they opened.
 */
export function testDevices(current: () => { service: RunningService; ws: Workspace }) {
  const clients: MqttClient[] = [];
  const connect = async (deviceId: string) => {
    const { service, ws } = current();
    const client = await connectDevice(service.mqttPort!, deviceId, ws.deviceTokens[deviceId]!);
    clients.push(client);
    return client;
  };
  return {
    connect,
    send: async (deviceId: string, readings: unknown[]) => {
      const client = await connect(deviceId);
      await publishReadings(client, deviceId, readings);
      return client;
    },
    close: () => Promise.all(clients.map((c) => c.endAsync().catch(() => undefined))),
  };
}

/** A workspace for tests that stream as fast as they can: `makeWorkspace`'s devices, with the named users and no rate limit. */
export interface SuiteWorkspace {
  devices: Parameters<typeof makeWorkspace>[0]['devices'];
  users?: Array<keyof typeof TEST_USERS>;
  /** Applied after `unlimitedRate`, before the users are listed. */
  yamlPatch?: (yaml: string) => string;
}

export async function streamingWorkspace({ devices, users = [], yamlPatch = (yaml) => yaml }: SuiteWorkspace): Promise<Workspace> {
  // withUsers with no names would empty the sample's `users: []` into a null list.
  const listUsers = users.length ? await withUsers(...users) : (yaml: string) => yaml;
  return makeWorkspace({ devices, yamlPatch: (yaml) => listUsers(yamlPatch(unlimitedRate(yaml))) });
}

export interface ServiceSuite {
  ws: Workspace;
  service: RunningService;
  base: string;
  /** The HTTP API, as the admin token unless told (apiCaller). */
  api: ReturnType<typeof apiCaller>;
  devices: ReturnType<typeof testDevices>;
  restart: () => Promise<void>;
}

/**
 * One running service for a describe block, against the real influxd and broker: its beforeAll
 * (registered first, so it runs before the block's own) makes the workspace with `workspace()`
 * and starts the service; its afterAll closes the device clients and stops it. `ws`, `service`
 * and `base` are set once it has started; `restart` stops the service and starts it again on the
 * same workspace (what it keeps is what a restart keeps).
 */
export function serviceOn(workspace: () => Workspace | Promise<Workspace>): ServiceSuite {
  const suite: ServiceSuite = {
    ws: undefined as unknown as Workspace,
    service: undefined as unknown as RunningService,
    base: '',
    api: apiCaller(
      () => suite.base,
      () => suite.ws.apiTokens.admin!,
    ),
    devices: testDevices(() => suite),
    restart: async () => {
      await suite.service.stop();
      await start();
    },
  };
  const start = async () => {
    suite.service = await startTestService(suite.ws);
    suite.base = httpBase(suite.service);
  };
  beforeAll(async () => {
    suite.ws = await workspace();
    await start();
  });
  afterAll(async () => {
    await suite.devices.close();
    await suite.service?.stop();
  });
  return suite;
}

/** `serviceOn` the `streamingWorkspace` that `options()` describes. */
export const serviceSuite = (options: () => SuiteWorkspace | Promise<SuiteWorkspace>): ServiceSuite =>
  serviceOn(async () => streamingWorkspace(await options()));

/** A waybill of the sample's vaccines (2–8 °C) from the Shanghai DC to the Pudong hospital; `fields` add to it or replace. */
export const waybill = (id: string, fields: { batch: string; quantity: number } & Record<string, unknown>) => ({
  id,
  product: 'Influenza vaccine 0.5 ml',
  profile: 'vaccines-2-8',
  shipper: 'Shanghai DC',
  consignee: 'Pudong hospital pharmacy',
  ...fields,
});

/** A database the service has not created yet holds nothing; any other query error fails the test. */
function notYetCreated(err: Error): Series[] {
  if (/database not found/.test(err.message)) return [];
  throw err;
}

export async function readingCount(influx: InfluxClient, deviceId: string): Promise<number> {
  const series = await influx.query(`SELECT count("temperature") FROM "readings" WHERE "deviceId" = '${deviceId}'`).catch(notYetCreated);
  return Number(series[0]?.values[0]?.[1] ?? 0);
}

/** Waits until the count of `deviceId`'s readings in InfluxDB passes `check` (throws after `timeoutMs`, naming `what`); returns it. */
export const readingsStored = (influx: InfluxClient, deviceId: string, check: (n: number) => boolean, what: string, timeoutMs = 20_000) =>
  waitFor(() => readingCount(influx, deviceId), check, timeoutMs, what);

/** The workspace's API token of `role` in a file of its own (mode 600), for the CLI's --token-file; its path. */
export function tokenFileOf(ws: Workspace, role: 'admin' | 'viewer'): string {
  const file = path.join(ws.dir, `${role}.token`);
  writeFileSync(file, `${ws.apiTokens[role]!}\n`, { mode: 0o600 });
  return file;
}

export async function rejectsOf(influx: InfluxClient, deviceId: string): Promise<Array<{ reason: string; message: string; payload: string }>> {
  const series = await influx
    .query(`SELECT "reason", "message", "payload", "index" FROM "rejects" WHERE "deviceId" = '${deviceId}' ORDER BY time`)
    .catch(notYetCreated);
  const s = series[0];
  if (!s) return [];
  return s.values.map((row) => Object.fromEntries(s.columns.map((c, i) => [c, row[i]])) as { reason: string; message: string; payload: string });
}

/** Waits until `deviceId`'s quarantined messages in InfluxDB pass `check` (throws after `timeoutMs`, naming `what`); returns them. */
export const rejectsStored = (
  influx: InfluxClient,
  deviceId: string,
  check: (rejects: Awaited<ReturnType<typeof rejectsOf>>) => boolean,
  what: string,
  timeoutMs = 20_000,
) => waitFor(() => rejectsOf(influx, deviceId), check, timeoutMs, what);

/** Polls until `check` returns true (or throws with the last value after `timeoutMs`). */
export async function waitFor<T>(probe: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await probe();
  while (!check(value)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 100));
    value = await probe();
  }
  return value;
}

/** Runs a command without blocking the event loop (the service under test lives in this process). */
export function run(command: string, args: string[], input?: string, timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    // A command that exits without reading its input closes the pipe first (EPIPE): its exit code and output say what happened.
    child.stdin.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') reject(err);
    });
    child.stdin.end(input ?? '');
  });
}
