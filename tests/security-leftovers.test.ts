import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../core/config/load.js';
import { LinkSigner } from '../shipments/links.js';
import { SAMPLE_CONFIG } from '../cli/sample-config.js';
import { influxFor, makeWorkspace, serviceOn } from './helpers/workspace.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('issue 12, item 16: the lower findings', () => {
  const suite = serviceOn(() => makeWorkspace({ devices: ['left-1'] }));

  it('/metrics answers only with a token (a viewer token is enough for Prometheus)', async () => {
    const url = `http://127.0.0.1:${suite.service.httpPort}/metrics`;
    const open = await fetch(url);
    expect(open.status).toBe(401);
    expect(await open.text()).not.toContain('coldchain_');
    const scraped = await fetch(url, { headers: { Authorization: `Bearer ${suite.ws.apiTokens.viewer}` } });
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toContain('coldchain_readings_accepted_total');
    expect((await fetch(`http://127.0.0.1:${suite.service.httpPort}/healthz`)).status).toBeLessThan(600);
  });

  it("InfluxDB's error text (with the database's name) is logged, not sent to the client", async () => {
    const influx = influxFor(suite.ws);
    await influx.query(`DROP DATABASE "${suite.ws.database}"`, { database: null, method: 'POST' });
    const answer = await fetch(`http://127.0.0.1:${suite.service.httpPort}/api/v1/rejects?device=left-1`, {
      headers: { Authorization: `Bearer ${suite.ws.apiTokens.viewer}` },
    });
    expect(answer.status).toBe(503);
    const body = (await answer.json()) as { error: string; message: string };
    expect(body.error).toBe('influxdb_unavailable');
    expect(body.message).not.toContain(suite.ws.database);
    expect(body.message).not.toMatch(/database not found|SELECT|rejects/);
    expect(body.message).toMatch(/request \S+; details in the service log/);
  });
});

describe('issue 12, item 16: receiver-link key and config edits', () => {
  it('refuses a receiver-link key that is empty, short or not base64', () => {
    for (const [content, problem] of [
      ['', /an empty file/],
      ['c2hvcnQ=', /5 bytes/],
      ['not base64 at all!', /at least 32 random bytes/],
    ] as const) {
      const dataDir = mkdtempSync(path.join(tmpdir(), 'cc-linkkey-'));
      mkdirSync(path.join(dataDir, 'keys'), { mode: 0o700 });
      writeFileSync(path.join(dataDir, 'keys', 'verification-links.key'), content, { mode: 0o600 });
      expect(() => LinkSigner.open(dataDir)).toThrow(problem);
    }
    const fresh = mkdtempSync(path.join(tmpdir(), 'cc-linkkey-'));
    const signer = LinkSigner.open(fresh);
    const id = LinkSigner.newLinkId();
    expect(signer.verify(signer.token(id))).toBe(id);
  });

  it('concurrent config edits from several processes all land (an exclusive lock), and a dead holder’s lock is taken over', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cc-edit-'));
    const file = path.join(dir, 'coldchain.yaml');
    writeFileSync(file, SAMPLE_CONFIG);
    // A lock left by a process that no longer exists (pid far above pid_max) must not block anyone.
    writeFileSync(`${file}.lock`, '99999999\n');
    const editor = (n: number) => `
      import { editConfig, appendToList } from ${JSON.stringify(path.join(ROOT, 'dist/core/config/edit.js'))};
      for (let i = 0; i < 5; i++) editConfig(${JSON.stringify(file)}, (doc) => appendToList(doc, 'apiTokens', { id: 'p${n}-' + i, role: 'viewer', tokenHash: 'sha256:' + '0'.repeat(64) }));
    `;
    const runs = Array.from(
      { length: 6 },
      (_, n) =>
        new Promise<number | null>((resolve) => {
          const child = spawn(process.execPath, ['--input-type=module', '-e', editor(n)], { stdio: ['ignore', 'ignore', 'inherit'] });
          child.on('close', resolve);
        }),
    );
    expect(await Promise.all(runs)).toEqual([0, 0, 0, 0, 0, 0]);
    const config = parseConfigText(readFileSync(file, 'utf8'), file);
    expect(config.apiTokens.map((t) => t.id).sort()).toEqual(
      Array.from({ length: 6 }, (_, n) => Array.from({ length: 5 }, (_, i) => `p${n}-${i}`))
        .flat()
        .sort(),
    );
  });
});
