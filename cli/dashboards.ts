import path from 'node:path';
import { loadConfig } from '../core/config/load.js';
import { exportDashboards } from '../dashboards/export.js';

export function dashboardsExportCommand(flags: { config?: string; out: string; influxUrl?: string; prometheusUrl?: string; dashboardsPath?: string }): void {
  const { config } = loadConfig(flags.config);
  const written = exportDashboards(config, { outDir: path.resolve(flags.out), influxUrl: flags.influxUrl, prometheusUrl: flags.prometheusUrl, dashboardsPath: flags.dashboardsPath });
  process.stdout.write(`${written.map((f) => `wrote ${f}`).join('\n')}\n`);
}
