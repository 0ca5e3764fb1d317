import { existsSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningService } from '../app/service.js';
import { deadLetterPath } from '../ingestor/writer.js';
import { freePort } from '../storage/influxd.js';
import { connectDevice, influxFor, makeWorkspace, readingsStored, startTestService, unlimitedRate, waitFor } from './helpers/workspace.js';
import { influxProxy } from './helpers/influx-proxy.js';

describe('the writer when InfluxDB refuses or is missing', () => {
  let service: RunningService | undefined;
  let server: Server | undefined;
  afterEach(async () => {
    await service?.stop();
    server?.close();
    service = server = undefined;
  });

  it('splits a batch a proxy refuses as too large (413) until every reading is in', async () => {
    const port = await freePort();
    const limit = 4096;
    const p = await influxProxy({ port, refuse: (body, url) => (url.startsWith('/write') && body.length > limit ? 413 : undefined) });
    server = p.server;
    const ws = makeWorkspace({ devices: ['big-1'], yamlPatch: unlimitedRate });
    service = await startTestService(ws, { influxUrl: `http://127.0.0.1:${port}` });
    const device = await connectDevice(service.mqttPort!, 'big-1', ws.deviceTokens['big-1']!);
    const t0 = Date.now() - 3_600_000;
    await device.publishAsync(
      'cc/v1/big-1/telemetry',
      JSON.stringify(Array.from({ length: 400 }, (_, i) => ({ ts: t0 + i * 1000, temperature: 4 + (i % 10) / 10, humidity: 50, seq: i }))),
      { qos: 1 },
    );
    await device.endAsync();
    await readingsStored(influxFor(ws), 'big-1', (n) => n === 400, 'all 400 readings');
    expect(Math.max(...p.writes)).toBeGreaterThan(limit);
    expect(existsSync(deadLetterPath(service.dataDir))).toBe(false);
    expect(service.writer.stats.pointsDropped).toBe(0);
  });

  it('dead-letters only the line InfluxDB refuses, not the batch it came in', async () => {
    const ws = makeWorkspace({ devices: ['mixed-1'], yamlPatch: unlimitedRate });
    service = await startTestService(ws);
    // A foreign tool wrote temperature as a string this week: our float values of this week conflict.
    await influxFor(ws).write(`readings,deviceId=foreign temperature="warm" ${(Date.now() - 60_000) * 1e6}\n`);
    const device = await connectDevice(service.mqttPort!, 'mixed-1', ws.deviceTokens['mixed-1']!);
    const old = Date.now() - 9 * 86_400_000;
    const batch = [
      ...Array.from({ length: 20 }, (_, i) => ({ ts: old + i * 60_000, temperature: 5, seq: i })),
      { ts: Date.now() - 30_000, temperature: 4.5, seq: 20 },
    ];
    await device.publishAsync('cc/v1/mixed-1/telemetry', JSON.stringify(batch), { qos: 1 });
    await device.endAsync();
    await readingsStored(influxFor(ws), 'mixed-1', (n) => n === 20, 'the 20 good readings');
    const file = deadLetterPath(service.dataDir);
    await waitFor(async () => existsSync(file), Boolean, 10_000, 'the dead-letter file');
    const entries = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { error: string; lines: string });
    expect(entries).toHaveLength(1);
    expect(entries[0]!.lines.split('\n')).toHaveLength(1);
    expect(entries[0]!.lines).toContain('seq=20i');
    expect(entries[0]!.error).toMatch(/field type conflict/);
    expect(service.writer.stats.pointsDropped).toBe(1);
  });

  it('creates the database once InfluxDB appears, when it was unreachable at start', async () => {
    const port = await freePort();
    const ws = makeWorkspace({ devices: ['early-1'] });
    service = await startTestService(ws, { influxUrl: `http://127.0.0.1:${port}` });
    const device = await connectDevice(service.mqttPort!, 'early-1', ws.deviceTokens['early-1']!);
    await device.publishAsync('cc/v1/early-1/telemetry', JSON.stringify({ ts: Date.now() - 1000, temperature: 3.9 }), { qos: 1 });
    await device.endAsync();
    // InfluxDB comes up after the service, without our database.
    server = (await influxProxy({ port })).server;
    await readingsStored(influxFor(ws), 'early-1', (n) => n === 1, 'the reading spooled while InfluxDB was away', 30_000);
    const policies = await influxFor(ws).query(`SHOW RETENTION POLICIES ON "${ws.database}"`, { database: null });
    expect(policies[0]!.values.some((row) => row[0] === 'coldchain_retention')).toBe(true);
  });
});
