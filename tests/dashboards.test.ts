import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../core/config/load.js';
import type { Config } from '../core/config/schema.js';
import { SAMPLE_CONFIG } from '../cli/sample-config.js';
import { InfluxClient } from '../storage/influx.js';
import { readingLines, rejectionLine } from '../ingestor/records.js';
import { alertEventLine } from '../alerts/event-store.js';
import { buildDashboards } from '../dashboards/export.js';
import { run } from './helpers/workspace.js';

interface Target { datasource?: { uid?: string; type?: string }; query?: string; expr?: string; refId?: string }
interface Panel { id?: number; type: string; title?: string; datasource?: { uid?: string }; targets?: Target[]; fieldConfig?: { defaults?: { thresholds?: { steps: Array<{ value: number | null }> } } } }

/** What Grafana does to a query before sending it: macros and template variables ("All" = .*). */
function substitute(query: string): string {
  return query
    .replace(/\$timeFilter/g, 'time >= now() - 6h')
    .replace(/\$__interval|\$interval/g, '5m')
    .replace(/\/\^\$(site|location|device)\$\//g, '/^.*$/');
}

describe('Grafana dashboards as code', () => {
  let config: Config;
  let influx: InfluxClient;
  let outDir: string;
  let configFile: string;

  beforeAll(async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cc-grafana-'));
    configFile = path.join(dir, 'coldchain.yaml');
    writeFileSync(configFile, SAMPLE_CONFIG);
    config = loadConfig(configFile).config;
    influx = new InfluxClient({ url: inject('influxUrl'), database: `g_${randomUUID().replace(/-/g, '').slice(0, 10)}` });
    await influx.ensureDatabase(30 * 86_400_000);
    // Simulated data written exactly as the service writes it.
    const now = Date.now();
    const lines: string[] = [];
    const places = [
      { deviceId: 'room-a', siteId: 'dc-shanghai', locationId: 'dc-sh-cold-room-1' },
      { deviceId: 'freezer-a', siteId: 'dc-shanghai', locationId: 'dc-sh-freezer-1' },
      { deviceId: 'ambient-a', siteId: 'dc-shanghai', locationId: 'dc-sh-ambient-a' },
      { deviceId: 'fridge-a', siteId: 'hospital-pudong', locationId: 'hospital-pudong-fridge' },
      { deviceId: 'truck-a', siteId: 'truck-hu-a12345', locationId: 'truck-hu-a12345-box' },
    ];
    for (const p of places) {
      const readings = Array.from({ length: 180 }, (_, i) => ({ ts: now - (180 - i) * 60_000, temperature: p.locationId.includes('freezer') ? -19 : 5 + Math.sin(i / 9), humidity: 55, battery: 90 - i / 60, seq: i, ...(p.deviceId.startsWith('truck') ? { lat: 31.2 - i * 0.005, lon: 121.4 - i * 0.008 } : {}) }));
      lines.push(readingLines({ ...p, receivedAt: now - 1000, readings }));
    }
    lines.push(rejectionLine({ deviceId: 'room-a', receivedAt: now - 600_000, reason: 'malformed_json', message: 'payload is not JSON', topic: 'cc/v1/room-a/telemetry', bytes: 5, raw: '{oops' }, 1));
    const alert = { id: 'al-1', kind: 'temperature_high' as const, severity: 'major' as const, state: 'active' as const, siteId: 'truck-hu-a12345', locationId: 'truck-hu-a12345-box', deviceId: 'truck-a', occurredAt: now - 3_600_000, activatedAt: now - 3_000_000, detectedAt: now - 3_000_000, clearedAt: null, late: false, threshold: 8, peak: 9.4, durationMs: null, acknowledged: null, closed: null, tier: 1, lastNotifiedAt: null };
    lines.push(alertEventLine({ alertId: 'al-1', event: 'activated', at: now - 3_000_000, actor: 'system', alert }, 1));
    await influx.write(`${lines.join('\n')}\n`);
    outDir = mkdtempSync(path.join(tmpdir(), 'cc-grafana-out-'));
  });

  it('runs every InfluxDB panel query and variable query, as Grafana would, and gets series back', async () => {
    const dashboards = buildDashboards(config);
    expect(Object.keys(dashboards)).toEqual(['coldchain-live.json', 'coldchain-excursions.json', 'coldchain-fleet.json', 'coldchain-quality.json']);
    let queries = 0;
    for (const [name, dashboard] of Object.entries(dashboards)) {
      for (const panel of (dashboard.panels ?? []) as Panel[]) {
        for (const target of panel.targets ?? []) {
          if (target.datasource?.uid !== 'coldchain-influxdb') continue;
          const series = await influx.query(substitute(target.query!));
          expect(series.length, `${name} / ${panel.title}: ${target.query}`).toBeGreaterThan(0);
          queries++;
        }
      }
      for (const variable of (dashboard.templating?.list ?? []) as Array<{ name: string; query: string }>) {
        const series = await influx.query(substitute(variable.query));
        expect(series[0]?.values.length, `${name} variable ${variable.name}`).toBeGreaterThan(0);
      }
    }
    expect(queries).toBeGreaterThan(15);
  });

  it('has unique panel ids, provisioned datasources only, profile thresholds, and real metric names', () => {
    const metricNames = [...readFileSync('api/metrics.ts', 'utf8').matchAll(/name: '([a-z_]+)'/g)].map((m) => m[1]!);
    for (const [name, dashboard] of Object.entries(buildDashboards(config))) {
      const panels = (dashboard.panels ?? []) as Panel[];
      const ids = panels.map((p) => p.id);
      expect(new Set(ids).size, name).toBe(ids.length);
      expect(ids.every((id) => typeof id === 'number')).toBe(true);
      for (const panel of panels.filter((p) => p.type !== 'row')) {
        expect(['coldchain-influxdb', 'coldchain-prometheus'], `${name} / ${panel.title}`).toContain(panel.datasource?.uid);
        for (const target of panel.targets ?? []) {
          expect(target.datasource?.uid).toBe(panel.datasource?.uid);
          if (target.expr) expect(metricNames.some((m) => target.expr!.includes(m)), target.expr).toBe(true);
        }
      }
    }
    const live = buildDashboards(config)['coldchain-live.json']!.panels as Panel[];
    const freezer = live.find((p) => p.title?.startsWith('Freezer 1 ('))!;
    expect(freezer.fieldConfig?.defaults?.thresholds?.steps.map((s) => s.value)).toEqual([null, -25, -15]);
    const coldRoom = live.find((p) => p.title?.startsWith('Cold room 1 ('))!;
    expect(coldRoom.fieldConfig?.defaults?.thresholds?.steps.map((s) => s.value)).toEqual([null, 2, 8]);
  });

  it('coldchain dashboards export writes provisioning Grafana can read and the dashboards it points at', async () => {
    const cli = await run(process.execPath, [path.resolve('dist/cli/main.js'), 'dashboards', 'export', '--out', outDir, '--influx-url', 'http://influxdb:8086', '--config', configFile]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout.trim().split('\n').filter((l) => l.startsWith('wrote '))).toHaveLength(6);
    const datasources = parse(readFileSync(path.join(outDir, 'provisioning/datasources/coldchain.yaml'), 'utf8')) as { apiVersion: number; datasources: Array<{ uid: string; type: string; url: string; jsonData?: { dbName: string } }> };
    expect(datasources.apiVersion).toBe(1);
    expect(datasources.datasources.map((d) => [d.uid, d.type])).toEqual([
      ['coldchain-influxdb', 'influxdb'],
      ['coldchain-prometheus', 'prometheus'],
    ]);
    expect(datasources.datasources[0]).toMatchObject({ url: 'http://influxdb:8086', jsonData: { dbName: 'coldchain' } });
    const providers = parse(readFileSync(path.join(outDir, 'provisioning/dashboards/coldchain.yaml'), 'utf8')) as { providers: Array<{ type: string; options: { path: string } }> };
    expect(providers.providers[0]).toMatchObject({ type: 'file', options: { path: '/var/lib/grafana/dashboards/coldchain' } });
    const live = JSON.parse(readFileSync(path.join(outDir, 'dashboards/coldchain-live.json'), 'utf8')) as { uid: string; panels: unknown[] };
    expect(live.uid).toBe('coldchain-live');
  });
});
