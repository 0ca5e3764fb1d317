import { readdirSync, statSync, readFileSync } from 'node:fs';
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
export async function boardBenchmark(baseUrl: string, credentials: { user: string; password: string }, runs = 5): Promise<BoardFigures> {
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
    for (let i = 0; i < 3; i++) {
      const page = await browser.newPage();
      await page.goto(baseUrl);
      await page.fill('input[name=user]', credentials.user);
      await page.fill('input[name=password]', credentials.password);
      const started = performance.now();
      await page.click('button[type=submit]');
      await page.waitForSelector('.tile .value');
      signIn.push(performance.now() - started);
      await page.close();
    }
    return {
      initialBytes: initial.reduce((s, a) => s + a.bytes, 0),
      initialGzipBytes: initial.reduce((s, a) => s + a.gzip, 0),
      totalBytes: assets.reduce((s, a) => s + a.bytes, 0),
      firstPaintMs: median(board),
      anchorFirstPaintMs: median(plain),
      signInToTilesMs: median(signIn),
    };
  } finally {
    await browser.close();
    anchor.close();
  }
}
