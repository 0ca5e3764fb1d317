import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { parse } from 'yaml';
import type { RunningService } from '../app/service.js';
import type { BoardSignedIn } from '../api/board.js';
import { compactOverviewSchema, type CompactOverview } from '../live/overview.js';
import { auditFile } from '../audit/audit-log.js';
import { hashPassword } from '../core/secrets.js';
import { connectDevice, makeWorkspace, run, startTestService, waitFor, type Workspace } from './helpers/workspace.js';
import { excursionReadings } from './helpers/alarms.js';

const MIN = 60_000;
const CLI = path.resolve('dist/cli/main.js');

/** 21 CFR 11.300 against the running service: token expiry and revocation, disabled users, password ageing, idle sessions. */
describe('accounts: token expiry and revocation, disabled users, password ageing, idle board sessions', () => {
  let ws: Workspace;
  let service: RunningService;
  const base = () => `http://127.0.0.1:${service.httpPort}`;
  const cli = (args: string[], input?: string) => run(process.execPath, [CLI, ...args, '--config', ws.configFile], input);
  const get = (token: string, url = '/api/v1/overview') => fetch(`${base()}${url}`, { headers: { Authorization: `Bearer ${token}` } });
  const signIn = (user: string, password: string) =>
    fetch(`${base()}/api/v1/session`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user, password }) });
  const sign = (alertId: string, user: string, password: string) =>
    fetch(`${base()}/api/v1/alerts/${alertId}/ack`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ws.apiTokens.admin}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ user, password, meaning: 'acknowledged', comment: 'checking the room' }),
    });
  const answer = async (res: Response) => ({ status: res.status, message: ((await res.json()) as { message?: string }).message ?? '' });
  const config = () => parse(readFileSync(ws.configFile, 'utf8'));
  let alertId = '';

  beforeAll(async () => {
    const [olga, quinn, oldie] = await Promise.all(['olga-password-1', 'quinn-password-1', 'oldie-password-1'].map(hashPassword));
    ws = makeWorkspace({
      devices: ['room-1', 'room-2', 'room-3'],
      yamlPatch: (yaml) =>
        `${yaml.replace(
          'users: []',
          `users:\n  - { name: olga, fullName: Olga Operator, role: operator, passwordHash: "${olga}", passwordSetAt: "${new Date().toISOString()}" }\n  - { name: quinn, fullName: Quinn QA, role: qa, passwordHash: "${quinn}" }\n  - { name: oldie, fullName: Old Password, role: operator, passwordHash: "${oldie}", passwordSetAt: "2020-01-01T00:00:00Z" }`,
        )}\naccounts:\n  sessionIdle: 2s\n`,
    });
    service = await startTestService(ws);
    // An excursion, so there is an alert to sign.
    const device = await connectDevice(service.mqttPort!, 'room-1', ws.deviceTokens['room-1']!);
    const start = Date.now() - 26 * MIN;
    const readings = excursionReadings(start);
    await device.publishAsync('cc/v1/room-1/telemetry', JSON.stringify(readings), { qos: 1 });
    await device.endAsync();
    const alerts = await waitFor(
      async () => ((await (await get(ws.apiTokens.viewer!, '/api/v1/alerts')).json()) as { alerts: Array<{ id: string; kind: string }> }).alerts,
      (list) => list.some((a) => a.kind === 'temperature_high'),
      15_000,
      'an alert',
    );
    alertId = alerts.find((a) => a.kind === 'temperature_high')!.id;
  });
  afterAll(async () => {
    await service?.stop();
  });

  it('token create: 90 days by default; "never" only for a named service token; list shows state, never the hash', async () => {
    const created = await cli(['token', 'create', '--role', 'viewer', '--id', 'board-tv']);
    expect(created.code).toBe(0);
    const expires = Date.parse(/expires (\S+)\)/.exec(created.stdout)![1]!);
    expect(Math.abs(expires - (Date.now() + 90 * 86_400_000))).toBeLessThan(60_000);
    const never = await cli(['token', 'create', '--role', 'admin', '--expires', 'never']);
    expect(never.code).toBe(1);
    expect(never.stderr).toContain('--expires never is only for a service token an administrator creates for a named service');
    const service_ = await cli(['token', 'create', '--role', 'viewer', '--id', 'scrape', '--expires', 'never', '--service', 'prometheus']);
    expect(service_.code).toBe(0);
    const bad = await cli(['token', 'create', '--role', 'viewer', '--expires', 'soon']);
    expect(bad.stderr).toContain('--expires soon: write a duration');
    const help = await run(process.execPath, [CLI, 'token', 'create', '--help']);
    expect(help.stdout.replace(/\s+/g, ' ')).toContain('"never" only for a service token an administrator creates, with --service');

    const list = await cli(['token', 'list']);
    expect(list.code).toBe(0);
    const lines = list.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+ROLE\s+CREATED\s+EXPIRES\s+STATE$/);
    expect(lines.find((l) => l.startsWith('board-tv'))).toMatch(/^board-tv\s+viewer\s+\S+Z\s+\S+Z\s+active$/);
    expect(lines.find((l) => l.startsWith('scrape'))).toMatch(/never \(service: prometheus\)\s+active$/);
    expect(list.stdout).not.toMatch(/sha256|cc_api_/);
  });

  it('an expired token and a revoked one are refused with 401 saying which and when; revocation is kept in the config', async () => {
    const short = await cli(['token', 'create', '--role', 'viewer', '--id', 'short', '--expires', '3s']);
    const shortToken = short.stdout.trim().split('\n').at(-1)!;
    const expiresAt = /expires (\S+)\)/.exec(short.stdout)![1]!;
    const expired = await waitFor(
      async () => answer(await get(shortToken)),
      (a) => a.status === 401 && a.message !== 'unknown or revoked API token',
      10_000,
      'expiry',
    );
    expect(expired.message).toBe(`API token short expired on ${expiresAt}`);

    const kept = await cli(['token', 'create', '--role', 'viewer', '--id', 'revoke-me']);
    const token = kept.stdout.trim().split('\n').at(-1)!;
    await waitFor(
      async () => (await get(token)).status,
      (s) => s === 200,
      5_000,
      'the new token',
    );
    const revoked = await cli(['token', 'revoke', 'revoke-me']);
    expect(revoked.code).toBe(0);
    const after = await waitFor(
      async () => answer(await get(token)),
      (a) => a.status === 401,
      3_000,
      'revocation within the reload second',
    );
    const revokedAt = config().apiTokens.find((t: { id: string }) => t.id === 'revoke-me').revokedAt as string;
    expect(after.message).toBe(`API token revoke-me was revoked on ${revokedAt}`);
    const list = await cli(['token', 'list']);
    expect(list.stdout).toMatch(new RegExp(`revoke-me\\s+viewer.*revoked ${revokedAt.replace(/\./g, '\\.')}`));
    expect(list.stdout).toMatch(/short\s+viewer.*expired/);
    expect((await cli(['token', 'revoke', 'revoke-me'])).stderr).toContain(`API token revoke-me was already revoked on ${revokedAt}`);
  });

  it('a disabled user cannot sign in, sign or log in over MQTT, and is told so; enabled again, she can', async () => {
    expect((await cli(['user', 'disable', 'olga'])).code).toBe(0);
    const refused = await waitFor(
      async () => answer(await signIn('olga', 'olga-password-1')),
      (a) => a.status === 401,
      3_000,
      'disable',
    );
    expect(refused.message).toMatch(/^sign-in refused: user olga is disabled \(since \S+\); an administrator can enable it with coldchain user enable olga$/);
    // A wrong password says nothing about the account.
    expect((await answer(await signIn('olga', 'not-her-password'))).message).toBe('wrong user name or password');
    const signature = await answer(await sign(alertId, 'olga', 'olga-password-1'));
    expect(signature.status).toBe(403);
    expect(signature.message).toMatch(/^signature refused: user olga is disabled/);
    const mqttLogin = await mqtt
      .connectAsync(`mqtt://127.0.0.1:${service.mqttPort}`, { username: 'olga', password: 'olga-password-1', reconnectPeriod: 0 })
      .then((c) => c.endAsync().then(() => 'connected'))
      .catch((err: Error) => err.message);
    expect(mqttLogin).toMatch(/Not authorized/);
    const trail = readFileSync(auditFile(service.dataDir), 'utf8');
    expect(trail).toMatch(/"action":"mqtt.login.refused"[^\n]*"reason":"user disabled"/);

    expect((await cli(['user', 'enable', 'olga'])).code).toBe(0);
    // Wait for the service to pick the edit up, not by signing in again and again: refusals count towards the lockout.
    await waitFor(
      async () => service.registry.get().config.users.find((u) => u.name === 'olga')?.disabledAt,
      (at) => at === undefined,
      5_000,
      'enable picked up',
    );
    expect((await signIn('olga', 'olga-password-1')).status).toBe(201);
  });

  it('a password past accounts.passwordMaxAge cannot sign in or sign; coldchain user password sets a new one, never one of the last five', async () => {
    const expired = 'password expired; set a new one with coldchain user password oldie';
    expect(await answer(await signIn('oldie', 'oldie-password-1'))).toEqual({ status: 401, message: `sign-in refused: ${expired}` });
    expect(await answer(await sign(alertId, 'oldie', 'oldie-password-1'))).toEqual({ status: 403, message: `signature refused: ${expired}` });

    const same = await cli(['user', 'password', 'oldie'], 'oldie-password-1\n');
    expect(same.code).toBe(1);
    expect(same.stderr).toContain('this password was one of the last 5 of oldie; choose another');
    for (const n of [2, 3, 4, 5, 6]) expect((await cli(['user', 'password', 'oldie'], `oldie-password-${n}\n`)).code).toBe(0);
    // The current one and the four before it are remembered; the first has dropped out.
    for (const n of [2, 6]) expect((await cli(['user', 'password', 'oldie'], `oldie-password-${n}\n`)).stderr).toContain('one of the last 5');
    const oldie = config().users.find((u: { name: string }) => u.name === 'oldie');
    expect(oldie.previousHashes).toHaveLength(4);
    expect(Date.now() - Date.parse(oldie.passwordSetAt)).toBeLessThan(60_000);
    const hashBefore = service.registry.get().config.users.find((u) => u.name === 'oldie')?.passwordHash;
    expect((await cli(['user', 'password', 'oldie'], 'oldie-password-1\n')).code).toBe(0);
    await waitFor(
      async () => service.registry.get().config.users.find((u) => u.name === 'oldie')?.passwordHash,
      (h) => h !== hashBefore,
      5_000,
      'the new password picked up',
    );
    expect((await signIn('oldie', 'oldie-password-1')).status).toBe(201);
    expect((await sign(alertId, 'oldie', 'oldie-password-1')).status).toBe(200);
    // The audit trail records each change, never a hash (previousHashes included).
    await waitFor(
      async () => readFileSync(auditFile(service.dataDir), 'utf8'),
      (t) => t.includes('previousHashes'),
      3_000,
      'the audited change',
    );
    const trail = readFileSync(auditFile(service.dataDir), 'utf8');
    expect(trail).not.toMatch(/scrypt\$|sha256:[0-9a-f]{64}/);
  });

  it("the board's sign-in answers the session with the overview in one answer; refused, it answers as POST /api/v1/session does, without one", async () => {
    const boardSignIn = (user: string, password: string, query = '') =>
      fetch(`${base()}/api/v1/board/sign-in${query}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ user, password }),
      });
    const signedIn = await boardSignIn('quinn', 'quinn-password-1');
    expect(signedIn.status).toBe(201);
    expect(signedIn.headers.get('server-timing')).toMatch(/^sign-in;dur=\d+\.\d, overview;dur=\d+\.\d$/);
    const body = (await signedIn.json()) as BoardSignedIn;
    expect(body).toMatchObject({ user: 'quinn', fullName: 'Quinn QA', role: 'qa', token: expect.stringMatching(/^cc_ses_/) });
    // A session like any other, and the overview the board would have asked for with it.
    expect(await (await get(body.token, '/api/v1/session')).json()).toMatchObject({ user: 'quinn', role: 'qa' });
    const asked = (await (await get(body.token, '/api/v1/overview?sparklines=false&compact=true')).json()) as CompactOverview;
    expect(body.overview.sites).toEqual(asked.sites);
    expect(body.overview.sites[0]?.locations[0]?.devices.map((d) => d.id)).toEqual(['room-1', 'room-2', 'room-3']);
    expect(body.overview.sites[0]?.locations[0]?.more).toBeUndefined();
    expect(body.overview.alerts.map((a) => a.id)).toContain(alertId);

    // The board's first screen (?tiles=): each place's first sensors, the others counted, the rest as the whole one.
    const first = (await (await boardSignIn('quinn', 'quinn-password-1', '?tiles=1')).json()) as BoardSignedIn;
    const { devices, more, ...place } = first.overview.sites[0]!.locations[0]!;
    const { devices: all, ...whole } = asked.sites[0]!.locations[0]!;
    expect(devices).toEqual(all.slice(0, 1));
    expect(more).toBe(2);
    expect(place).toEqual(whole);
    expect(first.overview.alerts).toEqual(body.overview.alerts);
    expect(compactOverviewSchema.parse(first.overview).sites[0]!.locations[0]!.more).toBe(2);
    for (const bad of ['?tiles=0', '?tiles=501', '?tiles=two']) {
      const refused = await boardSignIn('quinn', 'quinn-password-1', bad);
      expect(refused.status).toBe(400);
      expect(((await refused.json()) as { message: string }).message).toMatch(/tiles/);
    }

    const refused = await boardSignIn('nobody-here', 'not-a-password');
    expect(refused.headers.get('server-timing')).toBeNull();
    expect(await refused.json()).toEqual(await (await signIn('nobody-here', 'not-a-password')).json());
    expect(refused.status).toBe(401);
  });

  it('a board session unused for accounts.sessionIdle ends: 401, and its live stream is closed', async () => {
    const { token } = (await (await signIn('quinn', 'quinn-password-1')).json()) as { token: string };
    // Used more often than the idle time, it stays.
    for (let i = 0; i < 4; i++) {
      expect((await get(token, '/api/v1/session')).status).toBe(200);
      await new Promise((r) => setTimeout(r, 800));
    }
    const stream = await get(token, '/api/v1/stream');
    expect(stream.status).toBe(200);
    const started = Date.now();
    const text = await new Response(stream.body).text(); // ends when the server closes the stream
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_500);
    expect(text).toContain('event: end\ndata: {"reason":"session idle"}');
    expect(await answer(await get(token, '/api/v1/session'))).toEqual({ status: 401, message: 'not signed in' });
    expect((await get(token)).status).toBe(401);
  });
});
