import { describe, expect, it } from 'vitest';
import { appendFileSync, existsSync, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { auditFile, verifyAuditLog, type AuditEntry } from '../audit/audit-log.js';
import { makeWorkspace, run, startTestService } from './helpers/workspace.js';

const signIn = (port: number, user: string) =>
  fetch(`http://127.0.0.1:${port}/api/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user, password: 'wrong' }),
  });

describe('audit trail: a torn last line after a crash', () => {
  it('is cut off at the next start, kept beside the trail, recorded as audit.recovered, and the trail verifies again', async () => {
    const ws = makeWorkspace({ devices: [] });
    let service = await startTestService(ws);
    const dataDir = service.dataDir;
    const file = auditFile(dataDir);
    expect((await signIn(service.httpPort, 'first-try')).status).toBe(401);
    await service.stop();
    const readEntries = () =>
      readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as AuditEntry);
    // What the first start records (the configuration's baseline, the product ranges in force), then the
    // refused sign-in.
    const first = readEntries().map((e) => e.action);
    expect(first[0]).toBe('config.baseline');
    expect(first.at(-1)).toBe('session.refused');
    const n = first.length;
    const before = verifyAuditLog(file);
    expect(before).toMatchObject({ ok: true, entries: n });

    // What a crash in the middle of write() leaves: the start of the next entry, no newline.
    const fragment = `{"seq":${n + 1},"at":"${new Date().toISOString()}","actor":"(unknown user)","action":"session.ref`;
    const cleanSize = statSync(file).size;
    appendFileSync(file, fragment);
    const torn = verifyAuditLog(file);
    expect(torn).toMatchObject({ ok: false, entries: n, tornTail: { offset: cleanSize, bytes: fragment.length } });
    expect(torn.problem).toBe(
      `${file}: ${fragment.length} bytes after the last complete entry (an append cut off by a crash; the service removes them at its next start and records it)`,
    );

    service = await startTestService(ws);
    expect((await signIn(service.httpPort, 'second-try')).status).toBe(401);
    await service.stop();

    const entries = readEntries();
    expect(entries.map((e) => [e.seq, e.action])).toEqual([...first, 'audit.recovered', 'session.refused'].map((action, i) => [i + 1, action]));
    const keptIn = `${file}.torn-${cleanSize}`;
    expect(entries[n]).toMatchObject({
      actor: 'system',
      details: {
        truncatedBytes: fragment.length,
        atOffset: cleanSize,
        sha256: createHash('sha256').update(fragment).digest('hex'),
        keptIn: path.basename(keptIn),
      },
    });
    expect(existsSync(keptIn) && readFileSync(keptIn, 'utf8')).toBe(fragment);
    expect(statSync(file).mode & 0o077).toBe(0);

    const main = path.resolve('dist/cli/main.js');
    const verified = await run(process.execPath, [main, 'audit', 'verify', '--config', ws.configFile, '--data-dir', dataDir]);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(new RegExp(`^audit trail verified: ${n + 2} entries`));
  });
});
