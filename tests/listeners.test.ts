import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { influxFor, makeWorkspace, readingsStored, serviceOn } from './helpers/workspace.js';

describe('TLS and WebSocket listeners from config', () => {
  // The service reads its certificate at start: made in the workspace before.
  const suite = serviceOn(() => {
    const ws = makeWorkspace({
      devices: ['tls-1', 'ws-1'],
      yamlPatch: (yaml) =>
        yaml.replace(
          '  # tls: { port: 8883',
          '  tls: { port: 0, cert: ./server.crt, key: ./server.key }\n  websocket: { port: 0, path: /mqtt }\n  # tls: { port: 8883',
        ),
    });
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=localhost',
        '-keyout',
        path.join(ws.dir, 'server.key'),
        '-out',
        path.join(ws.dir, 'server.crt'),
      ],
      { stdio: 'ignore' },
    );
    return ws;
  });

  it('accepts devices over MQTTS with the same authentication', async () => {
    expect(suite.service.mqttsPort).toBeGreaterThan(0);
    const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${suite.service.mqttsPort}`, {
      username: 'tls-1',
      password: suite.ws.deviceTokens['tls-1'],
      rejectUnauthorized: false,
      reconnectPeriod: 0,
    });
    await client.publishAsync('cc/v1/tls-1/telemetry', JSON.stringify({ ts: Date.now() - 1000, temperature: 5 }), { qos: 1 });
    await client.endAsync();
    await expect(
      mqtt.connectAsync(`mqtts://127.0.0.1:${suite.service.mqttsPort}`, { username: 'tls-1', password: 'nope', rejectUnauthorized: false, reconnectPeriod: 0 }),
    ).rejects.toThrow(/Bad username or password/i);
    await readingsStored(influxFor(suite.ws), 'tls-1', (n) => n === 1, 'the TLS reading');
  });

  it('accepts devices over MQTT on WebSocket', async () => {
    expect(suite.service.wsPort).toBeGreaterThan(0);
    const client = await mqtt.connectAsync(`ws://127.0.0.1:${suite.service.wsPort}/mqtt`, {
      username: 'ws-1',
      password: suite.ws.deviceTokens['ws-1'],
      reconnectPeriod: 0,
    });
    await client.publishAsync(
      'cc/v1/ws-1/telemetry',
      JSON.stringify([
        { ts: Date.now() - 2000, temperature: 5 },
        { ts: Date.now() - 1000, temperature: 5.1 },
      ]),
      { qos: 1 },
    );
    await client.endAsync();
    await readingsStored(influxFor(suite.ws), 'ws-1', (n) => n === 2, 'the WebSocket readings');
  });
});
