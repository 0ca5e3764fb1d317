import { spawn, execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  writeFileSync,
  readFileSync,
  existsSync,
  openSync,
  closeSync,
  unlinkSync,
  accessSync,
  constants,
  chmodSync,
  rmSync,
} from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { replaceFileDurably } from '../core/durable.js';
import type { Logger } from '../core/logger.js';
import { InfluxClient, InfluxError } from './influx.js';

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
  /**
   * The service's own influxd (issue 12, item 15): HTTP authentication on, with an admin user
   * created on first start whose random password lives only in `<dataDir>/admin-credentials.json`
   * (0600); the RPC (backup/restore) service and influxd's own HTTP port kept in a network
   * namespace of their own, so nothing on the host can reach them, and HTTP reached through a
   * 0600 unix socket that this process forwards from a loopback port. Without it (tests and the
   * benchmark, which share one influxd between many workspaces): a plain influxd on loopback.
   */
  secure?: boolean;
}

export interface InfluxCredentials {
  username: string;
  password: string;
}

const ADMIN_USER = 'coldchain';
/** Linux's sun_path is 108 bytes with its terminating NUL. */
const MAX_SOCKET_PATH = 100;

/** How influxd can be kept off the host's network: `unshare --net`, as root or in a user namespace of its own. */
function isolationCommand(): string[] | undefined {
  const unshare = findExecutable('unshare');
  if (!unshare) return undefined;
  const args = process.getuid?.() === 0 ? ['--net'] : ['--net', '--map-root-user'];
  const probe = spawnSync(unshare, [...args, 'true'], { stdio: 'ignore', timeout: 5000 });
  return probe.status === 0 ? [unshare, ...args, '--'] : undefined;
}

