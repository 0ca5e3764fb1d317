import { loadConfig } from '../core/config/load.js';
import { createLogger } from '../core/logger.js';
import { loadCredentials } from '../validation/credentials.js';
import { failedRequirements, writeValidationReport } from '../validation/report.js';
import { newRunId, runValidation } from '../validation/run.js';
import { CHECKS } from '../validation/checks.js';
import { environment } from './environment.js';

interface ValidateFlags {
  url: string;
  mqttUrl: string;
  credentials: string;
  out: string;
  config?: string;
  token?: string;
  wait: string;
}

/**
 * `coldchain validate`: the IQ/OQ checks against a running deployment, written as a traceability
 * matrix (HTML, PDF, JSON) into --out; exit 1 naming each requirement whose check did not pass.
 */
export async function validateCommand(flags: ValidateFlags): Promise<void> {
  const log = createLogger(environment().logLevel ?? 'info', 'coldchain-validate');
  const { credentials, openToOthers } = loadCredentials(flags.credentials);
  if (openToOthers) log.warn({ file: flags.credentials }, 'the credentials file is readable by other users; chmod 600 it');
  const apiToken = credentials.apiToken ?? flags.token;
  if (!apiToken) throw new Error(`an API token is needed: apiToken in ${flags.credentials}, $COLDCHAIN_API_TOKEN or --token-file <file>`);
  let config: ReturnType<typeof loadConfig> | Error;
  try {
    config = loadConfig(flags.config);
  } catch (err) {
    config = new Error(`the installation's configuration: ${(err as Error).message} (give --config)`);
  }
  const waitMs = Number(flags.wait) * 1000;
  if (!(waitMs > 0)) throw new Error(`--wait ${flags.wait}: expected a number of seconds`);
  const run = await runValidation(
    { url: flags.url, mqttUrl: flags.mqttUrl, apiToken, device: credentials.device, signer: credentials.signer, config, runId: newRunId(), waitMs },
    log,
  );
  const files = await writeValidationReport(run, flags.out);
  for (const o of run.outcomes) {
    const check = CHECKS.find((c) => c.id === o.id)!;
    const word = o.ok === true ? 'PASS   ' : o.ok === false ? 'FAIL   ' : 'NOT RUN';
    process.stdout.write(`${word}  ${o.id}  ${check.en}  [${check.requirements.join(', ')}]${o.ok === true ? '' : `: ${o.evidence}`}\n`);
  }
  process.stdout.write(`${files.html}\n${files.pdf}\n${files.json}\n`);
  const failed = failedRequirements(run);
  if (failed.length) {
    process.stdout.write(`validation ${run.runId} FAILED: requirements not shown: ${failed.join(', ')}\n`);
    process.exitCode = 1;
  } else process.stdout.write(`validation ${run.runId}: all ${run.outcomes.length} checks passed\n`);
}
