import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { MqttClient } from 'mqtt';
import { editConfig } from '../core/config/edit.js';
import { connectDevice, makeWorkspace, waitFor, withUsers, type Workspace } from './helpers/workspace.js';
import { ARTIFACTS, launchChromium, rawCodes, type ServiceProcess, signIn, startServiceProcess } from './helpers/browser.js';

const LANGS = ['en', 'zh-CN'] as const;

/**
 * The alarm list on incidents, in a real browser against the real service: two sensors of one
 * cold room going out of range are one alarm, in words, in English and Chinese; acknowledging and
 * shelving are signed; the alarm performance view reads as tables.
 */
describe('board alarms in headless Chromium', () => {
  let ws: Workspace;
  let svc: ServiceProcess | undefined;
  let base: string;
  let browser: Browser;
  const pages = new Map<string, Page>();
  const probes: MqttClient[] = [];
  const viewer = () => ({ Authorization: `Bearer ${ws.apiTokens.viewer}` });

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const users = await withUsers('olga');
    ws = makeWorkspace({
      devices: ['door-probe', 'wall-probe'],
      yamlPatch: (yaml) =>
        users(
          yaml.replace(
            '    temperature: { min: 2, max: 8 }\n    humidity: { min: 35, max: 75 }',
            '    temperature: { min: 2, max: 8 }\n    humidity: { min: 35, max: 75 }\n    alerts: { activationDelay: 0s }',
          ),
        ),
    });
    editConfig(ws.configFile, (doc) => {
      doc.setIn(['devices', 0, 'name'], 'Door-side probe');
      doc.setIn(['devices', 1, 'name'], 'Back-wall probe');
    });
    svc = await startServiceProcess(ws);
    base = svc.base;
    const mqttPort = svc.mqttPort;
    // Both sensors of cold room 1 go out of range: one event at one place.
    for (const [id, values] of [
      ['door-probe', [5.1, 12.3]],
      ['wall-probe', [5.0, 11.6]],
    ] as const) {
      const probe = await connectDevice(mqttPort, id, ws.deviceTokens[id]!);
      probes.push(probe);
      for (const [i, temperature] of values.entries())
        await probe.publishAsync(`cc/v1/${id}/telemetry`, JSON.stringify({ ts: Date.now() - (values.length - i) * 1000, temperature, humidity: 50 }), {
          qos: 1,
        });
    }
    await waitFor(
      async () =>
        ((await (await fetch(`${base}/api/v1/incidents?state=active`, { headers: viewer() })).json()) as { incidents?: Array<{ deviceIds: string[] }> })
          .incidents ?? [],
      (list) => list.some((i) => i.deviceIds.length === 2),
      20_000,
      'one incident seen by both sensors',
    );
    browser = await launchChromium();
    for (const lang of LANGS) {
      const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
      await page.addInitScript((l) => localStorage.setItem('coldchain.lang', l), lang);
      await signIn(page, base, 'olga');
      await page.waitForSelector('[data-device=door-probe]');
      pages.set(lang, page);
    }
  }, 90_000);

  afterAll(async () => {
    await Promise.all(probes.map((p) => p.endAsync()));
    await browser?.close();
    await svc?.stop();
  });

  for (const lang of LANGS) {
    it(`${lang}: two sensors of one room are one alarm, in words, with both sensors in its detail`, async () => {
      const page = pages.get(lang)!;
      await page.waitForSelector('[data-banner]');
      await page.click('[data-view=alerts]');
      const rows = page.locator('tr[data-incident]', { hasText: 'Cold room 1' });
      await rows.first().waitFor();
      await expect(rows.count()).resolves.toBe(1);
      await expect(page.locator('tr[data-incident]').count()).resolves.toBe(1);
      const title = await rows.locator('td.title').textContent();
      expect(title).toContain('Cold room 1');
      expect(title).not.toMatch(/dc-sh|door-probe|wall-probe/);
      await expect(page.locator('[data-banner]').textContent()).resolves.toContain('Cold room 1');
      await rows.click();
      await page.waitForSelector('.incident tr[data-member]');
      const members = await page
        .locator('.incident tr[data-member]')
        .evaluateAll((trs) => [...new Set(trs.map((tr) => tr.getAttribute('data-device')))].sort());
      expect(members).toEqual(['door-probe', 'wall-probe']);
      const detail = await page.locator('.incident').textContent();
      expect(detail).toContain('Door-side probe');
      expect(detail).toContain('Back-wall probe');
      await page.waitForSelector('.incident .trend canvas');
      await page.locator('.incident tr[data-member] button[data-action=member-history]').first().click();
      await page.waitForSelector('.incident tr.member-history li');
      expect(await rawCodes(page)).toEqual([]);
      await page.screenshot({ path: path.join(ARTIFACTS, `board-incident-${lang}.png`), fullPage: true });
    });
  }

  it('en: acknowledging through the dialog takes the alarm out of the banner', async () => {
    const page = pages.get('en')!;
    const row = page.locator('tr[data-incident]').first();
    await row.locator('button[data-action=ack]').click();
    await expect(page.locator('.dialog h3').textContent()).resolves.toContain('Cold room 1');
    await page.fill('.dialog input[name=password]', 'wrong');
    await page.fill('.dialog textarea[name=comment]', 'door was left open; closed it, both probes falling');
    await page.click('.dialog button[type=submit]');
    await expect(page.locator('.dialog .error').textContent()).resolves.toContain('Wrong user name or password');
    await page.fill('.dialog input[name=password]', 'olga-password-1');
    await page.click('.dialog button[type=submit]');
    await page.waitForSelector('.dialog', { state: 'detached' });
    await page.waitForSelector('tr[data-incident][data-state=acknowledged]');
    await expect(row.textContent()).resolves.toContain('Olga Operator: door was left open');
    await page.waitForSelector('[data-banner]', { state: 'detached' });
    const { incidents } = (await (await fetch(`${base}/api/v1/incidents`, { headers: viewer() })).json()) as {
      incidents: Array<{ acknowledged: { printedName: string } | null }>;
    };
    expect(incidents[0]?.acknowledged?.printedName).toBe('Olga Operator');
  });

  it('zh-CN: shelving through the dialog shows the alarm as shelved until its end', async () => {
    const page = pages.get('zh-CN')!;
    await page.reload();
    await page.click('[data-view=alerts]');
    const row = page.locator('tr[data-incident]').first();
    await row.click();
    await page.locator('.incident button[data-action=shelve]').click();
    await page.selectOption('.dialog select[name=duration]', '2h');
    await page.fill('.dialog input[name=password]', 'olga-password-1');
    await page.fill('.dialog textarea[name=comment]', '除霜，已知原因，正在处理');
    await page.screenshot({ path: path.join(ARTIFACTS, 'board-shelve-zh-CN.png') });
    await page.click('.dialog button[type=submit]');
    await page.waitForSelector('.dialog', { state: 'detached' });
    await page.waitForSelector('tr[data-incident][data-shelved=yes]');
    await expect(row.textContent()).resolves.toContain('搁置至');
    // The detail pane refreshes from the incident event a moment after the row does.
    await expect.poll(() => page.locator('.incident').textContent(), { timeout: 10_000 }).toContain('除霜，已知原因，正在处理');
    expect(await page.locator('[data-banner]').count()).toBe(0);
    expect(await rawCodes(page)).toEqual([]);
    await page.screenshot({ path: path.join(ARTIFACTS, 'board-shelved-zh-CN.png'), fullPage: true });
    // The English board says the same, in English.
    const en = pages.get('en')!;
    await en.reload();
    await en.click('[data-view=alerts]');
    await en.waitForSelector('tr[data-incident][data-shelved=yes]');
    await expect(en.locator('tr[data-incident]').first().textContent()).resolves.toMatch(/shelved until/i);
    expect(await rawCodes(en)).toEqual([]);
  });

  it('en: unshelving is signed too, and the alarm is no longer shelved', async () => {
    const page = pages.get('en')!;
    const row = page.locator('tr[data-incident]').first();
    await row.locator('button[data-action=unshelve]').click();
    await page.fill('.dialog input[name=password]', 'olga-password-1');
    await page.fill('.dialog textarea[name=comment]', 'defrost over');
    await page.click('.dialog button[type=submit]');
    await page.waitForSelector('.dialog', { state: 'detached' });
    await page.waitForSelector('tr[data-incident][data-shelved=no]');
    await expect(row.textContent()).resolves.not.toMatch(/shelved until/i);
    const { incidents } = (await (await fetch(`${base}/api/v1/incidents`, { headers: viewer() })).json()) as { incidents: Array<{ shelved: unknown }> };
    expect(incidents[0]?.shelved).toBeNull();
  });

  for (const lang of LANGS) {
    it(`${lang}: the alarm performance view reads as tables`, async () => {
      const page = pages.get(lang)!;
      await page.click('[data-view=performance]');
      await page.waitForSelector('table[data-table=rates] tr[data-rate=total]');
      await page.waitForSelector('table[data-table=ack]');
      const rates = await page.locator('table[data-table=rates]').textContent();
      expect(rates).toContain('Shanghai distribution centre');
      expect(rates).toContain(lang === 'en' ? 'Acceptable' : '可接受');
      await expect(page.locator('section.performance').textContent()).resolves.toContain('ISA-18.2');
      expect(await rawCodes(page)).toEqual([]);
      await page.screenshot({ path: path.join(ARTIFACTS, `board-performance-${lang}.png`), fullPage: true });
    });
  }

  it('zh-CN: the alarm and its detail are usable on a phone', async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
    await phone.addInitScript(() => localStorage.setItem('coldchain.lang', 'zh-CN'));
    await signIn(phone, `${base}/#/alerts`, 'olga');
    await phone.click('tr[data-incident]');
    await phone.waitForSelector('.incident .trend canvas');
    expect(await phone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(0);
    await phone.screenshot({ path: path.join(ARTIFACTS, 'board-incident-phone-zh-CN.png'), fullPage: true });
    await phone.close();
  });
});
