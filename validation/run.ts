import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../core/logger.js';
import { CHECKS, isCheckFailure, type CheckResult, type RunFacts, type ValidationContext } from './checks.js';

export interface CheckOutcome extends CheckResult {
  id: string;
  ms: number;
}

/** One run: what was checked, against what, by whom, when, and each outcome. */
export interface ValidationRun {
  runId: string;
  startedAt: string;
  finishedAt: string;
  host: string;
  operator: string;
  url: string;
  mqttUrl: string;
  device: string;
  place?: RunFacts['place'];
  configFile?: string;
  versions: RunFacts['versions'];
  outcomes: CheckOutcome[];
  passed: boolean;
}

/** The installed package's version and, in a git checkout, its commit (with "+local changes" when the tree differs). */
export function installedVersion(): { version?: string; commit?: string } {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  let version: string | undefined;
  try {
    version = (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version?: string }).version;
  } catch {
    version = undefined;
  }
  let commit: string | undefined;
  try {
    commit = execFileSync('git', ['-C', dir, 'rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['-C', dir, 'status', '--porcelain', '--untracked-files=no'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    if (dirty) commit += ' +local changes';
  } catch {
    commit = undefined; // an installed package, not a checkout
  }
  return { version, commit };
}

export const newRunId = (at = new Date()) => `oq-${at.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}-${randomBytes(2).toString('hex')}`;

/** Runs every check in order; a check whose prerequisite failed is recorded as not run. */
export async function runValidation(ctx: ValidationContext, log: Logger): Promise<ValidationRun> {
  const started = Date.now();
  const installed = installedVersion();
  const facts: RunFacts = {
    versions: { coldchain: installed.version, commit: installed.commit, nodeValidator: process.version },
    startedAt: started,
    downlink: [],
  };
  const outcomes: CheckOutcome[] = [];
  try {
    for (const check of CHECKS) {
      const t = Date.now();
      const blocked = (check.needs ?? []).filter((id) => outcomes.find((o) => o.id === id)?.ok !== true);
      let result: CheckResult;
      if (blocked.length) result = { ok: null, evidence: `not run: ${blocked.join(', ')} did not pass` };
      else {
        try {
          result = await check.run(ctx, facts);
        } catch (err) {
          if (!isCheckFailure(err)) log.error({ err, check: check.id }, 'validation check crashed');
          result = { ok: false, evidence: (err as Error).message };
        }
      }
      outcomes.push({ id: check.id, ms: Date.now() - t, ...result });
      log.info({ check: check.id, ok: result.ok, ms: Date.now() - t }, result.evidence);
    }
  } finally {
    await facts.mqtt?.endAsync().catch(() => undefined);
  }
  return {
    runId: ctx.runId,
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date().toISOString(),
    host: hostname(),
    operator: userInfo().username,
    url: ctx.url,
    mqttUrl: ctx.mqttUrl,
    device: ctx.device.id,
    place: facts.place,
    configFile: ctx.config instanceof Error ? undefined : ctx.config.file,
    versions: facts.versions,
    outcomes,
    passed: outcomes.every((o) => o.ok === true),
  };
}
