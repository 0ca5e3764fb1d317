import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { editConfig } from '../core/config/edit.js';
import { loadConfig } from '../core/config/load.js';
import { AuditLog, auditFile } from '../audit/audit-log.js';
import { latestAuditAnchor } from '../audit/anchor.js';
import { influxFor, makeWorkspace, run, waitFor, withUsers, type Workspace } from './helpers/workspace.js';
import { ARTIFACTS, CLI, launchChromium, rawCodes, type ServiceProcess, signIn, startServiceProcess } from './helpers/browser.js';

/**
 * Issue 13, item 5: the audit trail reviewed through the API (filters, limits, roles, CSV safe
 * from formula injection) and the board (in words, English and Chinese), and its last hash
 * anchored in InfluxDB so that a cut tail is found by `coldchain audit verify`.
 */
describe('audit trail review and anchor', () => {
  let ws: Workspace;
  let svc: ServiceProcess | undefined;
  let base: string;
  let file: string;
  const admin = () => ({ Authorization: `Bearer ${ws.apiTokens.admin}` });
  const viewer = () => ({ Authorization: `Bearer ${ws.apiTokens.viewer}` });
  const get = async (url: string, headers = admin()) => {
    const response = await fetch(`${base}${url}`, { headers });
    return { status: response.status, body: (await response.json()) as any };
  };
  let seededBefore: number;

  const stopService = async () => {
    await svc?.stop();
  };

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const users = await withUsers('quinn');
    ws = makeWorkspace({
      devices: ['probe-1'],
      yamlPatch: (yaml) => users(yaml),
    });
    // A trail written before the service starts: a signature, an unknown code and text a spreadsheet would run.
    file = auditFile(loadConfig(ws.configFile).dataDir);
    const seed = new AuditLog(file);
    await seed.open();
    await seed.append({
      actor: 'quinn',
      printedName: 'Quinn QA',
      action: 'alert.acknowledge',
      target: 'alert-1',
      details: { meaning: 'acknowledged', kind: 'temperature_high', severity: 'major' },
    });
    await seed.append({ actor: 'system', action: 'custom_thing.done_now', target: '=HYPERLINK("http://evil.example","x")', details: { note: '@SUM(1+1)' } });
    await seed.append({ actor: 'quinn', action: 'incident.shelve', target: '+incident-7', details: { comment: '-2+3', reason: 'door_left_open' } });
    await seed.close();
    await new Promise((r) => setTimeout(r, 5));
    seededBefore = Date.now();
    await new Promise((r) => setTimeout(r, 5));

    svc = await startServiceProcess(ws);

    base = svc.base;
  }, 90_000);

  afterAll(async () => {
    await stopService();
  });

  it('lists the trail newest first with the chain verified; filters by action, actor and time; bounds the limit', async () => {
    const all = await get('/api/v1/audit');
    expect(all.status, svc?.log()).toBe(200);
    expect(all.body.verified).toMatchObject({ ok: true });
    expect(all.body.verified.entries).toBeGreaterThanOrEqual(4);
    const seqs = all.body.entries.map((e: { seq: number }) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
    expect(seqs.at(-1)).toBe(1);
    expect(all.body.matched).toBe(all.body.entries.length);

    const config = await get('/api/v1/audit?action=config');
    expect(config.body.entries.length).toBeGreaterThan(0);
    expect(config.body.entries.every((e: { action: string }) => e.action.startsWith('config.'))).toBe(true);

    const quinn = await get('/api/v1/audit?actor=quinn');
    expect(quinn.body.entries.map((e: { action: string }) => e.action)).toEqual(['incident.shelve', 'alert.acknowledge']);
    const exact = await get('/api/v1/audit?action=alert.acknowledge&target=alert-1');
    expect(exact.body.entries).toHaveLength(1);
    expect(exact.body.entries[0]).toMatchObject({ seq: 1, printedName: 'Quinn QA' });

    const before = await get(`/api/v1/audit?to=${seededBefore}`);
    expect(before.body.entries.map((e: { seq: number }) => e.seq)).toEqual([3, 2, 1]);
    const after = await get(`/api/v1/audit?from=${seededBefore}`);
    expect(after.body.entries.every((e: { seq: number }) => e.seq > 3)).toBe(true);

    const two = await get('/api/v1/audit?limit=2');
    expect(two.body.entries).toHaveLength(2);
    expect(two.body).toMatchObject({ truncated: true, matched: all.body.matched });
    expect(two.body.entries[0].seq).toBe(seqs[0]);

    for (const bad of ['limit=0', 'limit=5001', 'from=yesterday', `from=${Date.now()}&to=${Date.now() - 1000}`]) {
      const refused = await get(`/api/v1/audit?${bad}`);
      expect(refused.status, bad).toBe(400);
    }
    expect((await get('/api/v1/audit?limit=5000')).status).toBe(200);
  });

  it('is for qa and admin only: a viewer gets 403, no token 401', async () => {
    expect((await get('/api/v1/audit', viewer())).status).toBe(403);
    expect((await fetch(`${base}/api/v1/audit.csv`, { headers: viewer() })).status).toBe(403);
    expect((await fetch(`${base}/api/v1/audit`)).status).toBe(401);
  });

  it('downloads CSV with the same filters, every cell safe from formula injection', async () => {
    const response = await fetch(`${base}/api/v1/audit.csv?to=${seededBefore}`, { headers: admin() });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(response.headers.get('content-disposition')).toMatch(/^attachment; filename="audit-trail-/);
    const text = (await response.text()).replace(/^\uFEFF/, '');
    const lines = text.trimEnd().split('\r\n');
    expect(lines[0]).toBe('seq,time,actor,printed name,action,target,details');
    expect(lines).toHaveLength(4);
    expect(lines[1]!.startsWith('3,')).toBe(true);
    // Text that a spreadsheet would run starts with an apostrophe, inside quotes.
    expect(text).toContain(`"'=HYPERLINK(""http://evil.example"",""x"")"`);
    expect(text).toContain(`"'+incident-7"`);
    expect(text).not.toMatch(/(^|,)[=+\-@]/m);
    expect(lines[3]).toContain('alert.acknowledge');
    expect(lines[3]).toContain('Quinn QA');
    expect(lines[3]).toContain('""kind"":""temperature_high""');
    expect(lines[3]).toMatch(/^1,\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z,quinn,/);
    const one = await fetch(`${base}/api/v1/audit.csv?actor=system&action=custom_thing`, { headers: admin() });
    expect((await one.text()).trimEnd().split('\r\n')).toHaveLength(2);
  });

  it('prints the trail as a PDF in English and Chinese: the chain verified, every action in words, the limit named', async () => {
    const pdfText = async (query: string, name: string) => {
      const response = await fetch(`${base}/api/v1/audit.pdf?${query}`, { headers: admin() });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/pdf');
      expect(response.headers.get('content-disposition')).toMatch(/^attachment; filename="audit-trail-\d{8}T\d{6}\.pdf"$/);
      const saved = path.join(ARTIFACTS, name);
      writeFileSync(saved, Buffer.from(await response.arrayBuffer()));
      const { code, stdout, stderr } = await run('pdftotext', ['-layout', saved, '-']);
      expect(code, stderr).toBe(0);
      return stdout;
    };
    const en = await pdfText(`to=${seededBefore}&tz=Asia/Shanghai&lang=en`, 'audit-trail-en.pdf');
    expect(en).toContain('Audit trail');
    expect(en).toMatch(/Hash chain: verified: \d+ entries, none altered, removed or inserted/);
    expect(en).toContain('3 of 3 matching (newest first)');
    expect(en).toContain('Alert acknowledged');
    expect(en).toContain('Alarm shelved');
    expect(en).toContain('Quinn QA (quinn)');
    expect(en).not.toContain('alert.acknowledge');
    const zh = await pdfText(`to=${seededBefore}&lang=zh-CN`, 'audit-trail-zh-CN.pdf');
    expect(zh).toContain('审计追踪');
    expect(zh).toContain('报警已确认');
    expect(zh).toContain('校验通过');
    expect(zh).toMatch(/匹配 3 条，显示最新的 3 条/);
    const tooMany = await fetch(`${base}/api/v1/audit.pdf?limit=1001`, { headers: admin() });
    expect(tooMany.status).toBe(400);
    expect(((await tooMany.json()) as { message: string }).message).toContain('limit: at most 1000 entries in a PDF; ask for fewer, or download the CSV');
    expect((await fetch(`${base}/api/v1/audit.pdf`, { headers: viewer() })).status).toBe(403);
  });

  for (const lang of ['en', 'zh-CN'] as const) {
    it(`${lang}: the board's audit trail view shows the chain's state and every action in words`, async () => {
      let browser: Browser | undefined;
      try {
        browser = await launchChromium();
        const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
        await page.addInitScript((l) => localStorage.setItem('coldchain.lang', l), lang);
        await signIn(page, base, 'quinn');
        await page.click('[data-view=audit]');
        await page.waitForSelector('table[data-table=audit] tr[data-seq="1"]');
        await page.waitForSelector('[data-chain=ok]');
        const words =
          lang === 'en'
            ? ['Audit trail verified', 'Alert acknowledged', 'Alarm shelved', 'Custom thing done now', 'Download CSV']
            : ['审计追踪已验证', '报警已确认', '报警已搁置', '下载 CSV', '审计追踪'];
        // biome-ignore lint/performance/useDomNodeTextContent: innerText is what a person sees
        const text = await page.evaluate(() => document.body.innerText);
        for (const w of words) expect(text, w).toContain(w);
        expect(text).not.toContain('alert.acknowledge');
        expect(text).not.toContain('config.baseline');
        expect(await rawCodes(page)).toEqual([]);
        // The action filter asks the API and shows only those entries.
        await page.selectOption('[data-filter=action]', 'incident.shelve');
        await waitFor(
          () => page.locator('table[data-table=audit] tbody tr').count(),
          (n) => n === 1,
          10_000,
          'one shelving entry',
        );
        await page.screenshot({ path: path.join(ARTIFACTS, `audit-trail-${lang}.png`), fullPage: true });
        // The CSV download carries the session and the filter.
        const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-action=audit-csv]')]);
        const saved = path.join(ARTIFACTS, `audit-trail-${lang}.csv`);
        await download.saveAs(saved);
        expect(readFileSync(saved, 'utf8').trimEnd().split('\r\n')).toHaveLength(2);
      } finally {
        await browser?.close();
      }
    });
  }

  it('anchors the last hash in InfluxDB at stop; audit verify finds a trail cut short of the anchor', async () => {
    const influx = influxFor(ws);
    // One anchor at start already.
    const atStart = await waitFor(
      () => latestAuditAnchor(influx),
      (a) => a !== undefined,
      10_000,
      'the anchor written at start',
    );
    expect(atStart!.seq).toBeGreaterThanOrEqual(4);
    await stopService();
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    const last = JSON.parse(lines.at(-1)!) as { seq: number; hash: string };
    const anchor = await latestAuditAnchor(influx);
    expect(anchor).toMatchObject({ seq: last.seq, hash: last.hash });

    // Without influx.url the anchor cannot be read: said so, not passed over in silence.
    const unchecked = await run(process.execPath, [CLI, 'audit', 'verify', '--config', ws.configFile]);
    expect(unchecked.code, unchecked.stderr).toBe(0);
    expect(unchecked.stdout).toContain('InfluxDB anchor not checked');

    editConfig(ws.configFile, (doc) => {
      doc.setIn(['influx', 'url'], inject('influxUrl'));
      doc.setIn(['influx', 'database'], ws.database);
    });
    const good = await run(process.execPath, [CLI, 'audit', 'verify', '--config', ws.configFile]);
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toContain(`matches the InfluxDB anchor at seq ${last.seq}`);

    // The last two entries removed: the chain alone still verifies, the anchor does not.
    writeFileSync(file, `${lines.slice(0, -2).join('\n')}\n`);
    const cut = await run(process.execPath, [CLI, 'audit', 'verify', '--config', ws.configFile]);
    expect(cut.code).toBe(1);
    expect(cut.stderr).toContain(`the trail ends at seq ${last.seq - 2} but InfluxDB holds an anchor at seq ${last.seq}`);
  });
});
