import { connect } from 'node:net';
import { pino } from 'pino';
import { describe, expect, inject, it } from 'vitest';
import { startService } from '../app/service.js';
import { loadConfig } from '../core/config/load.js';
import { connectDevice, makeWorkspace, unlimitedRate, waitFor } from './helpers/workspace.js';

describe('live stream (server-sent events)', () => {
  it('pushes readings, refuses strangers, drops a client that stops reading, and does not hold up shutdown', async () => {
    const ws = makeWorkspace({ devices: ['live-1'], yamlPatch: unlimitedRate });
    const logLines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void logLines.push(line) });
    const service = await startService(loadConfig(ws.configFile), { mqttPort: 0, httpPort: 0, influxUrl: inject('influxUrl'), influxDb: ws.database }, log);
    const base = `http://127.0.0.1:${service.httpPort}`;
    try {
      expect((await fetch(`${base}/api/v1/stream`)).status).toBe(401);
      const { ticket } = (await (
        await fetch(`${base}/api/v1/stream/ticket`, { method: 'POST', headers: { Authorization: `Bearer ${ws.apiTokens.viewer}` } })
      ).json()) as { ticket: string };
      const response = await fetch(`${base}/api/v1/stream?ticket=${ticket}`);
      expect(response.headers.get('content-type')).toBe('text/event-stream');
      const reader = response.body!.getReader();
      let text = '';
      const device = await connectDevice(service.mqttPort!, 'live-1', ws.deviceTokens['live-1']!);
      await device.publishAsync('cc/v1/live-1/telemetry', JSON.stringify({ ts: Date.now(), temperature: 4.25 }), { qos: 1 });
      while (!text.includes('"temperature":4.25')) text += new TextDecoder().decode((await reader.read()).value);
      expect(text).toMatch(/event: reading\ndata: \{"deviceId":"live-1","siteId":"dc-shanghai","locationId":"dc-sh-cold-room-1"/);

      // A client that never reads: once a megabyte waits for it, the server lets it go.
      const stalled = connect(service.httpPort, '127.0.0.1');
      await new Promise((r) => stalled.once('connect', r));
      stalled.write(`GET /api/v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ws.apiTokens.viewer}\r\n\r\n`);
      stalled.pause();
      let closed = false;
      stalled.on('close', () => (closed = true));
      // The well-behaved client keeps reading all along.
      let received = 0;
      let reading = true;
      const draining = (async () => {
        while (reading) {
          const { value, done } = await reader.read();
          if (done) return;
          received += value.length;
        }
      })();
      const t0 = Date.now() - 3_600_000;
      for (let batch = 0; batch < 200; batch++) {
        const readings = Array.from({ length: 500 }, (_, i) => ({ ts: t0 + batch * 500 + i, temperature: 5, humidity: 50, seq: batch * 500 + i }));
        await device.publishAsync('cc/v1/live-1/telemetry', JSON.stringify(readings), { qos: 1 });
      }
      await waitFor(
        async () => received,
        (n) => n > 10_000_000,
        20_000,
        'the reading client to get the flood',
      );
      // A paused socket learns of the close only once it reads again: it must find its stream ended.
      stalled.resume();
      stalled.on('data', () => undefined);
      await waitFor(async () => closed, Boolean, 10_000, 'the stalled client to be dropped');
      // One client dropped, one warning: not one per event still in flight when it was cut off.
      expect(logLines.filter((line) => line.includes('live stream client is not reading; dropping it'))).toHaveLength(1);
      reading = false;
      await device.endAsync();

      // The well-behaved client is still connected: stopping must end its stream, not wait for it.
      const started = Date.now();
      await service.stop();
      expect(Date.now() - started).toBeLessThan(3000);
      await draining;
    } finally {
      await service.stop();
    }
  });
});
