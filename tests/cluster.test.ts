import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunningService } from '../app/service.js';
import { clusterSettingsSchema } from '../cluster/engines.js';
import { loadAlertEvents } from '../alerts/event-store.js';
import { haproxyConfig } from '../bench/haproxy.js';
import { freePort } from '../storage/influxd.js';
import { redisInTempDir, startClusterNodes, startHaproxy } from './helpers/cluster.js';
import { connectDevice, influxFor, makeWorkspace, readingsStored, run, startTestService, waitFor, withUsers, type Workspace } from './helpers/workspace.js';
import { CLI } from './helpers/browser.js';
import { excursionReadings } from './helpers/alarms.js';

const MIN = 60_000;
const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
/** A sensor whose certificate ran out five days ago: a calibration_overdue alarm as soon as a node starts. */
const overdueSensor = (serial: string) => ({
  model: 'Testo 184 T4',
  serial,
  accuracy: { temperature: 0.2 },
  certificates: [
    {
      number: `CAL-${serial}`,
      laboratory: 'Shanghai Institute of Measurement',
      calibratedAt: day(-370),
      dueAt: day(-5),
      points: [{ quantity: 'temperature', reference: 5, reading: 5.1 }],
    },
  ],
});

/**
 * Two coldchain nodes as one MQTT service on aedes' own clustering (issue 16): Debian's
 * redis-server shares pub/sub (mqemitter-redis) and sessions (aedes-persistence-redis), Debian's
 * HAProxy spreads devices over the nodes, both nodes write into one InfluxDB. Everything on
 * loopback, on free ports.
 */
