import { readdirSync, statSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { BOARD_DIR } from '../api/board.js';

export interface BoardFigures {
  /** JavaScript and CSS the sign-in and live view need (the map and chart chunks load later). */
  initialBytes: number;
  initialGzipBytes: number;
  totalBytes: number;
  /** First contentful paint of the board's page, median of a few loads. */
  firstPaintMs: number;
  /** Anchor: first contentful paint of a plain HTML page from the same kind of server, same browser. */
  anchorFirstPaintMs: number;
  /** Sign-in clicked → first sensor tile drawn with its reading. */
  signInToTilesMs: number;
  /** Of which: sign-in clicked → the session's answer received, and → the overview's answer received. */
  signInAnsweredMs: number;
  overviewAnsweredMs: number;
  /** Tiles drawn (every sensor of the overview), and sign-in clicked → the last of them in the page. */
  tiles: number;
  allTilesMs: number;
}

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Bundle size from the build; paint times from headless Chromium against the running service. */
export async function boardBenchmark(baseUrl: string, credentials: { user: string; password: string }, tilesExpected = 1, runs = 5): Promise<BoardFigures> {
  const assets = readdirSync(path.join(BOARD_DIR, 'assets')).map((name) => ({
    name,
    bytes: statSync(path.join(BOARD_DIR, 'assets', name)).size,
    gzip: gzipSync(readFileSync(path.join(BOARD_DIR, 'assets', name))).length,
  }));
  const index = readFileSync(path.join(BOARD_DIR, 'index.html'), 'utf8');
  const initial = assets.filter((a) => index.includes(a.name));
  const anchor = createServer((_req, res) =>
    res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><html><body><h1>anchor</h1></body></html>'),
  );
  const anchorPort = await new Promise<number>((r) => anchor.listen(0, '127.0.0.1', () => r((anchor.address() as { port: number }).port)));
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  try {
    const paint = async (url: string) => {
      const page = await browser.newPage();
      await page.goto(url, { waitUntil: 'load' });
      const fcp = await page.evaluate(
        () =>
          new Promise<number>((resolve) =>
            new PerformanceObserver((list) => {
              const entry = list.getEntriesByName('first-contentful-paint')[0];
              if (entry) resolve(entry.startTime);
            }).observe({ type: 'paint', buffered: true }),
          ),
      );
      await page.close();
      return fcp;
    };
    const board: number[] = [];
    const plain: number[] = [];
    for (let i = 0; i < runs; i++) {
      board.push(await paint(baseUrl));
      plain.push(await paint(`http://127.0.0.1:${anchorPort}/`));
    }
    const signIn: number[] = [];
    const answered: number[] = [];
    const overview: number[] = [];
    const all: number[] = [];
    let tiles = 0;
    for (let i = 0; i < 3; i++) {
      const page = await browser.newPage();
      await page.goto(baseUrl);
      await page.fill('input[name=user]', credentials.user);
      await page.fill('input[name=password]', credentials.password);
      // BENCH_BOARD_PROFILE=<file>: the page's CPU profile of the first sign-in (Chrome DevTools format).
      const cdp = process.env.BENCH_BOARD_PROFILE && i === 0 ? await page.context().newCDPSession(page) : undefined;
      if (cdp) {
        await cdp.send('Profiler.enable');
        await cdp.send('Profiler.start');
      }
      const started = performance.now();
      const session = page.waitForResponse((r) => r.url().endsWith('/api/v1/session') && r.request().method() === 'POST').then(() => performance.now());
      const loaded = page
        .waitForResponse((r) => r.url().includes('/api/v1/overview'))
        .then((r) => r.finished())
        .then(() => performance.now());
      await page.click('button[type=submit]');
      await page.waitForSelector('.tile .value');
      signIn.push(performance.now() - started);
      await page.waitForFunction((n) => document.querySelectorAll('.tile').length >= n, tilesExpected, { timeout: 120_000 });
      all.push(performance.now() - started);
      if (cdp) writeFileSync(process.env.BENCH_BOARD_PROFILE!, JSON.stringify((await cdp.send('Profiler.stop')).profile));
      answered.push((await session) - started);
      overview.push((await loaded) - started);
      tiles = await page.locator('.tile').count();
      await page.close();
    }
    return {
      initialBytes: initial.reduce((s, a) => s + a.bytes, 0),
      initialGzipBytes: initial.reduce((s, a) => s + a.gzip, 0),
      totalBytes: assets.reduce((s, a) => s + a.bytes, 0),
      firstPaintMs: median(board),
      anchorFirstPaintMs: median(plain),
      signInToTilesMs: median(signIn),
      signInAnsweredMs: median(answered),
      overviewAnsweredMs: median(overview),
      tiles,
      allTilesMs: median(all),
    };
  } finally {
    await browser.close();
    anchor.close();
  }
}
