import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../app/service.js';
import { editConfig } from '../core/config/edit.js';
import { REQUIREMENTS } from '../validation/requirements.js';
import { CLI } from './helpers/browser.js';
import { startWebhookReceiver } from './helpers/receivers.js';
import { makeWorkspace, run, startTestService, withUsers, type Workspace } from './helpers/workspace.js';

/** A site of its own for validation: the test alarm reaches only its recipient and enters no store's record. */
const validationSite = (webhookPort: number) => `  - id: oq-validation
    name: Validation bench
    kind: warehouse
    recipients:
      - { name: QA validation inbox, tier: 1, webhook: "http://127.0.0.1:${webhookPort}/oq" }
    locations:
      - { id: oq-probe-place, name: Validation probe (not a store), kind: cold_room, profile: vaccines-2-8, alerts: { silentAfterIntervals: 1000000 } }
`;

describe('coldchain validate: IQ/OQ against the running service (issue 14, item 8)', () => {
  let ws: Workspace;
  let service: RunningService;
  let webhook: Server;
  const hooks: unknown[] = [];
  let credentials = '';
  const validate = (credentialsFile: string, out: string) =>
    run(
      process.execPath,
      [
        CLI,
        'validate',
        '--url',
        `http://127.0.0.1:${service.httpPort}`,
        '--mqtt-url',
        `mqtt://127.0.0.1:${service.mqttPort}`,
        '--credentials',
        credentialsFile,
        '--out',
        out,
        '--config',
        ws.configFile,
      ],
      undefined,
      120_000,
    );

  beforeAll(async () => {
    const receiver = await startWebhookReceiver((hook) => hooks.push(hook));
    webhook = receiver.server;
    const webhookPort = receiver.port;
    const users = await withUsers('quinn');
    ws = makeWorkspace({
      devices: [{ id: 'oq-probe', location: 'oq-probe-place' }],
      yamlPatch: (yaml) => users(yaml.replace('\n# Devices are added with', `${validationSite(webhookPort)}\n# Devices are added with`)),
    });
    // The installation as GSP wants it: a daily backup (at a time the test does not reach).
    editConfig(ws.configFile, (doc) => {
      doc.setIn(['backup', 'enabled'], true);
      doc.setIn(['backup', 'at'], '23:59');
      // GSP wants each sensor's calibration on file (coldchain check names it otherwise).
      doc.setIn(['devices', 0, 'calibration'], {
        model: 'TH-20',
        serial: 'OQ-0001',
        accuracy: { temperature: 0.3, humidity: 3 },
        certificates: [
          {
            number: 'CAL-OQ-1',
            laboratory: 'Shanghai calibration lab (CNAS)',
            calibratedAt: '2026-01-05',
            dueAt: '2027-12-31',
            points: [
              { quantity: 'temperature', reference: 5, reading: 5.1 },
              { quantity: 'humidity', reference: 50, reading: 51 },
            ],
          },
        ],
      });
    });
    // The managed influxd, which requires authentication (IQ-04 probes it without credentials).
    service = await startTestService(ws, { influxUrl: undefined });
    credentials = path.join(ws.dir, 'validation-credentials.yaml');
    writeFileSync(
      credentials,
      `apiToken: ${ws.apiTokens.admin}\ndevice: { id: oq-probe, token: ${ws.deviceTokens['oq-probe']} }\nsigner: { user: quinn, password: quinn-password-1 }\n`,
      { mode: 0o600 },
    );
  });
  afterAll(async () => {
    await service?.stop();
    webhook?.close();
  });

  it('every check passes against a healthy deployment; the matrix is written as HTML, PDF and JSON and names every requirement', async () => {
    const out = path.join(ws.dir, 'oq-pass');
    const result = await validate(credentials, out);
    expect(result.stdout, result.stderr.slice(-2000)).toMatch(/all \d+ checks passed/);
    expect(result.code).toBe(0);
    const files = readdirSync(out);
    const pdf = files.find((f) => f.endsWith('.pdf'))!;
    expect(files.filter((f) => /^coldchain-validation-oq-.*\.(html|pdf|json)$/.test(f))).toHaveLength(3);
    const json = JSON.parse(readFileSync(path.join(out, pdf.replace(/\.pdf$/, '.json')), 'utf8'));
    expect(json.passed).toBe(true);
    expect(json.failedRequirements).toEqual([]);
    expect(json.versions).toMatchObject({ coldchain: '0.1.0', nodeService: process.version, influxd: expect.stringMatching(/^1\./) });
    expect(json.outcomes.map((o: { id: string }) => o.id)).toEqual(expect.arrayContaining(['IQ-04', 'OQ-05', 'OQ-07', 'OQ-09']));
    // The PDF as a reader sees it: every requirement id, the bilingual headings, PASS and the run.
    const text = (await run('pdftotext', ['-layout', path.join(out, pdf), '-'])).stdout;
    for (const r of REQUIREMENTS) expect(text).toContain(r.id);
    expect(text).toContain('Traceability matrix / 可追溯性矩阵');
    expect(text).toContain(json.runId);
    expect(text).not.toMatch(/FAIL \/ 不通过/);
    const html = readFileSync(path.join(out, pdf.replace(/\.pdf$/, '.html')), 'utf8');
    expect(html).toContain('CFR-11.10(e)');
    // The test alarm went to the validation site's recipient only, and is closed with two signatures.
    expect(hooks.length).toBeGreaterThan(0);
    const closed = service.alerts.incidents.list().filter((i) => i.locationId === 'oq-probe-place');
    expect(closed.map((i) => i.state)).toEqual(['closed']);
  });

  it('each requirement maps to a clause of docs/compliance.md', () => {
    const matrix = readFileSync('docs/compliance.md', 'utf8');
    for (const r of REQUIREMENTS) expect(matrix, r.id).toContain(`| ${r.clause} |`);
  });

  it('a wrong API token fails: exit 1, naming the requirements not shown, and the matrix still written', async () => {
    const wrong = path.join(ws.dir, 'wrong-credentials.yaml');
    writeFileSync(wrong, readFileSync(credentials, 'utf8').replace(/apiToken: .*/, `apiToken: api_${'x'.repeat(43)}`), { mode: 0o600 });
    const out = path.join(ws.dir, 'oq-fail');
    const result = await validate(wrong, out);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/FAIL +IQ-06 .*\[CFR-11\.10\(e\)\]: \/api\/v1\/audit\?limit=1: HTTP 401/);
    expect(result.stdout).toMatch(/FAILED: requirements not shown: .*CFR-11\.10\(e\)/);
    const pdf = readdirSync(out).find((f) => f.endsWith('.pdf'))!;
    const text = (await run('pdftotext', ['-layout', path.join(out, pdf), '-'])).stdout;
    expect(text).toContain('FAIL / 不通过');
    expect(text).toContain('NOT RUN / 未执行');
  });
});
