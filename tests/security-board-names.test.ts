import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { editConfig } from '../core/config/edit.js';
import { connectDevice, makeWorkspace, waitFor, withUsers, type Workspace } from './helpers/workspace.js';
import { launchChromium, type ServiceProcess, signIn, startServiceProcess } from './helpers/browser.js';

const NAME = '<img src=x class=injected onerror="document.title=1">Cargo box';

/** Issue 12, item 16: the fleet map rendered device names as HTML (a Leaflet tooltip string is HTML). */
describe('the fleet map shows a device name as text', () => {
  let ws: Workspace;
  let svc: ServiceProcess | undefined;
  let base: string;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    const users = await withUsers('olga');
    ws = makeWorkspace({
      devices: [{ id: 'truck-name', location: 'truck-hu-a12345-box' }],
      yamlPatch: (yaml) => users(yaml),
    });
    editConfig(ws.configFile, (doc) => doc.setIn(['devices', 0, 'name'], NAME));
    // The built board is served by the built service (as in tests/board.test.ts).
    svc = await startServiceProcess(ws);
    base = svc.base;
    const mqttPort = svc.mqttPort;
    const truck = await connectDevice(mqttPort, 'truck-name', ws.deviceTokens['truck-name']!);
    const t0 = Date.now() - 30 * 60_000;
    await truck.publishAsync(
      'cc/v1/truck-name/telemetry',
      JSON.stringify([0, 1, 2, 3].map((i) => ({ ts: t0 + i * 300_000, temperature: 4.8, lat: 31.23 - i * 0.05, lon: 121.47 - i * 0.08 }))),
      { qos: 1 },
    );
    await truck.endAsync();
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await svc?.stop();
  });

  it("a name holding markup is shown as it is written in the marker's tooltip, never as an element", async () => {
    await signIn(page, base, 'olga');
    await page.click('[data-view=fleet]');
    await page.waitForSelector('.leaflet-container');
    // The track's last position: a circle marker (an SVG path drawn with arcs).
    const marker = page.locator('path.leaflet-interactive[d*="a"]');
    await marker.first().waitFor({ timeout: 15_000 });
    // Leaflet opens a tooltip on the layer's mouseover. A real hover can land beside the marker while
    // the map still fits its bounds, so the event goes to the marker itself until the tooltip is there.
    const tooltip = page.locator('.leaflet-tooltip');
    await waitFor(
      async () => {
        await marker.first().dispatchEvent('mouseover');
        return tooltip.count();
      },
      (n) => n > 0,
      10_000,
      'the tooltip',
    );
    await waitFor(
      async () => tooltip.first().textContent(),
      (text) => Boolean(text?.includes('Cargo box')),
      10_000,
      'the tooltip text',
    );
    expect(await tooltip.first().textContent()).toBe(NAME);
    expect(await page.locator('.leaflet-tooltip img, img.injected').count()).toBe(0);
  });
});
