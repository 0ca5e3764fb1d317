import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { ManagedInfluxd } from '../storage/influxd.js';
import { InfluxClient } from '../storage/influx.js';
import type { RunningService } from '../app/service.js';
import { connectDevice, makeWorkspace, readingCount, readingsStored, startTestService, testLog, unlimitedRate, waitFor } from './helpers/workspace.js';

const CLI = path.resolve('dist/cli/main.js');

/** Publishes QoS 1 readings one after another until stopped; returns the timestamps whose PUBACK arrived. */
function publishUntilStopped(client: MqttClient, deviceId: string, firstTs: number) {
  const acked: number[] = [];
  let stopped = false;
  const done = (async () => {
    for (let i = 0; !stopped && i < 200_000; i++) {
      const ts = firstTs + i;
      try {
        await client.publishAsync(`cc/v1/${deviceId}/telemetry`, JSON.stringify({ ts, temperature: 4 + (i % 10) / 10, seq: i }), { qos: 1 });
        acked.push(ts);
      } catch {
        return;
      }
    }
  })();
  return {
    acked,
    async stop() {
      stopped = true;
      // A publish in flight when the connection died never settles in mqtt.js; do not wait for it.
      await Promise.race([done, new Promise((r) => setTimeout(r, 1000))]);
    },
  };
}

describe('faults lose no acknowledged reading', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it('InfluxDB stopped mid-stream and restarted: every acknowledged reading arrives', async () => {
    const influxd = new ManagedInfluxd({ dataDir: mkdtempSync(path.join(tmpdir(), 'cc-outage-influxd-')), log: testLog });
    await influxd.start();
    cleanups.push(() => influxd.stop());
    const ws = makeWorkspace({ devices: ['outage-1'], yamlPatch: unlimitedRate });
    const service: RunningService = await startTestService(ws, { influxUrl: influxd.url });
    cleanups.push(() => service.stop());
    const influx = new InfluxClient({ url: influxd.url, database: ws.database });

    const client = await connectDevice(service.mqttPort!, 'outage-1', ws.deviceTokens['outage-1']!);
    const stream = publishUntilStopped(client, 'outage-1', Date.now() - 3_600_000);
    await waitFor(
      async () => stream.acked.length,
      (n) => n > 300,
      20_000,
      'readings before the outage',
    );
    await influxd.stop();
    const ackedBeforeOutage = stream.acked.length;
    // Keep publishing while InfluxDB is down: acknowledgements must continue (spool), writes must fail.
    await waitFor(
      async () => stream.acked.length,
      (n) => n > ackedBeforeOutage + 500,
      20_000,
      'acks during the outage',
    );
    await waitFor(
      async () => service.writer.stats.failures,
      (n) => n > 0,
      20_000,
      'a failed write',
    );
    expect(service.spool.depth.records).toBeGreaterThan(0);
    await influxd.start();
    // Some readings are also published after InfluxDB is back, before the stream stops.
    const ackedAtRestart = stream.acked.length;
    await waitFor(
      async () => stream.acked.length,
      (n) => n > ackedAtRestart + 50,
      20_000,
      'acks after the restart',
    );
    await stream.stop();
    await client.endAsync();

    const total = stream.acked.length;
    await readingsStored(influx, 'outage-1', (n) => n >= total, `${total} readings after the outage`, 30_000);
    expect(await readingCount(influx, 'outage-1')).toBe(total);
    expect(service.writer.stats.failures).toBeGreaterThan(0);
  });

  it('service SIGKILLed mid-stream and restarted: every reading whose PUBACK arrived is in InfluxDB', async () => {
    const ws = makeWorkspace({ devices: ['crash-1'], yamlPatch: unlimitedRate });
    const influxUrl = inject('influxUrl');
    const mqttPort = await import('../storage/influxd.js').then((m) => m.freePort());
    const startChild = async (): Promise<ChildProcess> => {
      const child = spawn(
        process.execPath,
        [CLI, 'start', '--config', ws.configFile, '--mqtt-port', String(mqttPort), '--http-port', '0', '--influx-url', influxUrl, '--influx-db', ws.database],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let log = '';
      await new Promise<void>((resolve, reject) => {
        child.stderr!.on('data', (chunk: Buffer) => {
          log += chunk;
          if (log.includes('coldchain service started')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`service exited with ${code} during start:\n${log}`)));
      });
      return child;
    };

    const first = await startChild();
    const client = await connectDevice(mqttPort, 'crash-1', ws.deviceTokens['crash-1']!);
    client.on('error', () => undefined);
    const stream = publishUntilStopped(client, 'crash-1', Date.now() - 3_600_000);
    await waitFor(
      async () => stream.acked.length,
      (n) => n > 2000,
      30_000,
      'readings before the crash',
    );
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    await stream.stop();
    client.end(true);
    const acked = stream.acked.length;

    const second = await startChild();
    cleanups.push(async () => {
      second.kill('SIGTERM');
      await new Promise((resolve) => second.once('exit', resolve));
    });
    const influx = new InfluxClient({ url: influxUrl, database: ws.database });
    await readingsStored(influx, 'crash-1', (n) => n >= acked, `${acked} acknowledged readings`, 30_000);
    const [series] = await influx.query(`SELECT "seq" FROM "readings" WHERE "deviceId" = 'crash-1' ORDER BY time`);
    const seqs = new Set(series!.values.map((row) => row[1] as number));
    const missing = Array.from({ length: acked }, (_, i) => i).filter((i) => !seqs.has(i));
    expect(missing).toEqual([]);
  });
});
