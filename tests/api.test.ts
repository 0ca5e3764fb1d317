import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../app/service.js';
import { freePort } from '../storage/influxd.js';
import { connectDevice, makeWorkspace, startTestService, waitFor, type Workspace } from './helpers/workspace.js';

describe('HTTP API', () => {
  let ws: Workspace;
  let service: RunningService;
  let base: string;

  beforeAll(async () => {
    ws = makeWorkspace({ devices: ['api-1'] });
    service = await startTestService(ws);
    base = `http://127.0.0.1:${service.httpPort}`;
  });
  afterAll(async () => {
    await service?.stop();
  });

  it('GET /healthz reports each component and 200 when all are ready', async () => {
    const response = await fetch(`${base}/healthz`);
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body).toMatchObject({ status: 'ok', components: { broker: { ready: true }, spool: { ready: true }, influxdb: { ready: true, managed: false } } });
  });

  it('GET /api/v1/devices/:id/readings needs a bearer token and validates its query', async () => {
    expect((await fetch(`${base}/api/v1/devices/api-1/readings`)).status).toBe(401);
    const wrong = await fetch(`${base}/api/v1/devices/api-1/readings`, { headers: { Authorization: 'Bearer cc_api_nope' } });
    expect(wrong.status).toBe(401);
    expect((await wrong.json()).message).toBe('unknown or revoked API token');
    const auth = { headers: { Authorization: `Bearer ${ws.apiTokens.viewer}` } };
    const unknown = await fetch(`${base}/api/v1/devices/nope/readings`, auth);
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).message).toBe('unknown device "nope"');
    const bad = await fetch(`${base}/api/v1/devices/api-1/readings?from=yesterday&limit=0`, auth);
    expect(bad.status).toBe(400);
    const problems = (await bad.json()).problems as string[];
    expect(problems).toContain('query.from: must be epoch milliseconds or ISO 8601 with a zone (2026-11-22T08:00:00+08:00), got "yesterday"');
    expect(problems.some((p) => p.startsWith('query.limit:'))).toBe(true);
    for (const [query, problem] of [
      ['to=-5', 'query.to: must be epoch milliseconds or ISO 8601 with a zone (2026-11-22T08:00:00+08:00), got "-5"'],
      ['from=2026-02-31T00:00:00Z', 'query.from: must be epoch milliseconds or ISO 8601 with a zone (2026-11-22T08:00:00+08:00), got "2026-02-31T00:00:00Z"'],
    ]) {
      const response = await fetch(`${base}/api/v1/devices/api-1/readings?${query}`, auth);
      expect(response.status, query).toBe(400);
      expect((await response.json()).message).toBe(problem);
    }
    const inverted = await fetch(`${base}/api/v1/devices/api-1/readings?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z`, auth);
    expect((await inverted.json()).message).toBe('query.from: from must be before to');
    // Times no InfluxDB can hold are the caller's mistake (400), never a server error.
    for (const query of ['from=99999999999999999', 'to=9999-01-01T00:00:00Z', 'from=0&to=99999999999999999999999']) {
      for (const route of ['/api/v1/devices/api-1/readings', '/api/v1/rejects', '/api/v1/alerts']) {
        const response = await fetch(`${base}${route}?${query}`, auth);
        expect(response.status, `${route}?${query}`).toBe(400);
        expect((await response.json()).message).toMatch(/query\.(from|to): is outside the time range InfluxDB can store/);
      }
    }
  });

  it('returns the readings of a device between from and to, in device-time order', async () => {
    const client = await connectDevice(service.mqttPort!, 'api-1', ws.deviceTokens['api-1']!);
    const t0 = Date.now() - 3_600_000;
    const batch = Array.from({ length: 10 }, (_, i) => ({ ts: t0 + i * 60_000, temperature: 4 + i / 10, humidity: 50, seq: i }));
    await client.publishAsync('cc/v1/api-1/telemetry', JSON.stringify(batch.slice().reverse()), { qos: 1 });
    await client.endAsync();
    const url = `${base}/api/v1/devices/api-1/readings?from=${new Date(t0 + 120_000).toISOString()}&to=${t0 + 420_000}`;
    const body = await waitFor(
      async () => (await fetch(url, { headers: { Authorization: `Bearer ${ws.apiTokens.admin}` } })).json(),
      (b) => b.count === 5,
      20_000,
      '5 readings in the window',
    );
    expect(body.readings.map((r: { ts: number; temperature: number; seq: number; locationId: string }) => [r.ts, r.temperature, r.seq, r.locationId])).toEqual(
      batch.slice(2, 7).map((r) => [r.ts, r.temperature, r.seq, 'dc-sh-cold-room-1']),
    );
  });

  it('GET /metrics exposes ingest, spool, InfluxDB and connection figures in Prometheus text', async () => {
    const text = await (await fetch(`${base}/metrics`, { headers: { Authorization: `Bearer ${ws.apiTokens.viewer}` } })).text();
    for (const name of [
      'coldchain_readings_accepted_total',
      'coldchain_spool_depth_records',
      'coldchain_spool_oldest_age_seconds',
      'coldchain_influx_write_seconds_bucket',
      'coldchain_mqtt_connected_devices',
    ]) {
      expect(text).toContain(name);
    }
    expect(text).toMatch(/coldchain_readings_accepted_total 10/);
  });
});

describe('HTTP API while InfluxDB is unreachable', () => {
  it('starts anyway, acknowledges readings into the spool, and reports 503 with the reason', async () => {
    const ws = makeWorkspace({ devices: ['api-2'] });
    const deadPort = await freePort();
    const service = await startTestService(ws, { influxUrl: `http://127.0.0.1:${deadPort}` });
    try {
      const client = await connectDevice(service.mqttPort!, 'api-2', ws.deviceTokens['api-2']!);
      await client.publishAsync('cc/v1/api-2/telemetry', JSON.stringify({ ts: Date.now() - 1000, temperature: 4 }), { qos: 1 });
      await client.endAsync();
      expect(service.spool.depth.records).toBe(1);
      const health = await fetch(`http://127.0.0.1:${service.httpPort}/healthz`);
      expect(health.status).toBe(503);
      const body = await health.json();
      expect(body.components.influxdb.ready).toBe(false);
      await waitFor(
        async () => service.writer.stats.lastError ?? '',
        (e) => e.includes('unreachable'),
        10_000,
        'the writer error',
      );
      const readings = await fetch(`http://127.0.0.1:${service.httpPort}/api/v1/devices/api-2/readings`, {
        headers: { Authorization: `Bearer ${ws.apiTokens.viewer}` },
      });
      expect(readings.status).toBe(503);
      // The kind of failure, never InfluxDB's address or text (issue 12, item 16: those go to the log).
      const { message } = await readings.json();
      expect(message).toMatch(/^the database is unreachable; try again later \(request \S+; details in the service log\)$/);
      expect(message).not.toMatch(/127\.0\.0\.1|ECONNREFUSED/);
    } finally {
      await service.stop();
    }
  });
});