/** Reads the admin credentials, or creates them (random, 0600, fsynced, in place atomically) on first use. */
export function adminCredentials(file: string): InfluxCredentials {
  if (existsSync(file)) {
    chmodSync(file, 0o600);
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<InfluxCredentials>;
    if (typeof parsed.username !== 'string' || typeof parsed.password !== 'string' || !/^[A-Za-z0-9_-]{20,}$/.test(parsed.password)) {
      throw new Error(
        `${file} is not a managed influxd credentials file ({"username", "password"}); move it away only if this data directory's influxd has no users yet`,
      );
    }
    return { username: parsed.username, password: parsed.password };
  }
  const credentials = { username: ADMIN_USER, password: randomBytes(32).toString('base64url') };
  replaceFileDurably(file, `${JSON.stringify(credentials)}\n`);
  return credentials;
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
  /** The admin user the service signs in as (secure mode), known once `start` has resolved. */
  credentials: InfluxCredentials | undefined;
  /** Secure mode: `unshare` command prefix (undefined: not available, influxd listens on loopback). */
  private isolation: string[] | undefined;
  private isolationChecked = false;
  private socketPath: string | undefined;
  private forwarder: Server | undefined;
  private readonly forwarded = new Set<Socket>();

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

  /** Where the admin password lives: only here, never on a command line or in a log. */
  get credentialsFile(): string {
    return path.resolve(this.options.dataDir, 'admin-credentials.json');
  }

  /** True when influxd runs in its own network namespace (secure mode where `unshare` works). */
  get isolated(): boolean {
    return this.isolation !== undefined;
  }

  private writeConfig(rpcPort: number, httpPort: number): string {
    const dir = path.resolve(this.options.dataDir);
    const file = this.configFile;
    const secure = this.options.secure === true;
    // In its own network namespace (whose loopback is down) influxd's TCP ports bind the wildcard
    // address, reachable from nowhere; HTTP is reached through the unix socket.
    const host = this.isolation ? '' : '127.0.0.1';
    writeFileSync(
      file,
      [
        '# Written by coldchain on every start; edit coldchain.yaml instead.',
        'reporting-disabled = true',
        // The RPC (backup/restore) service has no authentication and cannot be turned off in 1.x.
        `bind-address = "${host}:${rpcPort}"`,
        '[meta]',
        `  dir = "${path.join(dir, 'meta')}"`,
        '[data]',
        `  dir = "${path.join(dir, 'data')}"`,
        `  wal-dir = "${path.join(dir, 'wal')}"`,
        '  query-log-enabled = false',
        '[monitor]',
        '  store-enabled = false',
        '[http]',
        `  bind-address = "${host}:${httpPort}"`,
        ...(secure ? ['  auth-enabled = true'] : []),
        ...(this.socketPath ? ['  unix-socket-enabled = true', `  bind-socket = "${this.socketPath}"`, '  unix-socket-permissions = "0600"'] : []),
        '  log-enabled = false',
        '  pprof-enabled = false',
        // Reports read a whole shipment (hundreds of thousands of points) in one query.
        '  max-row-limit = 0',
        '[logging]',
        '  level = "warn"',
        '  suppress-logo = true',
        '[continuous_queries]',
        '  enabled = false',
        '[subscriber]',
        '  enabled = false',
        '[ifql]',
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
      if (this.isOurInfluxd(pid))
        throw new Error(`influxd left over from a previous run (pid ${pid}) did not die within 5 s of SIGKILL; it still holds ${this.options.dataDir}`);
    }
    unlinkSync(this.pidFile);
  }

  async start(): Promise<void> {
    const influxd = findExecutable('influxd');
    if (!influxd) {
      throw new Error(
        'influxd not found on PATH: install Debian\'s "influxdb" package (apt-get install influxdb), or set influx.url / --influx-url to use an existing InfluxDB',
      );
    }
    mkdirSync(this.options.dataDir, { recursive: true, mode: 0o700 });
    const secure = this.options.secure === true;
    if (secure) chmodSync(this.options.dataDir, 0o700);
    await this.reapOrphan();
    if (secure && !this.isolationChecked) {
      this.isolationChecked = true;
      this.isolation = isolationCommand();
      if (this.isolation) {
        const beside = path.resolve(this.options.dataDir, 'influxd.sock');
        this.socketPath = beside.length <= MAX_SOCKET_PATH ? beside : path.join(mkdtempSync(path.join(tmpdir(), 'cc-influxd-')), 'influxd.sock');
      } else {
        this.options.log.warn(
          'cannot run the managed influxd in a network namespace of its own (unshare --net refused); its RPC backup port listens on loopback, without authentication, where any local process can reach it',
        );
      }
    }
    if (!this.port) this.port = await freePort();
    const rpcPort = await freePort();
    const httpPort = this.isolation ? await freePort() : this.port;
    if (this.socketPath) {
      rmSync(this.socketPath, { force: true });
      await this.startForwarder();
    }
    const configFile = this.writeConfig(rpcPort, httpPort);
    const logFd = openSync(path.join(this.options.dataDir, 'influxd.log'), 'a', 0o600);
    const setpriv = findExecutable('setpriv');
    const run = setpriv ? [setpriv, '--pdeathsig', 'KILL', '--', influxd, '-config', configFile] : [influxd, '-config', configFile];
    const [command, ...args] = [...(this.isolation ?? []), ...run] as [string, ...string[]];
    this.stopping = false;
    const child = spawn(command, args, { stdio: ['ignore', logFd, logFd] });
    closeSync(logFd);
    this.child = child;
    writeFileSync(this.pidFile, String(child.pid));
    child.on('exit', (code, signal) => this.onExit(child, code, signal));
    await this.waitReady(child);
    if (secure) await this.ensureAdmin();
    this.options.log.info({ url: this.url, pid: child.pid, dataDir: this.options.dataDir, auth: secure, isolated: this.isolated }, 'managed influxd ready');
  }

  /** Loopback port → influxd's unix socket (secure mode with isolation); survives influxd restarts. */
  private async startForwarder(): Promise<void> {
    if (this.forwarder) return;
    const socketPath = this.socketPath!;
    const server = createServer({ noDelay: true }, (client) => {
      const upstream = connect(socketPath);
      this.forwarded.add(client);
      this.forwarded.add(upstream);
      const close = () => {
        client.destroy();
        upstream.destroy();
        this.forwarded.delete(client);
        this.forwarded.delete(upstream);
      };
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.forwarder = server;
  }

  /**
   * Signs in as the admin, creating it on first start. influxd 1.x with auth on and no admin user
   * yet accepts exactly one thing without credentials: creating an admin. A data directory from
   * before authentication has no users, so it gets its admin here too and keeps its data.
   */
  private async ensureAdmin(): Promise<void> {
    const credentials = adminCredentials(this.credentialsFile);
    const signedIn = new InfluxClient({ url: this.url, database: '_internal', ...credentials });
    const verify = async () => {
      await signedIn.query('SHOW USERS', { database: null });
    };
    try {
      await verify();
    } catch (err) {
      if (!(err instanceof InfluxError) || err.kind !== 'auth') throw err;
      const anonymous = new InfluxClient({ url: this.url, database: '_internal' });
      try {
        // The password is random base64url: nothing in it needs quoting.
        await anonymous.query(`CREATE USER "${credentials.username}" WITH PASSWORD '${credentials.password}' WITH ALL PRIVILEGES`, {
          database: null,
          method: 'POST',
        });
      } catch (createErr) {
        if (!(createErr instanceof InfluxError) || createErr.kind !== 'auth') throw createErr;
        throw new Error(
          `the managed influxd in ${this.options.dataDir} already has an admin user, and the password in ${this.credentialsFile} is not its password (or the file was replaced); restore the file from a backup of this data directory`,
        );
      }
      await verify();
      this.options.log.warn(
        { user: credentials.username, credentialsFile: this.credentialsFile },
        'managed influxd: authentication on; admin user created (password only in the credentials file)',
      );
    }
    this.credentials = credentials;
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
    await this.stopChild(timeoutMs);
    const forwarder = this.forwarder;
    this.forwarder = undefined;
    for (const socket of this.forwarded) socket.destroy();
    this.forwarded.clear();
    if (forwarder) await new Promise<void>((resolve) => forwarder.close(() => resolve()));
  }

  private async stopChild(timeoutMs: number): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // setpriv and unshare exec influxd, so the pid is influxd's own.
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
