import { appendFileSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Spool, type SpoolPosition } from '../ingestor/spool.js';
import { testLog } from './helpers/workspace.js';

async function readAll(spool: Spool, from: SpoolPosition): Promise<{ lines: string[]; next: SpoolPosition }> {
  const lines: string[] = [];
  let position = from;
  for (;;) {
    const chunk = await spool.read(position, 10_000);
    if (chunk.lines.length === 0) return { lines, next: chunk.next };
    lines.push(...chunk.lines);
    position = chunk.next;
  }
}

describe('spool', () => {
  it('group-commits concurrent appends, rotates segments and reads everything back in order', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cc-spool-'));
    const spool = new Spool(dir, 64 * 1024, testLog);
    await spool.open();
    const records = Array.from({ length: 5000 }, (_, i) => JSON.stringify({ k: 'r', i, pad: 'x'.repeat(40) }));
    for (let wave = 0; wave < 50; wave++) await Promise.all(records.slice(wave * 100, wave * 100 + 100).map((r) => spool.append(r)));
    expect(readdirSync(dir).filter((f) => f.endsWith('.seg')).length).toBeGreaterThan(3);
    expect(spool.depth.records).toBe(5000);
    const { lines } = await readAll(spool, spool.start);
    expect(lines).toEqual(records);
    await spool.close();
  });

  it('after a restart resumes from the confirmed cursor and deletes confirmed segments', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cc-spool-'));
    let spool = new Spool(dir, 64 * 1024, testLog);
    await spool.open();
    const records = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ i, pad: 'y'.repeat(40) }));
    await Promise.all(records.map((r) => spool.append(r)));
    const first = await spool.read(spool.start, 40_000);
    let position = first.next;
    let confirmed = first.lines.length;
    while (confirmed < 2000) {
      const chunk = await spool.read(position, 40_000);
      position = chunk.next;
      confirmed += chunk.lines.length;
    }
    await spool.confirm(position, confirmed);
    await spool.close();

    spool = new Spool(dir, 64 * 1024, testLog);
    await spool.open();
    expect(spool.depth.records).toBe(3000 - confirmed);
    const rest = await readAll(spool, spool.start);
    expect(rest.lines).toEqual(records.slice(confirmed));
    await spool.confirm(rest.next, rest.lines.length);
    expect(spool.depth.records).toBe(0);
    expect(readdirSync(dir).filter((f) => f.endsWith('.seg')).length).toBe(1);
    await spool.close();
  });

  it('skips a torn tail left by a crash (bytes never fsynced, so never acknowledged)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cc-spool-'));
    let spool = new Spool(dir, 1024 * 1024, testLog);
    await spool.open();
    await spool.append('{"a":1}');
    await spool.append('{"a":2}');
    await spool.close();
    const segment = readdirSync(dir).find((f) => f.endsWith('.seg'))!;
    appendFileSync(path.join(dir, segment), '{"a":3, "torn');

    spool = new Spool(dir, 1024 * 1024, testLog);
    await spool.open();
    await spool.append('{"a":4}');
    const { lines } = await readAll(spool, spool.start);
    expect(lines).toEqual(['{"a":1}', '{"a":2}', '{"a":4}']);
    await spool.close();
  });
});
