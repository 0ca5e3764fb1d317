import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ReportDocument } from '../reports/render/document.js';
import { renderHtml } from '../reports/render/html.js';
import { renderPdf } from '../reports/render/pdf.js';
import { CHECKS } from './checks.js';
import { REQUIREMENTS } from './requirements.js';
import type { CheckOutcome, ValidationRun } from './run.js';

/** Headings and words in English and 简体中文 side by side: one document a QA department files as it is. */
const both = (en: string, zh: string) => `${en} / ${zh}`;
const RESULT = {
  pass: both('PASS', '通过'),
  fail: both('FAIL', '不通过'),
  notRun: both('NOT RUN', '未执行'),
};
const resultOf = (o: CheckOutcome | undefined) => (!o ? RESULT.notRun : o.ok === true ? RESULT.pass : o.ok === false ? RESULT.fail : RESULT.notRun);
const utc = (iso: string) => iso.replace('T', ' ').replace(/\.\d{3}Z$/, ' UTC');

/** Requirements with a check that did not pass, in catalogue order. */
export function failedRequirements(run: ValidationRun): string[] {
  const failed = new Set(run.outcomes.filter((o) => o.ok !== true).flatMap((o) => CHECKS.find((c) => c.id === o.id)!.requirements));
  return REQUIREMENTS.map((r) => r.id).filter((id) => failed.has(id));
}

