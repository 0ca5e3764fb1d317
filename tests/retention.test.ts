import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { parseConfigText } from '../core/config/load.js';
import { SAMPLE_CONFIG } from '../cli/sample-config.js';
import { auditFile } from '../audit/audit-log.js';
import { InfluxClient } from '../storage/influx.js';
import { makeWorkspace, run, withUsers } from './helpers/workspace.js';

const DAY = 86_400_000;

/** Issue 13, item 3: no record is deleted because a setting changed; shortening is signed and audited. */
describe('retention', () => {
  it('a shorter influx.retention keeps the longer policy; below the floor it is a configuration error', async () => {
    const influx = new InfluxClient({ url: inject('influxUrl'), database: `t_ret_${Date.now()}` });
    expect(await influx.ensureDatabase(1830 * DAY)).toEqual({ retentionMs: 1830 * DAY });
    expect(await influx.ensureDatabase(30 * DAY)).toEqual({ retentionMs: 1830 * DAY, kept: 1830 * DAY });
    expect(await influx.retention()).toBe(1830 * DAY);
    expect(() => parseConfigText(SAMPLE_CONFIG.replace('retention: 1830d', 'retention: 30d'), 'c.yaml')).toThrow(
      /influx\.retention: shorter than influx\.retentionFloor \(GSP asks to keep records at least 5 years\)/,
    );
    expect(parseConfigText(SAMPLE_CONFIG.replace('retention: 1830d', 'retention: 30d\n  retentionFloor: 7d'), 'c.yaml').influx.retention).toBe(30 * DAY);
  });

  it('coldchain retention shorten: an admin e-signature, refusals and the change in the audit trail, never below the floor', async () => {
    const users = await withUsers('ada');
    const ws = makeWorkspace({
      devices: [],
      yamlPatch: (yaml) => users(yaml.replace(/^http:\n {2}host: 0\.0\.0\.0/m, 'http:\n  host: 127.0.0.1')),
    });
    writeFileSync(
      ws.configFile,
      readFileSync(ws.configFile, 'utf8')
        .replace(/^influx:\n/m, `influx:\n  url: ${inject('influxUrl')}\n`)
        .replace(/^ {2}database: .*$/m, `  database: ${ws.database}`)
        .replace('retention: 1830d', 'retention: 1830d\n  retentionFloor: 300d'),
    );
    const influx = new InfluxClient({ url: inject('influxUrl'), database: ws.database });
    await influx.ensureDatabase(1830 * DAY);
    const cli = (args: string[], input?: string) =>
      run(process.execPath, [path.resolve('dist/cli/main.js'), 'retention', ...args, '--config', ws.configFile], input, 30_000);
    expect((await cli(['show'])).stdout).toBe(`database ${ws.database} keeps records 1830d; influx.retention asks for 1830d (floor 300d)\n`);

    const wrong = await cli(['shorten', '--to', '400d', '--user', 'ada', '--comment', 'contract ends'], 'not-her-password\n');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('signature refused: wrong user name or password');
    expect(await influx.retention()).toBe(1830 * DAY);

    const below = await cli(['shorten', '--to', '30d', '--user', 'ada', '--comment', 'x'], 'ada-password-1\n');
    expect(below.stderr).toContain('--to 30d is shorter than influx.retentionFloor (300d)');

    const signed = await cli(['shorten', '--to', '400d', '--user', 'ada', '--comment', 'contract ends'], 'ada-password-1\n');
    expect(signed.code, signed.stderr).toBe(0);
    expect(signed.stdout).toBe(`database ${ws.database} now keeps records 400d (was 1830d); signed by Ada Admin\n`);
    expect(await influx.retention()).toBe(400 * DAY);
    const audit = readFileSync(auditFile(path.join(ws.dir, 'data')), 'utf8');
    expect(audit).toContain('"action":"signature.refused"');
    expect(audit).toMatch(
      /"printedName":"Ada Admin","action":"retention\.shorten","target":"[^"]+","details":\{"before":"1830d","after":"400d","comment":"contract ends"\}/,
    );
  });
});
