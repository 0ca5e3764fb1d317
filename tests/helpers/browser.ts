import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { inject } from 'vitest';
import { launchChromium as launchBenchChromium } from '../../bench/chromium.js';
import { freePort } from '../../storage/influxd.js';
import { waitFor, type Workspace } from './workspace.js';

export const CLI = path.resolve('dist/cli/main.js');
/** Screenshots a person can look at after a run. */
export const ARTIFACTS = path.resolve('test-artifacts');
/** Debian's Chromium as bench/chromium.ts runs it, allowed to play the board's alarm sound without a click. */
export const launchChromium = (): Promise<Browser> => launchBenchChromium(['--autoplay-policy=no-user-gesture-required']);

/** Opens the board at `url` and signs in as `user`, with `password` (by default the test user's, `<user>-password-1`). */
export async function signIn(page: Page, url: string, user: string, password = `${user}-password-1`): Promise<void> {
  await page.goto(url);
  await page.fill('input[name=user]', user);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
}

/** Codes a person should never read: snake_case identifiers and bare severity codes. */
export async function rawCodes(page: Page): Promise<string[]> {
  // biome-ignore lint/performance/useDomNodeTextContent: innerText is what a person sees; textContent includes hidden text
  const text = await page.evaluate(() => document.body.innerText);
  return [...new Set([...text.matchAll(/\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b|\b(?:info|warning|minor|major|critical)\b/g)].map((m) => m[0]))];
}

/** The built service as a separate process (as a newcomer runs it), on free ports, serving the built board. */
export interface ServiceProcess {
  child: ChildProcess;
  base: string;
  mqttPort: number;
  httpPort: number;
  /** What it has logged so far (stderr). */
  log(): string;
  /** SIGTERM, and wait for it to exit. */
  stop(): Promise<void>;
}

export async function startServiceProcess(ws: Workspace, options: { demo?: boolean } = {}): Promise<ServiceProcess> {
  const mqttPort = await freePort();
  const httpPort = await freePort();
  const base = `http://127.0.0.1:${httpPort}`;
  const args = [
    CLI,
    'start',
    ...(options.demo ? ['--demo'] : []),
    '--config',
    ws.configFile,
    '--mqtt-port',
    String(mqttPort),
    '--http-port',
    String(httpPort),
    '--influx-url',
    inject('influxUrl'),
    '--influx-db',
    ws.database,
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d));
  const ready = options.demo
    ? async () => log.includes('demo simulator started')
    : async () => (await fetch(`${base}/healthz`).catch(() => undefined))?.status === 200;
  await waitFor(ready, Boolean, 30_000, `the service${options.demo ? ' with its demo simulator' : ''} (${log.slice(-300)})`);
  return {
    child,
    base,
    mqttPort,
    httpPort,
    log: () => log,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
