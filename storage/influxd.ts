import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync, readFileSync, existsSync, openSync, closeSync, unlinkSync, accessSync, constants } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import type { Logger } from '../core/logger.js';

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export function findExecutable(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':').concat(['/usr/sbin', '/sbin'])) {
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A process's arguments; empty when it is gone or a zombie (whose cmdline is empty). */
function argvOf(pid: number): string[] {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return raw === '' ? [] : raw.replace(/\0$/, '').split('\0');
  } catch {
    return [];
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface InfluxdOptions {
  dataDir: string;
  port?: number;
  log: Logger;
  /** Restart influxd when it exits on its own. */
  supervise?: boolean;
}

/**
 * Runs Debian's influxd 1.x as a child on a loopback port with its data under `dataDir`.
 * The child gets PR_SET_PDEATHSIG (via setpriv) so it dies with us even on SIGKILL, and a pid
 * file lets the next start reap one that survived anyway, since two influxd on one data
 * directory would fight over its lock.
 */
export class ManagedInfluxd {
  private child: ChildProcess | undefined;
  private stopping = false;
  private restarts = 0;
  port = 0;

  constructor(private readonly options: InfluxdOptions) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null;
  }

  private get pidFile(): string {
    return path.join(this.options.dataDir, 'influxd.pid');
  }

  /** Absolute, so that a left-over is recognised by it whatever directory either run started in. */
  private get configFile(): string {
    return path.resolve(this.options.dataDir, 'influxd.conf');
  }

  /** Our influxd on this data directory: argv is exactly `influxd … -config <our config> …`. */
  private isOurInfluxd(pid: number): boolean {
    const argv = argvOf(pid);
    const config = argv.indexOf('-config');
    return argv.length > 0 && path.basename(argv[0]!) === 'influxd' && config > 0 && argv[config + 1] === this.configFile;
  }

  private writeConfig(rpcPort: number): string {
    const dir = path.resolve(this.options.dataDir);
    const file = this.configFile;
    writeFileSync(
      file,
      [
        '# Written by coldchain on every start; edit coldchain.yaml instead.',
        'reporting-disabled = true',
        `bind-address = "127.0.0.1:${rpcPort}"`,
        '[meta]',
        `  dir = "${path.join(dir, 'meta')}"`,
        '[data]',
        `  dir = "${path.join(dir, 'data')}"`,
        `  wal-dir = "${path.join(dir, 'wal')}"`,
        '  query-log-enabled = false',
        '[monitor]',
        '  store-enabled = false',
        '[http]',
        `  bind-address = "127.0.0.1:${this.port}"`,
        '  log-enabled = false',
        '  pprof-enabled = false',
        // Reports read a whole shipment (hundreds of thousands of points) in one query.
        '  max-row-limit = 0',
        '[logging]',
        '  level = "warn"',
        '  suppress-logo = true',
        '[continuous_queries]',
        '  enabled = false',
        '',
      ].join('\n'),
    );
    return file;
  }

  private async reapOrphan(): Promise<void> {
    if (!existsSync(this.pidFile)) return;
    const pid = Number(readFileSync(this.pidFile, 'utf8'));
    // Only the influxd we started on this data directory (its own config file on the command
    // line): a recycled pid may belong to anything, even another InfluxDB or a program that
    // merely names our files.
    if (Number.isInteger(pid) && pid > 0 && isAlive(pid) && this.isOurInfluxd(pid)) {
      this.options.log.warn({ pid }, 'stopping an influxd left over from a previous run');
      process.kill(pid, 'SIGKILL');
      // The new influxd must not open the data directory while the old one still holds it.
      for (let i = 0; i < 100 && this.isOurInfluxd(pid); i++) await sleep(50);
      if (this.isOurInfluxd(pid)) throw new Error(`influxd left over from a previous run (pid ${pid}) did not die within 5 s of SIGKILL; it still holds ${this.options.dataDir}`);
    }
    unlinkSync(this.pidFile);
  }

  async start(): Promise<void> {
    const influxd = findExecutable('influxd');
    if (!influxd) {
      throw new Error('influxd not found on PATH: install Debian\'s "influxdb" package (apt-get install influxdb), or set influx.url / --influx-url to use an existing InfluxDB');
    }
    mkdirSync(this.options.dataDir, { recursive: true });
    await this.reapOrphan();
    if (!this.port) this.port = await freePort();
    const rpcPort = await freePort();
    const configFile = this.writeConfig(rpcPort);
    const logFd = openSync(path.join(this.options.dataDir, 'influxd.log'), 'a');
    const setpriv = findExecutable('setpriv');
    const [command, args] = setpriv ? [setpriv, ['--pdeathsig', 'KILL', influxd, '-config', configFile]] : [influxd, ['-config', configFile]];
    this.stopping = false;
    const child = spawn(command, args, { stdio: ['ignore', logFd, logFd] });
    closeSync(logFd);
    this.child = child;
    writeFileSync(this.pidFile, String(child.pid));
    child.on('exit', (code, signal) => this.onExit(child, code, signal));
    await this.waitReady(child);
    this.options.log.info({ url: this.url, pid: child.pid, dataDir: this.options.dataDir }, 'managed influxd ready');
  }

  private async waitReady(child: ChildProcess): Promise<void> {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) {
        const log = path.join(this.options.dataDir, 'influxd.log');
        throw new Error(`influxd exited with code ${child.exitCode} during start; see ${log}:\n${readFileSync(log, 'utf8').split('\n').slice(-8).join('\n')}`);
      }
      try {
        const response = await fetch(`${this.url}/ping`, { signal: AbortSignal.timeout(1000) });
        if (response.status === 204) return;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    throw new Error(`influxd did not answer on ${this.url} within 60 s`);
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    if (existsSync(this.pidFile)) unlinkSync(this.pidFile);
    if (this.stopping || !this.options.supervise) return;
    this.restarts++;
    const delay = Math.min(30_000, 1000 * 2 ** Math.min(this.restarts, 5));
    this.options.log.error({ code, signal, restartInMs: delay }, 'managed influxd exited; restarting');
    setTimeout(() => {
      if (this.stopping) return;
      this.start().catch((err: Error) => this.options.log.error({ err }, 'managed influxd restart failed'));
    }, delay).unref();
  }

  async stop(timeoutMs = 15_000): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // setpriv execs influxd, so the pid is influxd's own.
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }
}

/** Version string of the local influxd, for logs and the benchmark table. */
export function influxdVersion(): string | undefined {
  const influxd = findExecutable('influxd');
  if (!influxd) return undefined;
  try {
    return execFileSync(influxd, ['version'], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}
