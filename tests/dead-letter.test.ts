import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../app/service.js';
import { deadLetterPath } from '../ingestor/writer.js';
import { connectDevice, influxFor, makeWorkspace, readingsStored, startTestService, waitFor, type Workspace } from './helpers/workspace.js';

describe('points InfluxDB refuses for good', () => {
  let ws: Workspace;
  let service: RunningService;

  beforeAll(async () => {
    ws = makeWorkspace({ devices: ['conflict-1', 'fine-1'] });
    service = await startTestService(ws);
    // Someone else's tool wrote `temperature` as a string into this database: InfluxDB will refuse
    // our float values in that shard with a "field type conflict" partial write.
    await influxFor(ws).write(`readings,deviceId=foreign temperature="warm" ${(Date.now() - 60_000) * 1e6}\n`);
  });
  afterAll(async () => {
    await service?.stop();
  });

  it("go to the dead-letter file with InfluxDB's reason, are counted, and do not block the spool", async () => {
    const conflicting = await connectDevice(service.mqttPort!, 'conflict-1', ws.deviceTokens['conflict-1']!);
    await conflicting.publishAsync('cc/v1/conflict-1/telemetry', JSON.stringify({ ts: Date.now() - 30_000, temperature: 4.5 }), { qos: 1 });
    await conflicting.endAsync();
    const file = deadLetterPath(service.dataDir);
    await waitFor(async () => existsSync(file), Boolean, 20_000, 'the dead-letter file');
    const [entry] = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { error: string; lines: string });
    expect(entry!.error).toMatch(/HTTP 400: partial write: field type conflict/);
    expect(entry!.lines).toContain('deviceId=conflict-1');
    expect(service.writer.stats.pointsDropped).toBeGreaterThanOrEqual(1);
    const metrics = await (await fetch(`http://127.0.0.1:${service.httpPort}/metrics`, { headers: { Authorization: `Bearer ${ws.apiTokens.viewer}` } })).text();
    expect(metrics).toMatch(/coldchain_influx_points_dropped_total [1-9]/);
    // The spool moved on: later readings (in another shard, a week ago) still arrive.
    const fine = await connectDevice(service.mqttPort!, 'fine-1', ws.deviceTokens['fine-1']!);
    await fine.publishAsync('cc/v1/fine-1/telemetry', JSON.stringify({ ts: Date.now() - 8 * 86_400_000, temperature: 5 }), { qos: 1 });
    await fine.endAsync();
    await readingsStored(influxFor(ws), 'fine-1', (n) => n === 1, 'the later reading');
    // The cursor is confirmed just after InfluxDB answered; the count can be seen a moment before.
    await waitFor(
      async () => service.spool.depth.records,
      (n) => n === 0,
      5000,
      'an empty spool',
    );
  });
});
