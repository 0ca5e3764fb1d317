import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManagedInfluxd } from '../storage/influxd.js';
import { testLog } from './helpers/workspace.js';

/** A process whose command line reads `influxd …args` (argv[0] set by bash's exec -a). */
function impostor(args: string): ChildProcess {
  return spawn('bash', ['-c', `exec -a influxd ${process.execPath} -e "setTimeout(() => {}, 60000)" -- ${args}`], { stdio: 'ignore' });
}
const alive = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

describe('managed influxd: reaping a left-over from a previous run', () => {
  const children: ChildProcess[] = [];
  afterAll(() => children.forEach((c) => c.kill('SIGKILL')));

  it('kills only the influxd started on this data directory, never another process with the recorded pid', async () => {
    for (const [label, configOf] of [['another InfluxDB', () => '-config /etc/influxdb/influxdb.conf'], ['ours, left over', (dir: string) => `-config ${path.join(dir, 'influxd.conf')}`]] as const) {
      const dir = mkdtempSync(path.join(tmpdir(), 'cc-reap-'));
      mkdirSync(dir, { recursive: true });
      const child = impostor(configOf(dir));
      children.push(child);
      await new Promise((r) => setTimeout(r, 300));
      writeFileSync(path.join(dir, 'influxd.pid'), String(child.pid));
      const influxd = new ManagedInfluxd({ dataDir: dir, log: testLog });
      await influxd.start();
      await influxd.stop();
      await new Promise((r) => setTimeout(r, 200));
      expect(alive(child), label).toBe(label === 'another InfluxDB');
    }
  });
});
