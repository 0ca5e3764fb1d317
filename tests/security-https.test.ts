import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import path from 'node:path';
import type { RunningService } from '../app/service.js';
import { editConfig } from '../core/config/edit.js';
import { ConfigError, loadConfig, parseConfigText } from '../core/config/load.js';
import { SAMPLE_CONFIG } from '../cli/sample-config.js';
import { makeWorkspace, run, startTestService, type Workspace } from './helpers/workspace.js';

/*
 * Issue 12, item 10: the API spoke plain HTTP only, on 0.0.0.0 by default (passwords and bearer
 * tokens in clear). Now: HTTPS from http.tls, a self-signed pair written by `coldchain init`,
 * plain HTTP only on loopback unless http.allowPlainHttp is set.
 */

/** GET over TLS trusting only `ca` (no rejectUnauthorized: false anywhere). */
function httpsGet(url: string, ca: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: string; authorized: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, headers, agent: false }, (res) => {
      const authorized = (res.socket as TLSSocket).authorized;
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, authorized }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('HTTPS for the API; plain HTTP only on loopback', () => {
  let ws: Workspace;
  let service: RunningService;
  let cert: Buffer;

  beforeAll(async () => {
    ws = makeWorkspace({ devices: [] });
    // What a first start does: coldchain init writes the config and a self-signed pair under data/tls.
    const config = path.join(ws.dir, 'init', 'coldchain.yaml');
    const init = await run(process.execPath, [path.resolve('dist/cli/main.js'), 'init', '--config', config], '', 30_000);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toMatch(/wrote a self-signed certificate .*http\.crt and key .*http\.key \(0600\)/);
    const tlsDir = path.join(ws.dir, 'init', 'data', 'tls');
    for (const file of ['http.crt', 'http.key']) expect((statSync(path.join(tlsDir, file)).mode & 0o777).toString(8), file).toBe('600');
    expect((statSync(tlsDir).mode & 0o777).toString(8)).toBe('700');
    cert = readFileSync(path.join(tlsDir, 'http.crt'));
    // The test workspace listens on every address, with that certificate.
    editConfig(ws.configFile, (doc) => {
      doc.setIn(['http', 'host'], '0.0.0.0');
      doc.setIn(['http', 'tls'], doc.createNode({ cert: path.join(tlsDir, 'http.crt'), key: path.join(tlsDir, 'http.key') }));
    });
    service = await startTestService(ws);
  });
  afterAll(async () => {
    await service?.stop();
  });

  it('serves the API over TLS with the generated certificate, verified (not skipped) by the client', async () => {
    const health = await httpsGet(`https://127.0.0.1:${service.httpPort}/healthz`, cert);
    expect(health.authorized).toBe(true);
    expect(health.status).toBe(200);
    const overview = await httpsGet(`https://localhost:${service.httpPort}/api/v1/overview`, cert, { Authorization: `Bearer ${ws.apiTokens.viewer}` });
    expect(overview.status).toBe(200);
    // The same port does not answer plain HTTP.
    await expect(fetch(`http://127.0.0.1:${service.httpPort}/healthz`)).rejects.toThrow();
    // curl, as the README shows it.
    const curl = await run('curl', ['-sS', '--cacert', path.join(ws.dir, 'init', 'data', 'tls', 'http.crt'), `https://127.0.0.1:${service.httpPort}/healthz`]);
    expect(curl.stderr).toBe('');
    expect(JSON.parse(curl.stdout)).toMatchObject({ status: expect.any(String) });
  });

  it('refuses at config load a plain-HTTP listener on a non-loopback address, naming the key', () => {
    const plainEverywhere = SAMPLE_CONFIG.replace(/^ {2}host: 127\.0\.0\.1 .*$/m, '  host: 0.0.0.0');
    expect(plainEverywhere).not.toBe(SAMPLE_CONFIG);
    let error: unknown;
    try {
      parseConfigText(plainEverywhere, 'coldchain.yaml');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      expect.stringMatching(/^line \d+: http\.host: plain HTTP on 0\.0\.0\.0 \(not loopback\) .*http\.tls: \{ cert, key \}.*http\.allowPlainHttp: true/),
    ]);
    // Allowed explicitly (behind a TLS-terminating proxy), and on loopback or with TLS by default.
    expect(parseConfigText(plainEverywhere.replace('  port: 8080', '  port: 8080\n  allowPlainHttp: true'), 'x.yaml').http).toMatchObject({
      host: '0.0.0.0',
      allowPlainHttp: true,
    });
    expect(parseConfigText(SAMPLE_CONFIG, 'x.yaml').http).toMatchObject({ host: '127.0.0.1', allowPlainHttp: false });
    for (const host of ['::1', 'localhost', '127.0.0.2'])
      expect(parseConfigText(SAMPLE_CONFIG.replace(/^ {2}host: 127\.0\.0\.1 .*$/m, `  host: "${host}"`), 'x.yaml').http.host).toBe(host);
    // The service refuses to start with it: the same error, from the file.
    const file = path.join(ws.dir, 'plain.yaml');
    writeFileSync(file, plainEverywhere);
    expect(() => loadConfig(file)).toThrow(/http\.host: plain HTTP on 0\.0\.0\.0/);
  });

  it('a certificate that cannot be read is named at start', async () => {
    const other = makeWorkspace({ devices: [] });
    editConfig(other.configFile, (doc) => doc.setIn(['http', 'tls'], doc.createNode({ cert: './missing.crt', key: './missing.key' })));
    await expect(startTestService(other)).rejects.toThrow(/http\.tls\.cert: cannot read .*missing\.crt \(ENOENT\)/);
  });
});
