import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import type { RunningService } from '../app/service.js';
import { connectDevice, influxFor, makeWorkspace, rejectsStored, startTestService, type Workspace } from './helpers/workspace.js';

/** Bytes in the spool's segment files: everything ingestion stores goes through them first. */
function spoolBytes(dataDir: string): number {
  const dir = path.join(dataDir, 'spool');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.seg'))
    .reduce((sum, f) => sum + statSync(path.join(dir, f)).size, 0);
}

describe('issue 12, item 8: quarantine amplification', () => {
  let ws: Workspace;
  let service: RunningService;
  let device: MqttClient;

  beforeAll(async () => {
    ws = makeWorkspace({ devices: ['amp-1', 'amp-2'] });
    service = await startTestService(ws);
    device = await connectDevice(service.mqttPort!, 'amp-1', ws.deviceTokens['amp-1']!);
  });
  afterAll(async () => {
    await device?.endAsync();
    await service?.stop();
  });

  it('50 KB of bad batch items are stored as one reject per message, not one per item', async () => {
    // The case: batches of empty objects, every item bad, ~50 KB sent in all.
    const batch = `[${Array.from({ length: 4200 }, () => '{}').join(',')}]`;
    const before = spoolBytes(service.dataDir);
    let sent = 0;
    for (let i = 0; i < 4; i++) {
      await device.publishAsync('cc/v1/amp-1/telemetry', batch, { qos: 1 });
      sent += batch.length;
    }
    const stored = spoolBytes(service.dataDir) - before;
    console.log(`item 8: ${sent} bytes sent as 4 batches of 4200 bad items → ${stored} bytes stored`);
    // Before: 16,800 records of ~1.2 KB (each with its own 512-byte payload excerpt): ~20 MB.
    expect(stored).toBeLessThan(8 * 1024);

    const rejects = await rejectsStored(influxFor(ws), 'amp-1', (r) => r.length >= 4, 'the four rejects');
    expect(rejects).toHaveLength(4);
    for (const reject of rejects) {
      expect(reject).toMatchObject({ reason: 'invalid_reading', index: 0 });
      expect(reject.message).toMatch(/^4200 readings refused: invalid_reading ×4200 at \[0, 1, 2, 3, 4, …\], first: \[0\]\.ts: required field missing/);
      expect(reject.payload.length).toBeLessThanOrEqual(512);
    }
  });

  it('a mixed batch keeps its good readings and names each reason with its count and first positions', async () => {
    const base = Date.now() - 60_000;
    const batch = [
      { ts: base, temperature: 4 },
      { ts: base + 1, temperature: -300 },
      {},
      { ts: base + 3, temperature: 999 },
      { ts: base + 4, temperature: 4.1 },
    ];
    await device.publishAsync('cc/v1/amp-1/telemetry', JSON.stringify(batch), { qos: 1 });
    const rejects = await rejectsStored(influxFor(ws), 'amp-1', (r) => r.length >= 5, 'the mixed batch reject');
    const reject = rejects.at(-1)!;
    expect(reject).toMatchObject({ reason: 'impossible_value', index: 1 });
    expect(reject.message).toContain('3 readings refused: impossible_value ×2 at [1, 3], first: [1].temperature');
    expect(reject.message).toContain('invalid_reading ×1 at [2]');
  });

  it('a status message is stored once and bounded', async () => {
    const before = spoolBytes(service.dataDir);
    const huge = JSON.stringify({ online: true, note: 'x'.repeat(200 * 1024) });
    await device.publishAsync('cc/v1/amp-1/status', huge, { qos: 1, retain: true });
    const stored = spoolBytes(service.dataDir) - before;
    console.log(`item 8: a ${huge.length}-byte retained status message → ${stored} bytes stored`);
    expect(stored).toBeLessThan(2 * 1024);
    const rejects = await rejectsStored(influxFor(ws), 'amp-1', (r) => r.some((x) => x.reason === 'payload_too_large'), 'the refused status');
    expect(rejects.find((x) => x.reason === 'payload_too_large')!.message).toContain('a status message is');

    // An ordinary status message is still stored as it came.
    const small = JSON.stringify({ online: true, firmware: '2.1.0', battery: 80 });
    const beforeSmall = spoolBytes(service.dataDir);
    await device.publishAsync('cc/v1/amp-1/status', small, { qos: 1, retain: true });
    expect(spoolBytes(service.dataDir) - beforeSmall).toBeLessThan(small.length * 2 + 300);
  });
});