/** The run as the format-neutral blocks the report renderer lays out (reports/render/document.ts). */
export function describeRun(run: ValidationRun): ReportDocument {
  const outcome = (id: string) => run.outcomes.find((o) => o.id === id);
  const failed = failedRequirements(run);
  const passedChecks = run.outcomes.filter((o) => o.ok === true).length;
  const v = run.versions;
  const configDigest = run.configFile ? createHash('sha256').update(readFileSync(run.configFile)).digest('hex') : undefined;
  return {
    title: both('Installation and operational qualification (IQ/OQ)', '安装确认和运行确认（IQ/OQ）'),
    subtitle: `coldchain validate · ${run.runId} · ${utc(run.startedAt)} · ${run.url}`,
    blocks: [
      {
        kind: 'verdict',
        ok: run.passed,
        text: run.passed
          ? both(`All ${run.outcomes.length} checks passed`, `全部 ${run.outcomes.length} 项检查通过`)
          : both(
              `${run.outcomes.length - passedChecks} of ${run.outcomes.length} checks did not pass`,
              `${run.outcomes.length} 项检查中 ${run.outcomes.length - passedChecks} 项未通过`,
            ),
        reasons: run.passed
          ? []
          : run.outcomes
              .filter((o) => o.ok !== true)
              .map((o) => {
                const check = CHECKS.find((c) => c.id === o.id)!;
                return `${o.id} ${check.en} [${check.requirements.join(', ')}]: ${o.evidence}`;
              }),
      },
      {
        kind: 'fields',
        heading: both('Run', '运行信息'),
        rows: [
          [both('Run', '运行编号'), run.runId],
          [both('Started', '开始时间'), utc(run.startedAt)],
          [both('Finished', '结束时间'), utc(run.finishedAt)],
          [both('Host', '主机'), run.host],
          [both('Operator (OS user)', '执行人（操作系统用户）'), run.operator],
          [both('Service (HTTP API)', '服务（HTTP API）'), run.url],
          [both('MQTT broker', 'MQTT 代理'), run.mqttUrl],
          [both('coldchain version', 'coldchain 版本'), v.coldchain ?? '—'],
          [both('git commit', 'git 提交'), v.commit ?? both('not a git checkout', '非 git 检出')],
          [both('Node.js (service)', 'Node.js（服务）'), v.nodeService ?? '—'],
          [both('Node.js (this run)', 'Node.js（本次运行）'), v.nodeValidator],
          [both('InfluxDB', 'InfluxDB'), v.influxd ?? '—'],
          [both('Configuration', '配置文件'), run.configFile ? `${run.configFile} (SHA-256 ${configDigest})` : '—'],
          [
            both('Validation device and place', '验证设备和位置'),
            run.place ? `${run.device} at ${run.place.siteName} / ${run.place.locationName} (${run.place.locationId})` : run.device,
          ],
        ],
      },
      {
        kind: 'table',
        heading: both('Traceability matrix', '可追溯性矩阵'),
        columns: [
          both('Requirement', '要求'),
          both('Clause (docs/compliance.md)', '条款'),
          both('What is shown', '验证内容'),
          both('Checks', '检查项'),
          both('Result', '结果'),
        ],
        rows: REQUIREMENTS.map((r) => {
          const checks = CHECKS.filter((c) => (c.requirements as readonly string[]).includes(r.id));
          const results = checks.map((c) => outcome(c.id));
          const result = !checks.length ? RESULT.notRun : results.every((o) => o?.ok === true) ? RESULT.pass : RESULT.fail;
          return [r.id, `${r.source}: ${r.clause}`, `${r.en}\n${r.zh}`, checks.map((c) => c.id).join(', '), result];
        }),
        empty: '—',
        widths: [1.1, 2.6, 2.4, 1.1, 1],
      },
      {
        kind: 'table',
        heading: both('Checks and evidence', '检查项与证据'),
        columns: [both('Check', '检查项'), both('What', '内容'), both('Requirements', '要求'), both('Result', '结果'), both('Evidence', '证据'), 'ms'],
        rows: CHECKS.map((c) => {
          const o = outcome(c.id);
          return [c.id, `${c.en}\n${c.zh}`, c.requirements.join(', '), resultOf(o), o?.evidence ?? '', o?.ms ?? 0];
        }),
        empty: '—',
        widths: [0.6, 2.2, 1.2, 1.05, 4, 0.4],
      },
      {
        kind: 'fields',
        heading: both('What this run leaves behind', '本次运行留下的记录'),
        rows: [
          [
            both('Readings', '读数'),
            `${run.device}: one in-range reading 28 min before the run, a refused 999 °C reading (quarantined as impossible_value), 25 readings 3 °C above the range from 26 to 2 min before the run, one in-range reading at its end; all at the validation place only.`,
          ],
          [
            both('Alarm', '报警'),
            'one incident (excursion and warning) at the validation place, notified to that site’s recipients, acknowledged and closed with two e-signatures whose comment names this run.',
          ],
          [both('Audit trail', '审计追踪'), `the signatures (incident.acknowledge, incident.close), comment "coldchain validate ${run.runId}: …".`],
        ],
      },
      {
        kind: 'signature',
        heading: both('Review', '审核'),
        rows: [
          [both('Performed by', '执行人'), run.operator],
          [both('Reviewed by (name, signature)', '审核人（姓名、签名）'), ' '],
          [both('Date', '日期'), ' '],
        ],
        empty: '',
      },
    ],
    footer: `coldchain validate ${run.runId} · coldchain ${v.coldchain ?? '?'} ${v.commit ?? ''} · ${utc(run.startedAt)} · ${failed.length ? `FAILED: ${failed.join(', ')}` : 'all requirements shown'}`,
  };
}

/** Writes the matrix as HTML, PDF and JSON into `dir`; returns the paths. */
export async function writeValidationReport(run: ValidationRun, dir: string): Promise<{ html: string; pdf: string; json: string }> {
  mkdirSync(dir, { recursive: true });
  const doc = describeRun(run);
  const base = path.join(dir, `coldchain-validation-${run.runId}`);
  const files = { html: `${base}.html`, pdf: `${base}.pdf`, json: `${base}.json` };
  // Both languages are on every page: the HTML says it is English with Chinese beside it.
  writeFileSync(files.html, await renderHtml(doc, 'en'));
  writeFileSync(files.pdf, await renderPdf(doc, { title: `${doc.title} — ${run.runId}`, lang: 'zh-CN' }));
  writeFileSync(files.json, `${JSON.stringify({ ...run, failedRequirements: failedRequirements(run), requirements: REQUIREMENTS }, null, 2)}\n`);
  return files;
}
