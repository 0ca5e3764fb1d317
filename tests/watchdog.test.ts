import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { freePort } from '../storage/influxd.js';
import { CLI } from './helpers/browser.js';
import { startReceivers, type Mail } from './helpers/receivers.js';
import { makeWorkspace, waitFor, type Workspace } from './helpers/workspace.js';

interface Hook {
  source: string;
  event: 'down' | 'reminder' | 'up';
  service: { name: string; url: string };
  downSince: string;
  reason: string | null;
  text: { en: string; 'zh-CN': string };
}

/** The built service as its own process on fixed ports, so it can be killed and started again where the watchdog looks. */
function startService(ws: Workspace, httpPort: number, mqttPort: number): { child: ChildProcess; log: () => string } {
  const child = spawn(
    process.execPath,
    [
      CLI,
      'start',
      '--config',
      ws.configFile,
      '--http-port',
      String(httpPort),
      '--mqtt-port',
      String(mqttPort),
      '--influx-url',
      inject('influxUrl'),
      '--influx-db',
      ws.database,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d));
  return { child, log: () => log };
}

const healthy = async (base: string) => (await fetch(`${base}/healthz`).catch(() => undefined))?.status === 200;

describe('coldchain watchdog: the service watched from outside (issue 14, item 4)', () => {
  let ws: Workspace;
  let receivers: Awaited<ReturnType<typeof startReceivers>> | undefined;
  let service: { child: ChildProcess; log: () => string } | undefined;
  let watchdog: ChildProcess | undefined;
  let watchdogLog = '';
  const hooks: Hook[] = [];
  const mails: Mail[] = [];
  let httpPort = 0;
  let mqttPort = 0;
  const base = () => `http://127.0.0.1:${httpPort}`;
  const okChecks = () => (watchdogLog.match(/"msg":"health check ok"/g) ?? []).length;

  beforeAll(async () => {
    receivers = await startReceivers(mails, hooks);
    const { smtpPort, webhookPort } = receivers;
    ws = makeWorkspace({ devices: [] });
    httpPort = await freePort();
    mqttPort = await freePort();
    service = startService(ws, httpPort, mqttPort);
    await waitFor(() => healthy(base()), Boolean, 30_000, 'the service');
    // Short intervals for the test; the defaults are 30 s, 3 checks and 1 h.
    const file = path.join(ws.dir, 'watchdog.yaml');
    writeFileSync(
      file,
      [
        `url: ${base()}`,
        'name: Shanghai DC monitoring',
        'interval: 400ms',
        'timeout: 400ms',
        'downAfter: 3',
        'remindEvery: 3s',
        `smtp: { host: 127.0.0.1, port: ${smtpPort}, from: "watchdog <watchdog@dc.example>" }`,
        'recipients:',
        '  - { name: QA manager, email: qa@dc.example }',
        `  - { name: Paging gateway, webhook: "http://127.0.0.1:${webhookPort}/page?key=secret-key" }`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    watchdog = spawn(process.execPath, [CLI, 'watchdog', '--file', file], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, COLDCHAIN_LOG_LEVEL: 'debug' },
    });
    watchdog.stderr!.on('data', (d: Buffer) => (watchdogLog += d));
    await waitFor(
      async () => watchdogLog,
      (l) => l.includes('watchdog started'),
      10_000,
      'the watchdog',
    );
  });
  afterAll(async () => {
    watchdog?.kill('SIGTERM');
    service?.child.kill('SIGKILL');
    receivers?.close();
  });

  it('a killed service is one alarm by e-mail and webhook, reminded while down, and a recovery message when it is back', async () => {
    // Up: three checks pass and nothing is sent.
    await waitFor(
      async () => okChecks(),
      (n) => n >= 3,
      10_000,
      'three passing checks',
    );
    expect(hooks).toEqual([]);
    expect(mails).toEqual([]);
    const killedAt = Date.now();
    service!.child.kill('SIGKILL');
    const down = await waitFor(async () => hooks.find((h) => h.event === 'down'), Boolean, 15_000, 'the down webhook');
    expect(down).toMatchObject({ source: 'coldchain-watchdog', service: { name: 'Shanghai DC monitoring', url: base() } });
    expect(down!.reason).toMatch(/unreachable \(ECONNREFUSED\)/);
    expect(Date.parse(down!.downSince)).toBeGreaterThanOrEqual(killedAt - 1000);
    expect(down!.text.en).toContain('has not answered its health check since');
    expect(down!.text['zh-CN']).toContain('未通过健康检查');
    const mail = await waitFor(async () => mails.find((m) => m.body.includes('DOWN')), Boolean, 10_000, 'the down e-mail');
    expect(mail!.to).toEqual(['qa@dc.example']);
    expect(mail!.body).toContain('Shanghai DC monitoring');
    // Still down: a reminder after remindEvery, and never a second alarm for the same outage.
    await waitFor(
      async () => hooks.filter((h) => h.event === 'reminder').length,
      (n) => n >= 1,
      15_000,
      'a reminder',
    );
    expect(hooks.filter((h) => h.event === 'down')).toHaveLength(1);
    // The webhook's key never reaches the log.
    expect(watchdogLog).not.toContain('secret-key');

    service = startService(ws, httpPort, mqttPort);
    await waitFor(() => healthy(base()), Boolean, 30_000, `the restarted service (${service.log().slice(-300)})`);
    const up = await waitFor(async () => hooks.find((h) => h.event === 'up'), Boolean, 15_000, 'the recovery webhook');
    expect(up!.downSince).toBe(down!.downSince);
    expect(up!.text.en).toContain('is answering again');
    await waitFor(async () => mails.find((m) => m.body.includes('RECOVERED')), Boolean, 10_000, 'the recovery e-mail');
    expect(hooks.map((h) => h.event)).toEqual(['down', ...hooks.slice(1, -1).map(() => 'reminder'), 'up']);
    // Back up: three more passing checks send nothing more.
    const sent = hooks.length;
    const okBefore = okChecks();
    await waitFor(
      async () => okChecks(),
      (n) => n >= okBefore + 3,
      10_000,
      'three more passing checks',
    );
    expect(hooks.length).toBe(sent);
    expect(mails.filter((m) => m.body.includes('RECOVERED'))).toHaveLength(1);
  });
});
