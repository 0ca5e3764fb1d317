import path from 'node:path';
import { loadConfig } from '../core/config/load.js';
import { withEnvironment } from '../core/env.js';
import { exportDashboards } from '../dashboards/export.js';
import { environment } from './environment.js';

export function dashboardsExportCommand(flags: { config?: string; out: string; influxUrl?: string; prometheusUrl?: string; dashboardsPath?: string }): void {
  const { config } = withEnvironment(loadConfig(flags.config), environment());
  const written = exportDashboards(config, {
    outDir: path.resolve(flags.out),
    influxUrl: flags.influxUrl,
    prometheusUrl: flags.prometheusUrl,
    dashboardsPath: flags.dashboardsPath,
  });
  process.stdout.write(`${written.map((f) => `wrote ${f}`).join('\n')}\n`);
}
