import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { SAMPLE_CONFIG } from '../cli/sample-config.js';
import { parseConfigText } from '../core/config/load.js';
import { sensorsRequired } from '../core/config/compliance.js';
import { run } from './helpers/workspace.js';

const CLI = path.resolve('dist/cli/main.js');
const LOOPBACK = (yaml: string) => yaml.replace(/^http:\n {2}host: 0\.0\.0\.0/m, 'http:\n  host: 127.0.0.1');

/** Issue 14, item 6: a configuration checked against GSP, each finding at its line. */
describe('coldchain check', () => {
  it('the sample configuration passes (warnings only: it has no sensors or SMS recipients yet)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cc-check-'));
    writeFileSync(path.join(dir, 'coldchain.yaml'), LOOPBACK(SAMPLE_CONFIG));
    const result = await run(process.execPath, [CLI, 'check', '--config', path.join(dir, 'coldchain.yaml')]);
    expect(result.code, result.stdout).toBe(0);
    expect(result.stdout).toMatch(/: 0 errors, \d+ warnings against GSP/);
  });

  it('a thin configuration names each finding with its line and exits 1', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cc-check-'));
    const thin = LOOPBACK(SAMPLE_CONFIG)
      .replace('retention: 1830d', 'retention: 400d\n  retentionFloor: 30d')
      .replace(/^influx:\n/m, 'influx:\n  url: http://127.0.0.1:8086\n')
      .replace(/^backup:\n {2}enabled: true/m, 'backup:\n  enabled: false')
      .replace('devices: []', `devices:\n  - { id: cr-1, location: dc-sh-cold-room-1, interval: 5m, tokenHash: "sha256:${'0'.repeat(64)}" }`);
    writeFileSync(path.join(dir, 'coldchain.yaml'), thin);
    const result = await run(process.execPath, [CLI, 'check', '--config', path.join(dir, 'coldchain.yaml')]);
    expect(result.code).toBe(1);
    const lines = result.stdout.split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^ERROR +line \d+: sites\[0\]\.locations\[0\]: Cold room 1 \(120 m²\) has 1 sensor; GSP asks for at least 2$/),
        expect.stringMatching(/^warning +line \d+: devices\[0\]\.interval: cr-1 reports every 300 s; GSP asks for values refreshed at least every minute$/),
        expect.stringMatching(/^ERROR +line \d+: influx\.retention: records are kept less than 5 years$/),
        expect.stringMatching(/^ERROR +line \d+: backup\.enabled: no daily backup$/),
        expect.stringMatching(/^ERROR +line \d+: influx\.url: the external InfluxDB is used without credentials/),
        expect.stringMatching(
          /^ERROR +line \d+: devices\[0\]: cr-1: no calibration on file \(model, serial, accuracy and a certificate: coldchain calibration add cr-1\)$/,
        ),
      ]),
    );
    expect(result.stdout).toMatch(/: 5 errors, \d+ warnings against GSP/);
  });

  it('sensor counts follow the GSP annex: 2 per store, one per 100 m² of cold store or 300 m² otherwise; vehicles 2 plus one per further 20 m³', () => {
    const config = parseConfigText(LOOPBACK(SAMPLE_CONFIG), 'c.yaml');
    const [coldRoom, freezer, ambient] = config.sites[0]!.locations;
    expect([sensorsRequired(coldRoom!), sensorsRequired(freezer!), sensorsRequired(ambient!)]).toEqual([2, 2, 2]);
    expect(sensorsRequired({ ...coldRoom!, areaM2: 450 })).toBe(5);
    expect(sensorsRequired({ ...ambient!, areaM2: 1000 })).toBe(4);
    expect(sensorsRequired(config.sites[1]!.locations[0]!)).toBe(3);
    expect(sensorsRequired({ ...config.sites[1]!.locations[0]!, volumeM3: 18 })).toBe(2);
  });
});
