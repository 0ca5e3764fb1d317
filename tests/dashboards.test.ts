import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../core/config/load.js';
import { configSchema, type Config } from '../core/config/schema.js';
import { SAMPLE_CONFIG } from '../cli/sample-config.js';
import { InfluxClient, type Series } from '../storage/influx.js';
import { readingLines, rejectionFact } from '../ingestor/records.js';
import { alertEventFact } from '../alerts/event-store.js';
import { factLine } from '../storage/fact-log.js';
import type { Alert, AlertEvent } from '../alerts/book.js';
import { createMetrics, type MetricSources } from '../ingestor/metrics.js';
import { buildDashboards, exportDashboards } from '../dashboards/export.js';
import { INGEST_LAG } from '../dashboards/quality.js';
import { run } from './helpers/workspace.js';
import { testAlert } from './helpers/alarms.js';

interface Target {
  datasource?: { uid?: string; type?: string };
  query?: string;
  expr?: string;
  refId?: string;
  resultFormat?: string;
}
interface Panel {
  id?: number;
  type: string;
  title?: string;
  interval?: string;
  gridPos?: { x: number; y: number; w: number; h: number };
  datasource?: { uid?: string };
  targets?: Target[];
  transformations?: unknown[];
  fieldConfig?: { defaults?: { unit?: string; thresholds?: { steps: Array<{ value: number | null }> } } };
}
interface Variable {
  name: string;
  query: string;
  datasource?: { uid?: string };
}

const MIN = 60_000;
/** Where the simulated devices are (the sample config's places). */
const PLACES = [
  { deviceId: 'room-a', siteId: 'dc-shanghai', locationId: 'dc-sh-cold-room-1', lat: 31.2304, lon: 121.4737 },
  { deviceId: 'freezer-a', siteId: 'dc-shanghai', locationId: 'dc-sh-freezer-1', lat: 31.2304, lon: 121.4737 },
  { deviceId: 'ambient-a', siteId: 'dc-shanghai', locationId: 'dc-sh-ambient-a', lat: 31.2304, lon: 121.4737 },
  { deviceId: 'fridge-a', siteId: 'hospital-pudong', locationId: 'hospital-pudong-fridge', lat: 31.2213, lon: 121.5443 },
  { deviceId: 'truck-a', siteId: 'truck-hu-a12345', locationId: 'truck-hu-a12345-box', lat: 31.3, lon: 121.2 },
];
const locationOf = (deviceId: string) => PLACES.find((p) => p.deviceId === deviceId)!.locationId;

/** A selection of the template variables: a list of values, or All. */
type Selection = Record<'site' | 'location' | 'device', string[] | 'All'>;
const ALL: Selection = { site: 'All', location: 'All', device: 'All' };

/** What Grafana's InfluxDB datasource sends: regex-escaped values in the regex form, "All" as the custom all value. */
function interpolate(query: string, selection: Selection, interval = '1m'): string {
  const escapeRegex = (value: string) => value.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&');
  return query
    .replace(/\$timeFilter/g, 'time >= now() - 6h')
    .replace(/\$__interval|\$interval/g, interval)
    .replace(/\/\^\$(site|location|device)\$\//g, (_, name: keyof Selection) => {
      const values = selection[name];
      if (values === 'All') return '/^.*$/';
      return values.length === 1 ? `/^${escapeRegex(values[0]!)}$/` : `/^(${values.map(escape).join('|')})$/`;
    });
}

const panelsOf = (dashboard: { panels?: unknown[] }) => (dashboard.panels ?? []) as Panel[];
const variablesOf = (dashboard: { templating?: { list?: unknown[] } }) => (dashboard.templating?.list ?? []) as Variable[];
const influxTargets = (panel: Panel) => (panel.targets ?? []).filter((t) => t.datasource?.uid === 'coldchain-influxdb');
const valuesOf = (series: Series[]) => series.flatMap((s) => s.values.map((row) => String(row[s.columns.indexOf('value')])));

function alertAt(now: number, patch: Partial<Alert> & Pick<Alert, 'id' | 'kind' | 'siteId' | 'locationId' | 'deviceId' | 'threshold' | 'peak'>): Alert {
  return testAlert({
    severity: 'major',
    state: 'active',
    occurredAt: now - 90 * MIN,
    activatedAt: now - 80 * MIN,
    detectedAt: now - 80 * MIN,
    incidentId: null,
    tier: 1,
    ...patch,
  });
}

