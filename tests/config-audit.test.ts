import { readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../app/service.js';
import { auditFile, verifyAuditLog } from '../audit/audit-log.js';
import { makeWorkspace, run, startTestService, waitFor } from './helpers/workspace.js';

interface Entry {
  actor: string;
  action: string;
  details: { via?: string; when?: string; changes?: Array<{ path: string; before: unknown; after: unknown }>; config?: unknown };
}

/** Issue 13, item 5: every configuration change is an audit entry with what changed, who and how. */
describe('configuration changes in the audit trail', () => {
  let service: RunningService | undefined;
  afterAll(async () => {
    await service?.stop();
  });

  it('records the baseline, CLI edits with the OS user, hand edits, and edits made while stopped; secrets only as digests', async () => {
    const ws = makeWorkspace({ devices: [], yamlPatch: (yaml) => yaml.replace(/^http:\n {2}host: 0\.0\.0\.0/m, 'http:\n  host: 127.0.0.1') });
    service = await startTestService(ws);
    const file = auditFile(service.dataDir);
    const entries = () =>
      readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Entry);
    const changes = () => entries().filter((e) => e.action === 'config.change');
    expect(entries().filter((e) => e.action === 'config.baseline')).toHaveLength(1);

    const cli = await run(process.execPath, [
      path.resolve('dist/cli/main.js'),
      'device',
      'add',
      'audit-1',
      '--location',
      'dc-sh-cold-room-1',
      '--config',
      ws.configFile,
    ]);
    expect(cli.code, cli.stderr).toBe(0);
    const token = cli.stdout.trim().split('\n').at(-1)!;
    const [added] = await waitFor(
      async () => changes(),
      (list) => list.length === 1,
      10_000,
      'the device addition audited',
    );
    expect(added).toMatchObject({ actor: `os:${userInfo().username}`, details: { via: 'coldchain device add audit-1', when: 'picked up while running' } });
    expect(added!.details.changes).toEqual([
      {
        path: 'devices[id=audit-1]',
        before: null,
        after: { id: 'audit-1', location: 'dc-sh-cold-room-1', interval: 60_000, tokenHash: expect.stringMatching(/^\(secret [0-9a-f]{8}\)$/) },
      },
    ]);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(token);
    expect(text).not.toMatch(/sha256:[0-9a-f]{64}/);

    // A range narrowed by hand in the file.
    writeFileSync(ws.configFile, readFileSync(ws.configFile, 'utf8').replace('temperature: { min: 2, max: 8 }', 'temperature: { min: 2, max: 7.5 }'));
    const [, narrowed] = await waitFor(
      async () => changes(),
      (list) => list.length === 2,
      10_000,
      'the hand edit audited',
    );
    expect(narrowed).toMatchObject({
      actor: 'config-file',
      details: { via: 'the configuration file was edited directly', changes: [{ path: 'profiles[id=vaccines-2-8].temperature.max', before: 8, after: 7.5 }] },
    });

    // Changed while the service was stopped: audited at the next start.
    await service.stop();
    writeFileSync(ws.configFile, readFileSync(ws.configFile, 'utf8').replace('maxShelve: 24h', 'maxShelve: 12h'));
    service = await startTestService(ws);
    expect(changes().at(-1)).toMatchObject({ details: { when: 'at start', changes: [{ path: 'alarms.maxShelve', before: 86_400_000, after: 43_200_000 }] } });
    expect(verifyAuditLog(file).ok).toBe(true);
  });
});
