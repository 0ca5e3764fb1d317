import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import mqtt from 'mqtt';
import { loadConfig } from '../core/config/load.js';
import { startIngestService, type RunningService } from '../app/service.js';
import { influxFor, makeWorkspace, readingCount, rejectsOf, run, testLog, waitFor, type Workspace } from './helpers/workspace.js';
import { startMosquitto } from '../bench/mosquitto.js';

describe('standalone ingestor behind Debian Mosquitto', () => {
  let ws: Workspace;
  let mosquitto: Awaited<ReturnType<typeof startMosquitto>>;
  let service: RunningService | undefined;
  const start = () => startIngestService(loadConfig(ws.configFile), { httpPort: 0, influxUrl: inject('influxUrl'), influxDb: ws.database, brokerUrl: `mqtt://127.0.0.1:${mosquitto.port}`, clientId: 'cc-ingest-test' }, testLog);

  beforeAll(async () => {
    ws = makeWorkspace({ devices: ['ext-1', 'ext-2'] });
    mosquitto = await startMosquitto();
    service = await start();
  });
  afterAll(async () => {
    await service?.stop();
    await mosquitto?.stop();
  });

  it('stores what mosquitto_pub publishes, and quarantines unknown devices and bad payloads', async () => {
    const base = Date.now() - 600_000;
    const lines = Array.from({ length: 40 }, (_, i) => JSON.stringify({ ts: base + i * 5000, temperature: 3 + i / 10 }));
    const pub = await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mosquitto.port), '-q', '1', '-t', 'cc/v1/ext-1/telemetry', '-l'], lines.join('\n') + '\n');
    expect(pub.code, pub.stderr).toBe(0);
    await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mosquitto.port), '-q', '1', '-t', 'cc/v1/ghost/telemetry', '-m', JSON.stringify({ ts: base, temperature: 4 })]);
    await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mosquitto.port), '-q', '1', '-t', 'cc/v1/ext-2/telemetry', '-m', '{"ts":']);

    const influx = influxFor(ws);
    await waitFor(() => readingCount(influx, 'ext-1'), (n) => n === 40, 20_000, '40 readings');
    const [series] = await influx.query(`SELECT "temperature" FROM "readings" WHERE "deviceId" = 'ext-1' ORDER BY time`);
    expect(series!.values).toEqual(Array.from({ length: 40 }, (_, i) => [base + i * 5000, 3 + i / 10]));
    await waitFor(() => rejectsOf(influx, 'ghost'), (r) => r.length === 1, 20_000, 'unknown device reject');
    expect((await rejectsOf(influx, 'ghost'))[0]).toMatchObject({ reason: 'unknown_device' });
    await waitFor(() => rejectsOf(influx, 'ext-2'), (r) => r.length === 1 && r[0]!.reason === 'malformed_json', 20_000, 'malformed reject');
  });

  it('keeps its persistent session: readings published while it is down arrive after it returns', async () => {
    await service!.stop();
    service = undefined;
    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${mosquitto.port}`, { reconnectPeriod: 0 });
    const base = Date.now() - 300_000;
    for (let i = 0; i < 50; i++) await device.publishAsync('cc/v1/ext-2/telemetry', JSON.stringify({ ts: base + i * 1000, temperature: 5 }), { qos: 1 });
    await device.endAsync();
    service = await start();
    await waitFor(() => readingCount(influxFor(ws), 'ext-2'), (n) => n === 50, 20_000, '50 readings queued by mosquitto');
  });
});
