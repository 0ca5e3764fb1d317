import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { lockDataDir } from '../app/data-dir-lock.js';

const LOCK = path.resolve('dist/app/data-dir-lock.js');
/**
 * Separate processes that take the lock at the same instant (each spins until `startAt`) and print
 * "locked" or the error. A holder keeps the lock until every contender has answered: holding it
 * for a fixed time let a contender that started late on a loaded machine take it legitimately
 * after the holder let go, which read as two holders.
 */
async function race(dir: string, count: number, startAt = 0): Promise<string[]> {
  const script = `import('${LOCK}').then(({ lockDataDir }) => { while (Date.now() < ${startAt}); try { const unlock = lockDataDir(process.argv[1]); console.log('locked'); process.stdin.on('end', unlock).resume(); } catch (e) { console.log(e.message); } })`;
  const children = Array.from({ length: count }, () => {
    const child = spawn(process.execPath, ['-e', script, dir], { stdio: ['pipe', 'pipe', 'inherit'] });
    const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
    const outcome = new Promise<string>((resolve) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d;
        if (out.includes('\n')) resolve(out.trim());
      });
      void closed.then(() => resolve(out.trim()));
    });
    return { child, closed, outcome };
  });
  const outcomes = await Promise.all(children.map((c) => c.outcome));
  for (const c of children) c.child.stdin.end();
  await Promise.all(children.map((c) => c.closed));
  return outcomes;
}

describe('data directory lock', () => {
  it('refuses a second service on the same data directory, naming the holder', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cc-lock-'));
    const unlock = lockDataDir(dir);
    expect(await race(dir, 1)).toEqual([`data directory ${dir} is in use by another coldchain process (pid ${process.pid}); stop it or pass --data-dir`]);
    unlock();
    expect(await race(dir, 1)).toEqual(['locked']);
  });

  it('takes over a lock left by a process that died', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cc-lock-'));
    const dead = spawnSync('true').pid!;
    writeFileSync(path.join(dir, 'coldchain.pid'), String(dead));
    const unlock = lockDataDir(dir);
    expect(readFileSync(path.join(dir, 'coldchain.pid'), 'utf8')).toBe(String(process.pid));
    unlock();
  });

  it('lets exactly one of several processes starting together have it', async () => {
    for (let round = 0; round < 3; round++) {
      const dir = mkdtempSync(path.join(tmpdir(), 'cc-lock-'));
      const startAt = Date.now() + 1500;
      const outcomes = await race(dir, 6, startAt);
      expect(
        outcomes.filter((o) => o === 'locked'),
        outcomes.join(' | '),
      ).toHaveLength(1);
    }
  });

  it('lets exactly one of several processes find and take over the same stale lock', async () => {
    const dead = spawnSync('true').pid!;
    for (let round = 0; round < 4; round++) {
      const dir = mkdtempSync(path.join(tmpdir(), 'cc-lock-'));
      writeFileSync(path.join(dir, 'coldchain.pid'), String(dead));
      const startAt = Date.now() + 1200;
      const outcomes = await race(dir, 6, startAt);
      expect(
        outcomes.filter((o) => o === 'locked'),
        outcomes.join(' | '),
      ).toHaveLength(1);
      expect(
        outcomes.filter((o) => o !== 'locked').every((o) => /is in use by another coldchain process \(pid \d+\)/.test(o)),
        outcomes.join(' | '),
      ).toBe(true);
      expect(readdirSync(dir)).toEqual([]);
    }
  });

  it('takes over a lock whose takeover was abandoned by a process that died in the middle of it', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cc-lock-'));
    writeFileSync(path.join(dir, 'coldchain.pid'), String(spawnSync('true').pid!));
    const guard = path.join(dir, 'coldchain.pid.takeover');
    writeFileSync(guard, '');
    const longAgo = new Date(Date.now() - 60_000);
    utimesSync(guard, longAgo, longAgo);
    const unlock = lockDataDir(dir);
    expect(readFileSync(path.join(dir, 'coldchain.pid'), 'utf8')).toBe(String(process.pid));
    expect(existsSync(guard)).toBe(false);
    unlock();
    expect(readdirSync(dir)).toEqual([]);
  });
});
