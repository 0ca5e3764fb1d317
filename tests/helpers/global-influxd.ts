import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { createLogger } from '../../core/logger.js';
import { ManagedInfluxd } from '../../storage/influxd.js';

declare module 'vitest' {
  export interface ProvidedContext {
    influxUrl: string;
  }
}

/** One real influxd for the whole run, on a free loopback port, its data in a temp dir. */
export default async function setup(project: TestProject) {
  const dir = mkdtempSync(path.join(tmpdir(), 'cc-test-influxd-'));
  const influxd = new ManagedInfluxd({ dataDir: dir, log: createLogger('warn', 'test-influxd') });
  await influxd.start();
  project.provide('influxUrl', influxd.url);
  return async () => {
    await influxd.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
