import mqtt from 'mqtt';
import { beforeAll, describe, expect, it } from 'vitest';
import { haproxyConfig } from '../bench/haproxy.js';
import { freePort } from '../storage/influxd.js';
import { allStored, endedAfterAll, nodePlaces, redisInTempDir, startHaproxy, startNodeProcess, type NodeProcess } from './helpers/cluster.js';
import { connectDevice, streamingWorkspace, waitFor, type Workspace } from './helpers/workspace.js';

const MIN = 60_000;
const STREAMERS = ['s-1', 's-2', 's-3', 's-4', 's-5', 's-6'];

/**
 * The cluster as it is deployed (issue 16): Debian's redis-server and HAProxy, three
 * `coldchain start --cluster` processes with their own data directories, one shared influxd.
 * One node is SIGKILLed while devices stream through HAProxy: nothing acknowledged is lost, the
 * devices reconnect through HAProxy, and the alert book stays one across the nodes.
 */
describe('cluster: three node processes behind HAProxy, one SIGKILLed mid-stream', () => {
  const { children, clients } = endedAfterAll();
  const nodes: NodeProcess[] = [];
  let ws: Workspace;
  let redisUrl = '';
  let lbPort = 0;
  let lbHttpPort = 0;

  const startNode = (node: NodeProcess) => startNodeProcess(ws, node, redisUrl, { children });

  const api = (node: NodeProcess) => `http://127.0.0.1:${node.httpPort}/api/v1`;
  const alertsOn = async (node: NodeProcess, deviceId: string) =>
    (
      (await (await fetch(`${api(node)}/alerts`, { headers: { Authorization: `Bearer ${ws.apiTokens.viewer}` } })).json()) as {
        alerts: Array<{ id: string; deviceId: string; kind: string; state: string; acknowledged: { printedName: string } | null }>;
      }
    ).alerts.filter((a) => a.deviceId === deviceId);
  const ack = (node: NodeProcess, id: string, comment: string) =>
    fetch(`${api(node)}/alerts/${id}/ack`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ws.apiTokens.admin}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ user: 'olga', password: 'olga-password-1', meaning: 'acknowledged', comment }),
    });

  beforeAll(async () => {
    const redis = await redisInTempDir('cc-cluster-kill-', children);
    redisUrl = redis.url;
    ws = await streamingWorkspace({ devices: [...STREAMERS, 'hot-1', 'hot-2'], users: ['olga'] });
    nodes.push(...(await nodePlaces(redis.dir, ['node-a', 'node-b', 'node-c'])));
    await Promise.all(nodes.map(startNode));

    lbPort = await freePort();
    lbHttpPort = await freePort();
    await startHaproxy(
      redis.dir,
      haproxyConfig({
        maxconn: 512,
        mqttPort: lbPort,
        httpPort: lbHttpPort,
        nodes: nodes.map((n) => ({ name: n.id, mqttPort: n.mqttPort, httpPort: n.httpPort })),
        check: 'check inter 500ms fall 1 rise 2',
        failover: true,
      }),
      children,
      { port: lbPort, ws, deviceId: 'hot-2' },
    );
  }, 60_000);

  it('every acknowledged reading is stored, devices reconnect through HAProxy, and alerts stay one each across the failure', async () => {
    const [a, b, c] = [nodes[0]!, nodes[1]!, nodes[2]!];
    // An MQTT follower on node B.
    const follower = await mqtt.connectAsync(`mqtt://127.0.0.1:${b.mqttPort}`, { username: 'olga', password: 'olga-password-1', reconnectPeriod: 0 });
    clients.push(follower);
    const seen: Array<{ type: string; event: string; deviceId: string; kind: string; id: string }> = [];
    follower.on('message', (_t, payload) => seen.push(JSON.parse(payload.toString())));
    await follower.subscribeAsync('cc/v1/alerts/#', { qos: 1 });

    // hot-1 on node A, in an excursion: judged on A, heard on B, acknowledged through C.
    const t0 = Date.now() - 60 * MIN;
    const hot = (from: number, to: number, inside: number, outside: number) =>
      Array.from({ length: to - from }, (_, i) => ({ ts: t0 + (from + i) * MIN, temperature: from + i < 5 ? inside : outside }));
    const hotOnA = await connectDevice(a.mqttPort, 'hot-1', ws.deviceTokens['hot-1']!, { clientId: 'hot-1' });
    clients.push(hotOnA);
    await hotOnA.publishAsync('cc/v1/hot-1/telemetry', JSON.stringify(hot(0, 25, 5, 9.5)), { qos: 1 });
    const raised = await waitFor(
      async () => seen.find((m) => m.type === 'alert' && m.deviceId === 'hot-1' && m.kind === 'temperature_high' && m.event === 'activated'),
      Boolean,
      15_000,
      'the alert judged on node A, on node B',
    );
    expect((await ack(c, raised!.id, 'checked the cold room door')).status).toBe(200);
    // A board session started on node A, the node about to die.
    const signIn = await fetch(`${api(a)}/session`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ user: 'olga', password: 'olga-password-1' }),
    });
    expect(signIn.status).toBe(201);
    const { token: boardToken } = (await signIn.json()) as { token: string };
    await waitFor(
      async () => (await alertsOn(b, 'hot-1'))[0]?.state,
      (s) => s === 'acknowledged',
      10_000,
      'the acknowledgement made on C, on B',
    );

    // Six devices stream through HAProxy (round robin: two on each node); each PUBACK is recorded.
    const acked = new Map<string, Set<number>>(STREAMERS.map((d) => [d, new Set<number>()]));
    const drops = new Map<string, number>(STREAMERS.map((d) => [d, 0]));
    const streamers = await Promise.all(
      STREAMERS.map(async (deviceId) => {
        const client = await connectDevice(lbPort, deviceId, ws.deviceTokens[deviceId]!, { clientId: deviceId, reconnectPeriod: 200, connectTimeout: 2000 });
        clients.push(client);
        client.on('close', () => drops.set(deviceId, drops.get(deviceId)! + 1));
        return client;
      }),
    );
    const s0 = Date.now() - 30 * MIN;
    const pending: Array<Promise<unknown>> = [];
    const READINGS = 100;
    let killed = false;
    for (let i = 0; i < READINGS; i++) {
      streamers.forEach((client, k) => {
        const deviceId = STREAMERS[k]!;
        const ts = s0 + i * 1000;
        pending.push(
          client.publishAsync(`cc/v1/${deviceId}/telemetry`, JSON.stringify({ ts, temperature: 4 + (i % 10) / 10 }), { qos: 1 }).then(
            () => acked.get(deviceId)!.add(ts),
            () => undefined,
          ),
        );
      });
      if (i === Math.floor(READINGS / 3)) {
        a.process!.kill('SIGKILL');
        killed = true;
      }
      await new Promise((r) => setTimeout(r, 40));
    }
    expect(killed).toBe(true);
    // Every stream ends once its last publish is acknowledged (or refused), bounded in time.
    await Promise.race([Promise.all(pending), new Promise((r) => setTimeout(r, 20_000))]);

    // The devices that were on A reconnected through HAProxy, to B or C.
    expect([...drops.values()].filter((n) => n > 0).length).toBeGreaterThanOrEqual(1);
    await waitFor(async () => streamers.every((s) => s.connected), Boolean, 15_000, 'every streaming device connected again');

    // hot-1 comes back through HAProxy and its excursion goes on: still the one acknowledged alert.
    const hotBack = await connectDevice(lbPort, 'hot-1', ws.deviceTokens['hot-1']!, { clientId: 'hot-1' });
    clients.push(hotBack);
    await hotBack.publishAsync('cc/v1/hot-1/telemetry', JSON.stringify(hot(25, 30, 5, 9.8)), { qos: 1 });
    // hot-2 breaks its range after the failure: one alert, heard on B, acknowledged through the other live node.
    const hot2 = await connectDevice(lbPort, 'hot-2', ws.deviceTokens['hot-2']!, { clientId: 'hot-2' });
    clients.push(hot2);
    await hot2.publishAsync('cc/v1/hot-2/telemetry', JSON.stringify(hot(0, 25, 5, 0.5)), { qos: 1 });
    const low = await waitFor(
      async () => seen.find((m) => m.type === 'alert' && m.deviceId === 'hot-2' && m.kind === 'temperature_low' && m.event === 'activated'),
      Boolean,
      15_000,
      'the alert raised after the failure, on node B',
    );
    expect((await ack(c, low!.id, 'freezer door shut')).status).toBe(200);

    // The board session started on A holds on B and C, through HAProxy; a stream ticket asked for on one node opens the stream on another.
    for (let i = 0; i < 4; i++) {
      const me = await fetch(`http://127.0.0.1:${lbHttpPort}/api/v1/session`, { headers: { Authorization: `Bearer ${boardToken}` } });
      expect(me.status).toBe(200);
      expect(((await me.json()) as { user: string }).user).toBe('olga');
    }
    const ticket = await fetch(`${api(b)}/stream/ticket`, { method: 'POST', headers: { Authorization: `Bearer ${boardToken}` } });
    expect(ticket.status).toBe(201);
    const { url } = (await ticket.json()) as { url: string };
    const abort = new AbortController();
    const stream = await fetch(`http://127.0.0.1:${c.httpPort}${url}`, { signal: abort.signal });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/text\/event-stream/);
    abort.abort();
    // One use: the same ticket is refused on the other node.
    expect((await fetch(`http://127.0.0.1:${b.httpPort}${url}`)).status).toBe(401);

    // Node A comes back on its data directory: its spool goes into InfluxDB.
    await startNode(a);
    await allStored(ws, acked, s0, s0 + READINGS * 1000);
    expect([...acked.values()].reduce((n, s) => n + s.size, 0)).toBeGreaterThan(STREAMERS.length * READINGS * 0.5);

    // One alert each, the same on every node (A included, rebuilt and following again).
    for (const node of [a, b, c]) {
      await waitFor(
        async () => (await alertsOn(node, 'hot-1')).filter((x) => x.kind === 'temperature_high').map((x) => `${x.id} ${x.state}`),
        (list) => list.length === 1 && list[0] === `${raised!.id} acknowledged`,
        15_000,
        `hot-1's one acknowledged alert on ${node.id}`,
      );
      await waitFor(
        async () => (await alertsOn(node, 'hot-2')).filter((x) => x.kind === 'temperature_low').map((x) => `${x.id} ${x.state}`),
        (list) => list.length === 1 && list[0] === `${low!.id} acknowledged`,
        15_000,
        `hot-2's one acknowledged alert on ${node.id}`,
      );
    }
    expect(seen.filter((m) => m.type === 'alert' && m.deviceId === 'hot-1' && m.event === 'activated' && m.kind === 'temperature_high').length).toBe(1);
  }, 90_000);
});