describe('Grafana dashboards as code', () => {
  let config: Config;
  let influx: InfluxClient;
  let outDir: string;
  let configFile: string;
  let provisioned: {
    apiVersion: number;
    datasources: Array<{ uid: string; type: string; url: string; jsonData?: Record<string, unknown>; secureJsonData?: Record<string, string> }>;
  };

  beforeAll(async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cc-grafana-'));
    configFile = path.join(dir, 'coldchain.yaml');
    writeFileSync(configFile, SAMPLE_CONFIG);
    config = configSchema.parse(parse(SAMPLE_CONFIG));
    influx = new InfluxClient({ url: inject('influxUrl'), database: `g_${randomUUID().replace(/-/g, '').slice(0, 10)}` });
    await influx.ensureDatabase(30 * 86_400_000);

    // Three hours of readings a minute apart, written exactly as the service writes them.
    const now = Date.now();
    const lines: string[] = [];
    for (const p of PLACES) {
      const base = p.locationId.includes('freezer') ? -19 : p.locationId.includes('ambient') ? 21 : 5;
      const minutes = Array.from({ length: 180 }, (_, i) => now - (180 - i) * MIN)
        // The freezer's sensor was silent for 20 minutes: the readings-per-interval panel must show it.
        .filter((ts) => !(p.deviceId === 'freezer-a' && ts > now - 100 * MIN && ts <= now - 80 * MIN));
      const reading = (ts: number, i: number) => ({
        ts,
        temperature: base + Math.sin(i / 9),
        humidity: 50 + (i % 7),
        battery: 95 - i / 20,
        seq: i,
        door: false,
        lat: p.deviceId === 'truck-a' ? p.lat + i * 0.001 : p.lat,
        lon: p.deviceId === 'truck-a' ? p.lon + i * 0.0015 : p.lon,
      });
      const { siteId, locationId, deviceId } = p;
      if (p.deviceId === 'truck-a') {
        // In a tunnel from 150 to 90 minutes ago: that hour was uploaded at once when coverage came back.
        const buffered = minutes.map((ts, i) => ({ ts, i })).filter(({ ts }) => ts > now - 150 * MIN && ts <= now - 90 * MIN);
        lines.push(readingLines({ deviceId, siteId, locationId, receivedAt: now - 89 * MIN, readings: buffered.map(({ ts, i }) => reading(ts, i)) }));
        minutes.forEach((ts, i) => {
          if (!(ts > now - 150 * MIN && ts <= now - 90 * MIN))
            lines.push(readingLines({ deviceId, siteId, locationId, receivedAt: ts + 1500, readings: [reading(ts, i)] }));
        });
      } else {
        minutes.forEach((ts, i) => lines.push(readingLines({ deviceId, siteId, locationId, receivedAt: ts + 800, readings: [reading(ts, i)] })));
      }
    }
    lines.push(
      factLine(
        rejectionFact({
          deviceId: 'room-a',
          receivedAt: now - 40 * MIN,
          reason: 'malformed_json',
          message: 'payload is not JSON',
          topic: 'cc/v1/room-a/telemetry',
          bytes: 5,
          raw: '{oops',
        }),
        1,
      ),
    );
    lines.push(
      factLine(
        rejectionFact({
          deviceId: 'ambient-a',
          receivedAt: now - 30 * MIN,
          reason: 'impossible_value',
          message: 'temperature 999 outside -80…80',
          index: 0,
          topic: 'cc/v1/ambient-a/telemetry',
          bytes: 31,
          raw: '{"ts":1,"temperature":999}',
        }),
        2,
      ),
    );
    lines.push(
      factLine(
        rejectionFact({
          deviceId: '',
          receivedAt: now - 20 * MIN,
          reason: 'unknown_device',
          message: 'no such device',
          topic: 'cc/v1/ghost/telemetry',
          bytes: 20,
          raw: '{"temperature":4}',
        }),
        3,
      ),
    );

    const events: AlertEvent[] = [];
    const ambient = alertAt(now, {
      id: 'al-ambient',
      kind: 'temperature_high',
      siteId: 'dc-shanghai',
      locationId: 'dc-sh-ambient-a',
      deviceId: 'ambient-a',
      threshold: 25,
      peak: 26.2,
      severity: 'minor',
    });
    events.push({ alertId: ambient.id, event: 'activated', at: now - 80 * MIN, actor: 'system', alert: ambient });
    events.push({
      alertId: ambient.id,
      event: 'acknowledged',
      at: now - 70 * MIN,
      actor: 'olga',
      printedName: 'Olga Operator',
      meaning: 'acknowledged',
      comment: 'door closed',
      alert: {
        ...ambient,
        state: 'acknowledged',
        acknowledged: { by: 'olga', printedName: 'Olga Operator', at: now - 70 * MIN, meaning: 'acknowledged', comment: 'door closed' },
      },
    });
    const truck = alertAt(now, {
      id: 'al-truck',
      kind: 'temperature_high',
      siteId: 'truck-hu-a12345',
      locationId: 'truck-hu-a12345-box',
      deviceId: 'truck-a',
      threshold: 8,
      peak: 9.4,
      late: true,
    });
    events.push({ alertId: truck.id, event: 'activated', at: now - 89 * MIN, actor: 'system', alert: truck });
    events.push({
      alertId: truck.id,
      event: 'notified',
      at: now - 89 * MIN + 2000,
      actor: 'system',
      channel: 'webhook',
      recipient: 'dispatch',
      outcome: 'delivered',
      alert: truck,
    });
    events.push({
      alertId: truck.id,
      event: 'cleared',
      at: now - 60 * MIN,
      actor: 'system',
      alert: { ...truck, state: 'cleared', clearedAt: now - 60 * MIN, durationMs: 30 * MIN },
    });
    events.forEach((event, i) => lines.push(factLine(alertEventFact(event), i)));
    await influx.write(`${lines.join('\n')}\n`);

    outDir = mkdtempSync(path.join(tmpdir(), 'cc-grafana-out-'));
    exportDashboards(config, { outDir: path.join(outDir, 'direct') });
    provisioned = parse(readFileSync(path.join(outDir, 'direct/provisioning/datasources/coldchain.yaml'), 'utf8'));
  });

  it('runs every InfluxDB panel and variable query with all values selected, as Grafana sends them, and gets series back', async () => {
    const dashboards = buildDashboards(config);
    expect(Object.keys(dashboards)).toEqual(['coldchain-live.json', 'coldchain-excursions.json', 'coldchain-fleet.json', 'coldchain-quality.json']);
    let queries = 0;
    for (const [name, dashboard] of Object.entries(dashboards)) {
      for (const variable of variablesOf(dashboard)) {
        expect(variable.query, `${name} variable ${variable.name}`).toMatch(/^SHOW TAG VALUES FROM "readings" WITH KEY = /);
        expect(valuesOf(await influx.query(interpolate(variable.query, ALL))).length, `${name} variable ${variable.name}`).toBeGreaterThan(0);
      }
      for (const panel of panelsOf(dashboard)) {
        for (const target of influxTargets(panel)) {
          const query = interpolate(target.query!, ALL, panel.interval);
          expect(query, 'a macro or variable Grafana would replace is left').not.toMatch(/\$[A-Za-z_]/);
          const series = await influx.query(query);
          expect(series.length, `${name} / ${panel.title}: ${query}`).toBeGreaterThan(0);
          queries++;
        }
      }
    }
    // Live: a time series and a stat per place, humidity; excursions, fleet and quality: 3 each.
    expect(queries).toBe(2 * config.sites.flatMap((s) => s.locations).length + 1 + 3 + 3 + 3);
  });

  it('with one value of each chained variable (and with several devices), each panel shows exactly the places selected', async () => {
    const check = async (name: string, dashboard: { panels?: unknown[] }, selection: Selection) => {
      const devices = selection.device === 'All' ? PLACES.map((p) => p.deviceId) : selection.device;
      for (const panel of panelsOf(dashboard)) {
        for (const target of influxTargets(panel)) {
          const series = await influx.query(interpolate(target.query!, selection, panel.interval));
          // A live panel is pinned to one place: it shows data only when a selected device is there.
          const pinned = /"locationId" = '([^']+)'/.exec(target.query!)?.[1];
          const expected = pinned === undefined || devices.some((d) => locationOf(d) === pinned);
          expect(series.length > 0, `${name} / ${panel.title} with ${JSON.stringify(selection)}`).toBe(expected);
          const tagged = series.flatMap((s) => (s.tags?.deviceId ? [s.tags.deviceId] : []));
          for (const device of tagged) expect(devices, `${name} / ${panel.title}`).toContain(device);
        }
      }
    };
    for (const [name, dashboard] of Object.entries(buildDashboards(config))) {
      // Grafana resolves the chain in order: each variable's query sees the values chosen before it.
      const selection: Selection = { ...ALL };
      for (const variable of variablesOf(dashboard)) {
        const values = valuesOf(await influx.query(interpolate(variable.query, selection)));
        expect(values.length, `${name} variable ${variable.name} under ${JSON.stringify(selection)}`).toBeGreaterThan(0);
        selection[variable.name as keyof Selection] = [values[0]!];
      }
      if (name === 'coldchain-fleet.json') expect(selection).toEqual({ site: ['truck-hu-a12345'], location: ['truck-hu-a12345-box'], device: ['truck-a'] });
      else expect(selection).toEqual({ site: ['dc-shanghai'], location: ['dc-sh-ambient-a'], device: ['ambient-a'] });
      await check(name, dashboard, selection);
    }
    await check('coldchain-live.json', buildDashboards(config)['coldchain-live.json']!, { site: 'All', location: 'All', device: ['room-a', 'truck-a'] });
  });

  it('ingest lag: receive time minus bucket start, as the panel computes it, shows the store-and-forward hour', async () => {
    const quality = buildDashboards(config)['coldchain-quality.json']!;
    const panel = panelsOf(quality).find((p) => p.title?.startsWith('Ingest lag'))!;
    expect(panel.transformations).toEqual([INGEST_LAG]);
    expect(panel.fieldConfig?.defaults?.unit).toBe('ms');
    const interval = 10 * MIN;
    const series = await influx.query(interpolate(panel.targets![0]!.query!, ALL, '10m'));
    // The transformation: every number field minus the Time field (bucket start, epoch ms).
    const lag = Object.fromEntries(series.map((s) => [s.tags!.deviceId!, s.values.map(([time, value]) => (value as number) - (time as number))]));
    expect(Math.max(...lag['room-a']!)).toBeLessThanOrEqual(interval + 1000);
    expect(Math.max(...lag['truck-a']!)).toBeGreaterThan(55 * MIN);
    expect(lag['truck-a']!.filter((l) => l <= interval + 2000).length, 'the truck was live before and after the tunnel').toBeGreaterThan(5);
  });

  it('panels show what their titles promise: the freezer gap as zeros, the latest alert events, the truck on the map', async () => {
    const dashboards = buildDashboards(config);
    const panel = (file: string, title: string) => panelsOf(dashboards[file]!).find((p) => p.title?.startsWith(title))!;
    const ask = async (p: Panel) => influx.query(interpolate(p.targets![0]!.query!, ALL, p.interval ?? '1m'));

    const perInterval = panel('coldchain-quality.json', 'Readings per interval');
    const now = Date.now();
    const counts = Object.fromEntries(
      (await ask(perInterval)).map((s) => [
        s.tags!.deviceId!,
        s.values.filter(([t]) => (t as number) > now - 175 * MIN && (t as number) < now - 5 * MIN).map(([, c]) => c as number),
      ]),
    );
    expect(counts['freezer-a']!.filter((c) => c === 0).length).toBeGreaterThanOrEqual(18);
    expect(counts['room-a']!.filter((c) => c === 0)).toEqual([]);

    const table = (await ask(panel('coldchain-excursions.json', 'Latest alert events')))[0]!;
    for (const column of ['event', 'kind', 'severity', 'state', 'deviceId', 'peak']) expect(table.columns).toContain(column);
    const rows = table.values.map((row) => Object.fromEntries(table.columns.map((c, i) => [c, row[i]])));
    expect(rows.map((r) => `${r.event}/${r.deviceId}`)).toEqual([
      'cleared/truck-a',
      'acknowledged/ambient-a',
      'activated/ambient-a',
      'notified/truck-a',
      'activated/truck-a',
    ]);
    expect(rows[0]).toMatchObject({ kind: 'temperature_high', severity: 'major', state: 'cleared', peak: 9.4 });
    expect(rows[1]).toMatchObject({
      kind: 'temperature_high',
      severity: 'minor',
      state: 'acknowledged',
      peak: 26.2,
      printedName: 'Olga Operator',
      comment: 'door closed',
    });

    const map = panel('coldchain-fleet.json', 'Last position');
    expect(map.targets![0]!.resultFormat).toBe('table');
    const positions = await ask(map);
    expect(positions.map((s) => s.tags?.deviceId)).toEqual(['truck-a']);
    const [, latitude, longitude] = positions[0]!.values[0] as number[];
    expect(latitude).toBeCloseTo(31.3 + 179 * 0.001, 6);
    expect(longitude).toBeCloseTo(121.2 + 179 * 0.0015, 6);
    expect(positions[0]!.columns).toEqual(['time', 'latitude', 'longitude', 'temperature']);
  });

  it('has unique panel ids, sane layout, provisioned datasources only, profile thresholds, units and real metric names', () => {
    const stub = {
      counters: { acceptedReadings: 0, rejected: new Map() },
      spool: { depth: { records: 0, bytes: 0 } },
      writer: { stats: {} },
      connectedDevices: () => 0,
    };
    const metricNames = new Set(
      createMetrics(stub as unknown as MetricSources)
        .getMetricsAsArray()
        .map((m) => m.name),
    );
    expect(metricNames).toContain('coldchain_spool_depth_records');
    const uids = new Set(provisioned.datasources.map((d) => d.uid));
    expect(uids).toEqual(new Set(['coldchain-influxdb', 'coldchain-prometheus']));
    let prometheusTargets = 0;
    for (const [name, dashboard] of Object.entries(buildDashboards(config))) {
      const panels = panelsOf(dashboard);
      const ids = panels.map((p) => p.id);
      expect(ids.every((id) => typeof id === 'number')).toBe(true);
      expect(new Set(ids).size, name).toBe(ids.length);
      for (const panel of panels) {
        const g = panel.gridPos!;
        expect(g.x + g.w, `${name} / ${panel.title}`).toBeLessThanOrEqual(24);
        // No two panels overlap.
        for (const other of panels.filter((p) => p !== panel)) {
          const o = other.gridPos!;
          const overlap = g.x < o.x + o.w && o.x < g.x + g.w && g.y < o.y + o.h && o.y < g.y + g.h;
          expect(overlap, `${name}: ${panel.title} / ${other.title}`).toBe(false);
        }
      }
      for (const variable of variablesOf(dashboard)) expect(uids, `${name} variable ${variable.name}`).toContain(variable.datasource?.uid);
      for (const panel of panels.filter((p) => p.type !== 'row')) {
        expect(uids, `${name} / ${panel.title}`).toContain(panel.datasource?.uid);
        expect(panel.targets?.length, `${name} / ${panel.title}`).toBeGreaterThan(0);
        for (const target of panel.targets ?? []) {
          expect(target.datasource?.uid).toBe(panel.datasource?.uid);
          if (target.datasource?.uid !== 'coldchain-prometheus') continue;
          prometheusTargets++;
          const used = target.expr!.match(/coldchain_[a-z_]+/g) ?? [];
          expect(used.length, target.expr).toBeGreaterThan(0);
          for (const metric of used) expect(metricNames, target.expr).toContain(metric);
        }
      }
    }
    expect(prometheusTargets).toBeGreaterThanOrEqual(3);

    const live = panelsOf(buildDashboards(config)['coldchain-live.json']!);
    const profiles = new Map(config.profiles.map((p) => [p.id, p]));
    for (const location of config.sites.flatMap((s) => s.locations)) {
      const panel = live.find((p) => p.type === 'timeseries' && p.targets?.[0]?.query?.includes(`"locationId" = '${location.id}'`));
      const { min, max } = profiles.get(location.profile)!.temperature;
      expect(
        panel?.fieldConfig?.defaults?.thresholds?.steps.map((s) => s.value),
        location.id,
      ).toEqual([null, min, max]);
      expect(panel?.fieldConfig?.defaults?.unit).toBe('celsius');
    }
    const freezer = live.find((p) => p.title?.startsWith('Freezer 1 ('))!;
    expect(freezer.fieldConfig?.defaults?.thresholds?.steps.map((s) => s.value)).toEqual([null, -25, -15]);
    expect(live.find((p) => p.title === 'Relative humidity')?.fieldConfig?.defaults?.unit).toBe('humidity');
    const fleet = panelsOf(buildDashboards(config)['coldchain-fleet.json']!);
    expect(fleet.map((p) => p.type)).toEqual(['timeseries', 'geomap', 'stat']);
    expect(fleet[0]!.fieldConfig?.defaults?.thresholds?.steps.map((s) => s.value)).toEqual([null, 2, 8]);
    expect(fleet[2]!.fieldConfig?.defaults?.unit).toBe('percent');
  });

  it('the InfluxDB datasource: the configured database, a token only as a $VARIABLE Grafana expands', () => {
    expect(provisioned.apiVersion).toBe(1);
    expect(provisioned.datasources[0]).toMatchObject({
      type: 'influxdb',
      url: 'http://127.0.0.1:8086',
      jsonData: { dbName: 'coldchain', version: 'InfluxQL' },
    });
    const withToken = configSchema.parse({
      ...parse(SAMPLE_CONFIG),
      influx: { url: 'http://influx.internal:8086', database: 'cc_prod', token: 'secret-token-value' },
    });
    const dir = path.join(outDir, 'token');
    exportDashboards(withToken, { outDir: dir, prometheusUrl: 'http://prom:9090' });
    const text = readFileSync(path.join(dir, 'provisioning/datasources/coldchain.yaml'), 'utf8');
    expect(text).not.toContain('secret-token-value');
    const file = parse(text) as typeof provisioned;
    expect(file.datasources[0]).toMatchObject({
      url: 'http://influx.internal:8086',
      jsonData: { dbName: 'cc_prod', httpHeaderName1: 'Authorization' },
      secureJsonData: { httpHeaderValue1: 'Token $COLDCHAIN_INFLUX_TOKEN' },
    });
    expect(file.datasources[1]).toMatchObject({ uid: 'coldchain-prometheus', url: 'http://prom:9090' });
  });

  it('coldchain dashboards export writes provisioning Grafana can read and the dashboards it points at', async () => {
    const cliOut = path.join(outDir, 'cli');
    const cli = await run(process.execPath, [
      path.resolve('dist/cli/main.js'),
      'dashboards',
      'export',
      '--out',
      cliOut,
      '--influx-url',
      'http://influxdb:8086',
      '--config',
      configFile,
    ]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(
      cli.stdout
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('wrote ')),
    ).toHaveLength(6);
    const datasources = parse(readFileSync(path.join(cliOut, 'provisioning/datasources/coldchain.yaml'), 'utf8')) as typeof provisioned;
    expect(datasources.apiVersion).toBe(1);
    expect(datasources.datasources.map((d) => [d.uid, d.type])).toEqual([
      ['coldchain-influxdb', 'influxdb'],
      ['coldchain-prometheus', 'prometheus'],
    ]);
    expect(datasources.datasources[0]).toMatchObject({ url: 'http://influxdb:8086', jsonData: { dbName: 'coldchain' } });
    const providers = parse(readFileSync(path.join(cliOut, 'provisioning/dashboards/coldchain.yaml'), 'utf8')) as {
      apiVersion: number;
      providers: Array<{ type: string; options: { path: string } }>;
    };
    expect(providers.apiVersion).toBe(1);
    expect(providers.providers[0]).toMatchObject({ type: 'file', options: { path: '/var/lib/grafana/dashboards/coldchain' } });
    for (const [file, dashboard] of Object.entries(buildDashboards(loadConfig(configFile).config))) {
      const written = JSON.parse(readFileSync(path.join(cliOut, 'dashboards', file), 'utf8')) as { uid: string };
      expect(written).toEqual(JSON.parse(JSON.stringify(dashboard)));
    }
  });
});
