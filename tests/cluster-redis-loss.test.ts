import type { ChildProcess } from 'node:child_process';
import mqtt from 'mqtt';
import { beforeAll, describe, expect, it } from 'vitest';
import { allStored, endedAfterAll, nodePlaces, redisInTempDir, startNodeProcess, startRedis, type NodeProcess } from './helpers/cluster.js';
import { connectDevice, streamingWorkspace, waitFor, type Workspace } from './helpers/workspace.js';
import { excursionReadings } from './helpers/alarms.js';

const MIN = 60_000;
const STREAMERS = ['r-1', 'r-2', 'r-3', 'r-4'];

interface Node extends NodeProcess {
  log: string;
}

/**
 * Redis goes away under a running cluster (SIGKILL of redis-server, issue 16) and comes back
 * empty on the same port a few seconds later. Devices keep publishing to the node they are
 * connected to: every PUBACKed reading is stored (PUBACK follows the node's own fsync, Redis
 * plays no part in it), no node dies, the operator is told (a logged error and the `cluster`
 * component of /healthz), and once Redis is back the nodes share alerts again without a restart.
 */
describe('cluster: Redis is SIGKILLed mid-stream and comes back', () => {
  const { children, clients } = endedAfterAll();
  const nodes: Node[] = [];
  let ws: Workspace;
  let dir = '';
  let redisPort = 0;
  let redis: ChildProcess | undefined;

  const startNode = (node: Node) =>
    startNodeProcess(ws, node, `redis://127.0.0.1:${redisPort}`, {
      children,
      // Bounded: the last 200 kB of each node's log is enough to read what it said about Redis.
      sink: (text) => {
        node.log = (node.log + text).slice(-200_000);
      },
    });

  const health = async (node: Node) => {
    const res = await fetch(`http://127.0.0.1:${node.httpPort}/healthz`);
    return { status: res.status, body: (await res.json()) as { components: Record<string, { ready: boolean; redis?: string }> } };
  };

  beforeAll(async () => {
    ({ dir, port: redisPort, redis } = await redisInTempDir('cc-cluster-redis-', children));
    ws = await streamingWorkspace({ devices: [...STREAMERS, 'hot-1', 'hot-2', 'late-1'], users: ['olga'] });
    nodes.push(...(await nodePlaces(dir, ['node-a', 'node-b'])).map((place) => ({ ...place, log: '' })));
    await Promise.all(nodes.map(startNode));
  }, 60_000);

  it('acknowledged readings are all stored, no node dies, the operator is told, and alerts cross nodes again once Redis is back', async () => {
    const [a, b] = [nodes[0]!, nodes[1]!];
    for (const node of nodes) expect((await health(node)).body.components.cluster).toMatchObject({ ready: true, redis: 'connected' });

    // Followers of alerts on both nodes; hot-1 on A, quiet until Redis is away.
    const followers = new Map<string, Array<{ type: string; event: string; deviceId: string; kind: string; id: string }>>();
    for (const node of nodes) {
      const follower = await mqtt.connectAsync(`mqtt://127.0.0.1:${node.mqttPort}`, { username: 'olga', password: 'olga-password-1', reconnectPeriod: 0 });
      clients.push(follower);
      const seen: Array<{ type: string; event: string; deviceId: string; kind: string; id: string }> = [];
      follower.on('message', (_t, payload) => seen.push(JSON.parse(payload.toString())));
      await follower.subscribeAsync('cc/v1/alerts/#', { qos: 1 });
      followers.set(node.id, seen);
    }
    const hot1 = await connectDevice(a.mqttPort, 'hot-1', ws.deviceTokens['hot-1']!, { clientId: 'hot-1' });
    clients.push(hot1);
    const excursion = (t0: number) => JSON.stringify(excursionReadings(t0));
    const activated = (nodeId: string, deviceId: string) =>
      followers.get(nodeId)!.find((m) => m.type === 'alert' && m.deviceId === deviceId && m.kind === 'temperature_high' && m.event === 'activated');
    let lateConnection: 'refused' | 'accepted' | undefined;

    // Four devices stream QoS 1, two on each node; each PUBACK is recorded with when it came.
    const acked = new Map<string, Set<number>>(STREAMERS.map((d) => [d, new Set<number>()]));
    const ackedAt: number[] = [];
    const streamers = await Promise.all(
      STREAMERS.map(async (deviceId, k) => {
        const node = nodes[k % 2]!;
        const client = await connectDevice(node.mqttPort, deviceId, ws.deviceTokens[deviceId]!, {
          clientId: deviceId,
          reconnectPeriod: 200,
          connectTimeout: 2000,
        });
        clients.push(client);
        return client;
      }),
    );
    const s0 = Date.now() - 30 * MIN;
    const pending: Array<Promise<unknown>> = [];
    const READINGS = 150;
    let killedAt = 0;
    let backAt = 0;
    let sawDown: Awaited<ReturnType<typeof health>> | undefined;
    for (let i = 0; i < READINGS; i++) {
      streamers.forEach((client, k) => {
        const deviceId = STREAMERS[k]!;
        const ts = s0 + i * 1000;
        pending.push(
          client.publishAsync(`cc/v1/${deviceId}/telemetry`, JSON.stringify({ ts, temperature: 4 + (i % 10) / 10 }), { qos: 1 }).then(
            () => {
              acked.get(deviceId)!.add(ts);
              ackedAt.push(Date.now());
            },
            () => undefined,
          ),
        );
      });
      if (i === 30) {
        redis!.kill('SIGKILL');
        killedAt = Date.now();
      }
      // While Redis is away: an alert judged on A, and a device that connects anew.
      if (i === 50) {
        await hot1.publishAsync('cc/v1/hot-1/telemetry', excursion(Date.now() - 40 * MIN), { qos: 1 });
        lateConnection = await connectDevice(b.mqttPort, 'late-1', ws.deviceTokens['late-1']!, { clientId: 'late-1', connectTimeout: 3000 }).then(
          (c) => (clients.push(c), 'accepted' as const),
          (err: Error) => (/unavailable/i.test(err.message) ? ('refused' as const) : (err.message as 'refused')),
        );
      }
      // Away for about three seconds: the nodes say so meanwhile.
      if (i === 90) {
        sawDown = await health(a);
        redis = await startRedis(dir, redisPort, children);
        backAt = Date.now();
      }
      await new Promise((r) => setTimeout(r, 40));
    }
    await Promise.race([Promise.all(pending), new Promise((r) => setTimeout(r, 20_000))]);

    // No node died; devices kept being acknowledged by their node while Redis was away.
    for (const node of nodes) expect(node.process!.exitCode, `${node.id} exited:\n${node.log.slice(-3000)}`).toBeNull();
    expect(ackedAt.filter((t) => t > killedAt + 500 && t < backAt).length).toBeGreaterThan(STREAMERS.length * 20);
    // The operator was told: a logged error, and /healthz's cluster component while it lasted (still 200: the node serves).
    expect(sawDown!.status).toBe(200);
    expect(sawDown!.body.components.cluster).toMatchObject({ ready: true, redis: 'unreachable' });
    for (const node of nodes) expect(node.log).toMatch(/"level":50[^\n]*cluster: Redis cannot be reached/);

    // Every acknowledged reading is in InfluxDB.
    await allStored(ws, acked, s0, s0 + READINGS * 1000);
    expect([...acked.values()].reduce((n, s) => n + s.size, 0)).toBeGreaterThan(STREAMERS.length * READINGS * 0.8);

    // The alert judged on A while Redis was away reached A's own follower (not B's: nothing crosses without Redis).
    const duringOutage = activated(a.id, 'hot-1');
    expect(duringOutage).toBeTruthy();
    // A new connection while Redis was away: aedes keeps sessions there, so it is refused at once (CONNACK 3) and the device retries.
    expect(lateConnection).toBe('refused');

    // Back without a restart: /healthz says so, the logs too.
    for (const node of nodes)
      await waitFor(
        async () => (await health(node)).body.components.cluster?.redis,
        (r) => r === 'connected',
        15_000,
        `${node.id} connected to Redis again`,
      );
    for (const node of nodes) expect(node.log).toMatch(/cluster: Redis answers again/);
    const alertsOn = async (node: Node) => {
      const res = await fetch(`http://127.0.0.1:${node.httpPort}/api/v1/alerts`, { headers: { Authorization: `Bearer ${ws.apiTokens.viewer}` } });
      return ((await res.json()) as { alerts: Array<{ id: string; state: string }> }).alerts;
    };
    // B's book caught up with the alert A recorded while Redis was away (kept by A's bus, sent when Redis answered).
    await waitFor(
      async () => (await alertsOn(b)).find((x) => x.id === duringOutage!.id)?.state,
      (s) => s === 'active',
      10_000,
      "A's alert from the outage in B's book",
    );
    // An alert judged on A now reaches the follower on B, and B's book.
    const hot2 = await connectDevice(a.mqttPort, 'hot-2', ws.deviceTokens['hot-2']!, { clientId: 'hot-2' });
    clients.push(hot2);
    await hot2.publishAsync('cc/v1/hot-2/telemetry', excursion(Date.now() - 40 * MIN), { qos: 1 });
    const raised = await waitFor(async () => activated(b.id, 'hot-2'), Boolean, 15_000, 'the alert judged on node A, on an MQTT follower of node B');
    await waitFor(async () => (await alertsOn(b)).some((x) => x.id === raised!.id), Boolean, 10_000, "node A's alert in node B's book");
    // New connections are taken again; the streaming devices are connected.
    const late = await connectDevice(b.mqttPort, 'late-1', ws.deviceTokens['late-1']!, { clientId: 'late-1' });
    clients.push(late);
    await late.publishAsync('cc/v1/late-1/telemetry', JSON.stringify({ ts: Date.now(), temperature: 5 }), { qos: 1 });
    for (const client of streamers) expect(client.connected).toBe(true);
  }, 90_000);
});
