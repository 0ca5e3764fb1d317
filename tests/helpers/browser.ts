import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CLI = path.resolve('dist/cli/main.js');
/** Screenshots a person can look at after a run. */
export const ARTIFACTS = path.resolve('test-artifacts');
/** Debian's Chromium; these flags keep it from reaching for the network this machine does not have. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
];

export const launchChromium = (): Promise<Browser> => chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });

/** Codes a person should never read: snake_case identifiers and bare severity codes. */
export async function rawCodes(page: Page): Promise<string[]> {
  // biome-ignore lint/performance/useDomNodeTextContent: innerText is what a person sees; textContent includes hidden text
  const text = await page.evaluate(() => document.body.innerText);
  return [...new Set([...text.matchAll(/\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b|\b(?:info|warning|minor|major|critical)\b/g)].map((m) => m[0]))];
}
