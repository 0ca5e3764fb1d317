import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManagedInfluxd } from '../storage/influxd.js';
import { testLog, waitFor } from './helpers/workspace.js';

/** A process whose command line reads `<name> …args` (argv[0] set by bash's exec -a). */
function impostor(name: string, args: string): ChildProcess {
  return spawn('bash', ['-c', `exec -a ${name} ${process.execPath} -e "setTimeout(() => {}, 60000)" -- ${args}`], { stdio: 'ignore' });
}
const alive = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;
const commandLine = async (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
};
/** Still running (a zombie has an empty command line: it is dead, only not yet waited for). */
function running(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8') !== '';
  } catch {
    return false;
  }
}

describe('managed influxd: reaping a left-over from a previous run', () => {
  const children: ChildProcess[] = [];
  afterAll(() => children.forEach((c) => c.kill('SIGKILL')));

  it('kills only the influxd started on this data directory, never another process with the recorded pid', async () => {
    const cases = [
      { label: 'another InfluxDB', name: 'influxd', argsOf: () => '-config /etc/influxdb/influxdb.conf', reaped: false },
      { label: 'another program naming our config', name: 'less', argsOf: (dir: string) => `-config ${path.join(dir, 'influxd.conf')}`, reaped: false },
      { label: 'ours, left over', name: 'influxd', argsOf: (dir: string) => `-config ${path.join(dir, 'influxd.conf')}`, reaped: true },
    ];
    for (const { label, name, argsOf, reaped } of cases) {
      const dir = mkdtempSync(path.join(tmpdir(), 'cc-reap-'));
      mkdirSync(dir, { recursive: true });
      const child = impostor(name, argsOf(dir));
      children.push(child);
      // The impostor has exec'd its program: its command line (what the reaper reads) starts with its name.
      await waitFor(
        async () => commandLine(child.pid!),
        (argv) => argv.startsWith(`${name}\0`),
        5000,
        `${label} running as ${name}`,
      );
      writeFileSync(path.join(dir, 'influxd.pid'), String(child.pid));
      const influxd = new ManagedInfluxd({ dataDir: dir, log: testLog });
      await influxd.start();
      // A left-over is gone before the new influxd opens the data directory, not some time after.
      const runningAtStart = running(child.pid!);
      await influxd.stop();
      if (reaped)
        await waitFor(
          async () => alive(child),
          (a) => !a,
          5000,
          `${label} gone`,
        );
      expect(alive(child), label).toBe(!reaped);
      expect(runningAtStart, label).toBe(!reaped);
    }
  });
});