describe('cluster: two nodes behind HAProxy on Redis', () => {
  const processes: ChildProcess[] = [];
  const clients: MqttClient[] = [];
  let ws: Workspace;
  let redisUrl = '';
  let lbPort = 0;
  const nodes: RunningService[] = [];

  beforeAll(async () => {
    const redis = await redisInTempDir('cc-cluster-', processes);
    const dir = redis.dir;
    redisUrl = redis.url;
    const users = await withUsers('olga');
    ws = makeWorkspace({
      devices: ['room-1', 'room-2', 'room-3', 'room-4', { id: 'cal-1', location: 'dc-sh-cold-room-1', calibration: overdueSensor('CAL-1') }],
      yamlPatch: (yaml) => users(yaml),
    });
    nodes.push(...(await startClusterNodes(ws, dir, redisUrl, ['node-a', 'node-b'])));
    lbPort = await freePort();
    await startHaproxy(
      dir,
      haproxyConfig({ maxconn: 256, mqttPort: lbPort, nodes: nodes.map((n, i) => ({ name: `node-${i}`, mqttPort: n.mqttPort! })), check: 'check inter 1s' }),
      processes,
      { port: lbPort, ws, deviceId: 'room-2' },
    );
  });

  afterAll(async () => {
    for (const c of clients) c.end(true);
    for (const node of nodes) await node.stop();
    for (const p of processes) p.kill('SIGTERM');
  });

  it('an alert judged on node A reaches a subscriber on node B; readings taken through HAProxy are in the shared InfluxDB', async () => {
    const follower = await mqtt.connectAsync(`mqtt://127.0.0.1:${nodes[1]!.mqttPort}`, { username: 'olga', password: 'olga-password-1', reconnectPeriod: 0 });
    clients.push(follower);
    const messages: Array<{ deviceId: string; kind: string; event: string }> = [];
    follower.on('message', (_t, payload) => messages.push(JSON.parse(payload.toString())));
    await follower.subscribeAsync('cc/v1/alerts/#', { qos: 1 });

    const device = await connectDevice(nodes[0]!.mqttPort!, 'room-1', ws.deviceTokens['room-1']!);
    clients.push(device);
    const start = Date.now() - 26 * MIN;
    const readings = excursionReadings(start);
    await device.publishAsync('cc/v1/room-1/telemetry', JSON.stringify(readings), { qos: 1 });
    await waitFor(
      async () => messages.find((m) => m.deviceId === 'room-1' && m.kind === 'temperature_high' && m.event === 'activated'),
      Boolean,
      15_000,
      'the alert from node A on node B',
    );
    expect(nodes[0]!.alerts.book.list().some((a) => a.deviceId === 'room-1' && a.kind === 'temperature_high')).toBe(true);

    // Through the load balancer: four connections, spread over both nodes by round robin.
    const before = nodes.map((n) => n.pipeline.counters.acceptedReadings);
    for (let i = 0; i < 4; i++) {
      const c = await connectDevice(lbPort, 'room-2', ws.deviceTokens['room-2']!);
      await c.publishAsync('cc/v1/room-2/telemetry', JSON.stringify({ ts: Date.now() - (10 - i) * 1000, temperature: 4 + i / 10 }), { qos: 1 });
      await c.endAsync();
    }
    const taken = nodes.map((n, i) => n.pipeline.counters.acceptedReadings - before[i]!);
    expect(taken.reduce((a, b) => a + b)).toBe(4);
    expect(taken.every((n) => n > 0)).toBe(true);
    await readingsStored(influxFor(ws), 'room-2', (n) => n === 4, 'the four readings in InfluxDB');
  });

  it('one live connection per client id in the cluster: connecting on node B closes the same id on node A', async () => {
    const first = await connectDevice(nodes[0]!.mqttPort!, 'room-2', ws.deviceTokens['room-2']!, { clientId: 'room-2' });
    clients.push(first);
    const closed = new Promise<void>((resolve) => first.once('close', () => resolve()));
    const second = await connectDevice(nodes[1]!.mqttPort!, 'room-2', ws.deviceTokens['room-2']!, { clientId: 'room-2' });
    clients.push(second);
    await closed;
    expect(second.connected).toBe(true);
    await second.publishAsync('cc/v1/room-2/telemetry', JSON.stringify({ ts: Date.now(), temperature: 4.4 }), { qos: 1 });
  });

  it('a session is shared: a QoS 1 alert queued while the follower was away is delivered when it comes back on the other node', async () => {
    const options = { username: 'olga', password: 'olga-password-1', reconnectPeriod: 0, clean: false, clientId: 'olga-phone' };
    const away = await mqtt.connectAsync(`mqtt://127.0.0.1:${nodes[0]!.mqttPort}`, options);
    await away.subscribeAsync('cc/v1/alerts/#', { qos: 1 });
    await away.endAsync();

    const device = await connectDevice(nodes[0]!.mqttPort!, 'room-3', ws.deviceTokens['room-3']!);
    clients.push(device);
    const start = Date.now() - 50 * MIN;
    const readings = Array.from({ length: 20 }, (_, i) => ({ ts: start + i * MIN, temperature: i < 3 ? 5 : 1.0 }));
    await device.publishAsync('cc/v1/room-3/telemetry', JSON.stringify(readings), { qos: 1 });
    await waitFor(
      async () => nodes[0]!.alerts.book.list().find((a) => a.deviceId === 'room-3' && a.kind === 'temperature_low'),
      Boolean,
      15_000,
      'the low-temperature alert on node A',
    );

    const messages: Array<{ kind: string }> = [];
    const back = await mqtt.connectAsync(`mqtt://127.0.0.1:${nodes[1]!.mqttPort}`, { ...options, manualConnect: false });
    clients.push(back);
    back.on('message', (_t, payload) => messages.push(JSON.parse(payload.toString())));
    await waitFor(async () => messages.find((m) => m.kind === 'temperature_low'), Boolean, 15_000, 'the queued alert on node B');
  });

  it('one alert book: an alert judged on node A is listed and acknowledged through node B; a device moving to B mid-excursion keeps its one alert', async () => {
    const [a, b] = [nodes[0]!, nodes[1]!];
    const onA = await connectDevice(a.mqttPort!, 'room-4', ws.deviceTokens['room-4']!, { clientId: 'room-4' });
    clients.push(onA);
    const start = Date.now() - 40 * MIN;
    const hot = (from: number, to: number, temperature: number) =>
      Array.from({ length: to - from }, (_, i) => ({ ts: start + (from + i) * MIN, temperature: from + i < 5 ? 5 : temperature }));
    await onA.publishAsync('cc/v1/room-4/telemetry', JSON.stringify(hot(0, 25, 9.5)), { qos: 1 });
    const alertOf = (node: RunningService) => () =>
      Promise.resolve(node.alerts.book.list().filter((x) => x.deviceId === 'room-4' && x.kind === 'temperature_high'));
    const [raised] = await waitFor(alertOf(b), (list) => list.length === 1, 15_000, 'the alert judged on A in B’s book');
    const listed = (await (
      await fetch(`http://127.0.0.1:${b.httpPort}/api/v1/alerts`, { headers: { Authorization: `Bearer ${ws.apiTokens.viewer}` } })
    ).json()) as {
      alerts: Array<{ id: string }>;
    };
    expect(listed.alerts.map((x) => x.id)).toContain(raised!.id);
    const ack = await fetch(`http://127.0.0.1:${b.httpPort}/api/v1/alerts/${raised!.id}/ack`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ws.apiTokens.admin}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ user: 'olga', password: 'olga-password-1', meaning: 'acknowledged', comment: 'door of room 4 checked' }),
    });
    expect(ack.status).toBe(200);
    await waitFor(alertOf(a), (list) => list[0]?.state === 'acknowledged', 10_000, 'the acknowledgement made on B in A’s book');
    // What A judged is in InfluxDB, where B's warm-up reads it.
    await readingsStored(influxFor(ws), 'room-4', (n) => n === 25, 'room-4 readings in InfluxDB');

    // The device reconnects on node B (aedes closes it on A): B judges it from now on.
    const onB = await connectDevice(b.mqttPort!, 'room-4', ws.deviceTokens['room-4']!, { clientId: 'room-4' });
    clients.push(onB);
    await onB.publishAsync('cc/v1/room-4/telemetry', JSON.stringify(hot(25, 30, 9.8)), { qos: 1 });
    await waitFor(
      async () => b.alerts.engine.recent('room-4', start + 25 * MIN).length,
      (n) => n === 5,
      15_000,
      'the new readings judged on B',
    );
    expect(a.alerts.engine.recent('room-4', 0)).toEqual([]);
    for (const node of [a, b]) expect((await alertOf(node)()).map((x) => [x.id, x.state])).toEqual([[raised!.id, 'acknowledged']]);

    // Back in range, judged on B: the same alert clears, in A's book too.
    await onB.publishAsync('cc/v1/room-4/telemetry', JSON.stringify(hot(30, 36, 5)), { qos: 1 });
    await waitFor(
      alertOf(a),
      (list) => list.length === 1 && list[0]!.state === 'cleared' && list[0]!.id === raised!.id,
      15_000,
      'the clearing judged on B in A’s book',
    );
  });

  // Before the spool drain test: its node C is a single node that raises the same alarm into the same database.
  it("a sensor's overdue calibration is one alarm raised once, not one per node", async () => {
    const overdue = (node: RunningService) => node.alerts.book.list().filter((a) => a.deviceId === 'cal-1' && a.kind === 'calibration_overdue');
    const [a, b] = await waitFor(
      async () => nodes.map((n) => overdue(n).map((x) => `${x.id} ${x.state}`)),
      (lists) => lists.every((l) => l.length === 1) && lists[0]![0] === lists[1]![0],
      15_000,
      'the overdue calibration alarm in both books',
    );
    expect(a).toEqual(b);
    const id = overdue(nodes[0]!)[0]!.id;
    for (const node of nodes) await node.writer.flush(10_000);
    const events = (await loadAlertEvents(influxFor(ws), { alertId: id })).map((e) => e.event);
    expect(events.filter((e) => e === 'activated')).toEqual(['activated']);
  });

  it("a node that is gone: coldchain spool drain delivers what it acknowledged into the shared InfluxDB, and refuses a live node's directory", async () => {
    // A node whose InfluxDB is unreachable acknowledges readings into its spool only.
    const deadInflux = `http://127.0.0.1:${await freePort()}`;
    const dataDir = path.join(path.dirname(nodes[0]!.dataDir), 'node-c');
    const nodeC = await startTestService(ws, { dataDir, influxUrl: deadInflux });
    const device = await connectDevice(nodeC.mqttPort!, 'room-1', ws.deviceTokens['room-1']!);
    const t0 = Date.now() - 5 * MIN;
    const readings = [0, 1, 2].map((i) => ({ ts: t0 + i * 1000, temperature: 3.3 + i / 10 }));
    await device.publishAsync('cc/v1/room-1/telemetry', JSON.stringify(readings), { qos: 1 });
    await device.endAsync();
    await nodeC.stop();
    const stored = async () =>
      Number(
        (await influxFor(ws).query(`SELECT count("temperature") FROM "readings" WHERE "deviceId" = 'room-1' AND time >= ${t0}ms AND time <= ${t0 + 2000}ms`))[0]
          ?.values[0]?.[1] ?? 0,
      );
    expect(await stored()).toBe(0);

    const live = await run('node', [
      CLI,
      'spool',
      'drain',
      nodes[0]!.dataDir,
      '--config',
      ws.configFile,
      '--influx-url',
      inject('influxUrl'),
      '--influx-db',
      ws.database,
    ]);
    expect(live.code).toBe(1);
    expect(live.stderr).toMatch(/a node still runs on this data directory/);

    const drained = await run(
      'node',
      [CLI, 'spool', 'drain', dataDir, '--config', ws.configFile, '--influx-url', inject('influxUrl'), '--influx-db', ws.database],
      undefined,
      60_000,
    );
    expect(drained.stderr + drained.stdout).toMatch(/delivered \d+ records/);
    expect(drained.code).toBe(0);
    expect(await stored()).toBe(3);
  });

  it('refuses a Redis password in the URL, naming where it goes', () => {
    const parsed = clusterSettingsSchema.safeParse({ redis: 'redis://:secret@127.0.0.1:6379' });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.message).toMatch(/COLDCHAIN_REDIS_PASSWORD/);
  });
});
