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
    const before = verifyAuditLog(file);
    // The configuration's baseline (recorded at the first start), then the refused sign-in.
    expect(before).toMatchObject({ ok: true, entries: 2 });

    // What a crash in the middle of write() leaves: the start of the next entry, no newline.
    const fragment = `{"seq":3,"at":"${new Date().toISOString()}","actor":"(unknown user)","action":"session.ref`;
    const cleanSize = statSync(file).size;
    appendFileSync(file, fragment);
    const torn = verifyAuditLog(file);
    expect(torn).toMatchObject({ ok: false, entries: 2, tornTail: { offset: cleanSize, bytes: fragment.length } });
    expect(torn.problem).toBe(
      `${file}: ${fragment.length} bytes after the last complete entry (an append cut off by a crash; the service removes them at its next start and records it)`,
    );

    service = await startTestService(ws);
    expect((await signIn(service.httpPort, 'second-try')).status).toBe(401);
    await service.stop();

    const entries = readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as AuditEntry);
    expect(entries.map((e) => [e.seq, e.action])).toEqual([
      [1, 'config.baseline'],
      [2, 'session.refused'],
      [3, 'audit.recovered'],
      [4, 'session.refused'],
    ]);
    const keptIn = `${file}.torn-${cleanSize}`;
    expect(entries[2]).toMatchObject({
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
    expect(verified.stdout).toMatch(/^audit trail verified: 4 entries/);
  });
});
