import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunningService } from '../app/service.js';
import { loadAlertEvents } from '../alerts/event-store.js';
import { auditFile, readAuditEntries } from '../audit/audit-log.js';
import { redisInTempDir, startClusterNodes } from './helpers/cluster.js';
import { connectDevice, influxFor, makeWorkspace, readingsStored, rejectsStored, startTestService, waitFor, type Workspace } from './helpers/workspace.js';

const MIN = 60_000;

/**
 * The QA alarms every node of a cluster would find alike (a batch's stability budget, a sensor's
 * conflicting reading; calibration is in cluster.test.ts) are raised and cleared by the node
 * holding the notification lease only, and the node that takes the lease over continues them.
 * Two nodes in this process on Debian's redis-server, one shared InfluxDB.
 */
describe('cluster: QA alarms are raised once, by the holder of the notification lease', () => {
  const children: ChildProcess[] = [];
  const clients: MqttClient[] = [];
  const nodes: RunningService[] = [];
  const stopped = new Set<RunningService>();
  let ws: Workspace;
  const T0 = Math.floor((Date.now() - 3 * 3_600_000) / MIN) * MIN;
  const at = (minute: number) => T0 + minute * MIN;

  const api = (node: RunningService, url: string, body: unknown) =>
    fetch(`http://127.0.0.1:${node.httpPort}${url}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ws.apiTokens.admin}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
  /** The QA alarms of a batch or sensor in a node's book. */
  const alarmsOf = (node: RunningService, deviceId: string) =>
    node.alerts.book.list().filter((a) => a.deviceId === deviceId && (a.kind === 'reading_conflict' || a.kind.startsWith('stability_budget')));
  /** Each node's alarms of `deviceId` as `id state`, once every node's book lists the same ones. */
  const agreed = (deviceId: string, check: (list: string[]) => boolean, what: string) =>
    waitFor(
      async () =>
        nodes
          .filter((n) => !stopped.has(n))
          .map((n) =>
            alarmsOf(n, deviceId)
              .map((a) => `${a.id} ${a.state}`)
              .sort(),
          ),
      (lists) => lists.every((l) => JSON.stringify(l) === JSON.stringify(lists[0])) && check(lists[0]!),
      20_000,
      what,
    ).then((lists) => lists[0]!);
  const audited = async (action: string, target: string) => {
    let n = 0;
    for (const node of nodes) for await (const e of readAuditEntries(auditFile(node.dataDir))) if (e.action === action && e.target === target) n++;
    return n;
  };
  /** How many `activated` events of alarm `id` the event store holds, once it holds one (an event reaches the spool a moment after the book). */
  const activations = async (id: string) => {
    const count = async () => {
      for (const node of nodes) if (!stopped.has(node)) await node.writer.flush(10_000);
      return (await loadAlertEvents(influxFor(ws), { alertId: id })).filter((e) => e.event === 'activated').length;
    };
    await waitFor(count, (n) => n > 0, 10_000, `the activation of ${id} stored`);
    return count();
  };

  beforeAll(async () => {
    const { dir, url: redisUrl } = await redisInTempDir('cc-cluster-qa-', children);
    ws = makeWorkspace({
      devices: ['room-1', 'diff-1'],
      yamlPatch: (yaml) =>
        yaml
          // 30 min at 8–25 °C in all: the batch's 40 min at 10 °C below exhaust it.
          .replace(
            '    humidity: { min: 35, max: 75 }\n',
            '    humidity: { min: 35, max: 75 }\n    stability: { allowances: [{ id: up-to-25, name: "8–25 °C", from: 8, to: 25, allowance: 30m }] }\n',
          )
          .replace('  maxShelve: 24h', '  stability: { every: 2s }\n  integrity: { quietAfter: 2s }\n  maxShelve: 24h'),
    });
    // The batch's shipment, recorded before the cluster starts: each node reads it back at start (shipments are not shared live).
    const first = await startTestService(ws, { dataDir: path.join(dir, 'first'), influxUrl: inject('influxUrl') });
    const waybill = {
      id: 'SH-Q',
      product: 'Influenza vaccine 0.5 ml',
      profile: 'vaccines-2-8',
      batch: 'LOT-Q',
      quantity: 10,
      shipper: 'Shanghai DC',
      consignee: 'Pudong hospital',
    };
    expect((await api(first, '/api/v1/shipments', waybill)).status).toBe(201);
    expect((await api(first, '/api/v1/shipments/SH-Q/custody', { event: 'stored', at: at(0), locationId: 'dc-sh-cold-room-1' })).status).toBe(201);
    await first.writer.flush(10_000);
    await first.stop();
    nodes.push(...(await startClusterNodes(ws, dir, redisUrl, ['node-a', 'node-b'])));
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.end(true);
    for (const node of nodes) if (!stopped.has(node)) await node.stop();
    for (const p of children) p.kill('SIGTERM');
  });

  it("a batch's exhausted stability budget is one alarm, raised by one node", async () => {
    const device = await connectDevice(nodes[0]!.mqttPort!, 'room-1', ws.deviceTokens['room-1']!);
    clients.push(device);
    const readings = Array.from({ length: 60 }, (_, m) => ({ ts: at(m), temperature: m >= 10 && m < 50 ? 10 : 5 }));
    await device.publishAsync('cc/v1/room-1/telemetry', JSON.stringify(readings), { qos: 1 });
    await readingsStored(influxFor(ws), 'room-1', (n) => n === 60, 'the readings in InfluxDB');
    // Every node looks at once (not only when its timer says).
    await Promise.all(nodes.map((n) => n.qaAlarms.stability.round(['LOT-Q'])));
    const [alarm] = await agreed('LOT-Q', (list) => list.length > 0, "the batch's alarm in both books");
    expect(alarmsOf(nodes[0]!, 'LOT-Q').map((a) => [a.kind, a.state])).toEqual([['stability_budget_exhausted', 'active']]);
    expect(await activations(alarm!.split(' ')[0]!)).toBe(1);
    expect(await audited('stability_alarm.raised', 'batch:LOT-Q')).toBe(1);
  });

  it("a sensor's conflicting reading is one alarm, raised, audited and cleared by one node", async () => {
    const device = await connectDevice(nodes[0]!.mqttPort!, 'diff-1', ws.deviceTokens['diff-1']!);
    clients.push(device);
    const ts = Date.now() - 10 * MIN;
    // The first stored before the different one arrives.
    await device.publishAsync('cc/v1/diff-1/telemetry', JSON.stringify({ ts, temperature: 4.5, seq: 10 }), { qos: 1 });
    await readingsStored(influxFor(ws), 'diff-1', (n) => n === 1, 'the first reading in InfluxDB');
    await device.publishAsync('cc/v1/diff-1/telemetry', JSON.stringify({ ts, temperature: 4.75, seq: 10 }), { qos: 1 });
    await rejectsStored(influxFor(ws), 'diff-1', (rejects) => rejects.some((r) => r.reason === 'conflicting_reading'), 'the conflict record in InfluxDB');
    await Promise.all(nodes.map((n) => n.qaAlarms.conflicts.check()));
    const [raised] = await agreed('diff-1', (list) => list.length > 0, "the sensor's alarm in both books");
    const id = raised!.split(' ')[0]!;
    // Quiet for alarms.integrity.quietAfter (2 s): cleared.
    await agreed('diff-1', (list) => list.length === 1 && list[0] === `${id} cleared`, 'the alarm cleared in both books');
    await waitFor(
      () => audited('integrity_alarm.cleared', 'diff-1'),
      (n) => n > 0,
      10_000,
      'the clearing audited',
    );
    expect(await audited('integrity_alarm.raised', 'diff-1')).toBe(1);
    expect(await audited('integrity_alarm.cleared', 'diff-1')).toBe(1);
    expect(await activations(id)).toBe(1);
  });

  it('the node that takes the lease over continues the open alarms and raises none again', async () => {
    const leader = nodes.find((n) => n.alerts.leads())!;
    const other = nodes.find((n) => n !== leader)!;
    expect(other.alerts.leads()).toBe(false);
    const before = { batch: alarmsOf(other, 'LOT-Q').map((a) => `${a.id} ${a.state}`), sensor: alarmsOf(other, 'diff-1').map((a) => `${a.id} ${a.state}`) };
    await leader.stop();
    stopped.add(leader);
    // Its lease runs out (10 s) and the other node takes it.
    await waitFor(async () => other.alerts.leads(), Boolean, 20_000, 'the lease taken over');
    await other.qaAlarms.stability.round(['LOT-Q']);
    await other.qaAlarms.conflicts.check();
    expect(alarmsOf(other, 'LOT-Q').map((a) => `${a.id} ${a.state}`)).toEqual(before.batch);
    expect(alarmsOf(other, 'diff-1').map((a) => `${a.id} ${a.state}`)).toEqual(before.sensor);
    expect(await audited('stability_alarm.raised', 'batch:LOT-Q')).toBe(1);
    expect(await audited('integrity_alarm.raised', 'diff-1')).toBe(1);
    expect(await activations(alarmsOf(other, 'diff-1')[0]!.id)).toBe(1);
  }, 60_000);
});
