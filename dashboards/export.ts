import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import type { Config } from '../core/config/schema.js';
import { INFLUX_DATASOURCE, PROMETHEUS_DATASOURCE } from './influxql.js';
import { liveDashboard } from './live.js';
import { excursionsDashboard } from './excursions.js';
import { fleetDashboard } from './fleet.js';
import { qualityDashboard } from './quality.js';

/** Panel ids in layout order: stable across exports, so links to a panel keep working. */
function numbered<T extends { panels?: Array<{ id?: number }> }>(dashboard: T): T {
  dashboard.panels?.forEach((panel, i) => (panel.id = i + 1));
  return dashboard;
}

/** Every dashboard as Grafana JSON, keyed by file name. */
export function buildDashboards(config: Config): Record<string, Dashboard> {
  return {
    'coldchain-live.json': numbered(liveDashboard(config).build()),
    'coldchain-excursions.json': numbered(excursionsDashboard().build()),
    'coldchain-fleet.json': numbered(fleetDashboard(config).build()),
    'coldchain-quality.json': numbered(qualityDashboard(config).build()),
  };
}

export interface ExportOptions {
  outDir: string;
  /** InfluxDB as Grafana reaches it (the service's own influxd picks a port at start: pass it). */
  influxUrl?: string;
  prometheusUrl?: string;
  /** Where Grafana will find the dashboard JSON files (the path inside Grafana's container or host). */
  dashboardsPath?: string;
}

/** Grafana provisioning: the two datasources with fixed uids, a dashboards provider, the dashboards. */
export function exportDashboards(config: Config, options: ExportOptions): string[] {
  const influx = config.influx;
  // Secrets stay out of the file: Grafana expands $VARIABLES in provisioning from its own environment.
  // influx.token holds $COLDCHAIN_INFLUX_TOKEN too when the file has none (core/env.ts, at the CLI).
  const auth = influx.token
    ? { jsonData: { httpHeaderName1: 'Authorization' }, secureJsonData: { httpHeaderValue1: 'Token $COLDCHAIN_INFLUX_TOKEN' } }
    : influx.username
      ? { user: influx.username, secureJsonData: { password: '$COLDCHAIN_INFLUX_PASSWORD' } }
      : {};
  const datasources = {
    apiVersion: 1,
    datasources: [
      {
        name: 'coldchain InfluxDB',
        uid: INFLUX_DATASOURCE.uid,
        type: 'influxdb',
        access: 'proxy',
        url: options.influxUrl ?? influx.url ?? 'http://127.0.0.1:8086',
        ...(auth.user ? { user: auth.user } : {}),
        // Devices report every 1–5 min: a finer $__interval only makes empty buckets.
        jsonData: { dbName: influx.database, httpMode: 'GET', version: 'InfluxQL', timeInterval: '1m', ...auth.jsonData },
        ...(auth.secureJsonData ? { secureJsonData: auth.secureJsonData } : {}),
        isDefault: true,
        editable: false,
      },
      {
        name: 'coldchain Prometheus',
        uid: PROMETHEUS_DATASOURCE.uid,
        type: 'prometheus',
        access: 'proxy',
        url: options.prometheusUrl ?? 'http://127.0.0.1:9090',
        editable: false,
      },
    ],
  };
  const providers = {
    apiVersion: 1,
    providers: [
      {
        name: 'coldchain',
        folder: 'Cold chain',
        type: 'file',
        disableDeletion: false,
        allowUiUpdates: false,
        options: { path: options.dashboardsPath ?? '/var/lib/grafana/dashboards/coldchain' },
      },
    ],
  };
  const written: string[] = [];
  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
    written.push(file);
  };
  write(path.join(options.outDir, 'provisioning', 'datasources', 'coldchain.yaml'), stringify(datasources));
  write(path.join(options.outDir, 'provisioning', 'dashboards', 'coldchain.yaml'), stringify(providers));
  for (const [name, dashboard] of Object.entries(buildDashboards(config)))
    write(path.join(options.outDir, 'dashboards', name), `${JSON.stringify(dashboard, null, 2)}\n`);
  return written;
}
