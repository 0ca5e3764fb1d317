import { loadConfig } from '../core/config/load.js';
import { auditFile, verifyAuditLog } from '../audit/audit-log.js';
import { checkAgainstAnchor, latestAuditAnchor } from '../audit/anchor.js';
import { InfluxClient } from '../storage/influx.js';

/**
 * Recomputes the chain, then compares it with the latest anchor in InfluxDB (a cut tail leaves
 * the chain intact but shorter than the anchor) when influx.url is configured and answers.
 */
export async function auditVerifyCommand(options: { config?: string; dataDir?: string }): Promise<void> {
  const loaded = loadConfig(options.config);
  const file = auditFile(options.dataDir ?? loaded.dataDir);
  const result = verifyAuditLog(file);
  if (!result.ok) throw new Error(`audit trail does NOT verify after ${result.entries} good entries: ${result.problem}`);
  const { url, database, token, username, password } = loaded.config.influx;
  let anchorLine: string | undefined;
  if (!url) {
    anchorLine =
      'InfluxDB anchor not checked: influx.url is not set (the managed InfluxDB runs only inside the service); a tail cut from the trail is not detected by the file alone';
  } else {
    const influx = new InfluxClient({ url, database, token, username, password });
    let anchor: Awaited<ReturnType<typeof latestAuditAnchor>>;
    try {
      anchor = await latestAuditAnchor(influx);
    } catch (err) {
      anchor = undefined;
      anchorLine = `InfluxDB anchor not checked: ${(err as Error).message}`;
    }
    if (anchor) {
      const compared = await checkAgainstAnchor(file, result, anchor);
      if (!compared.ok) throw new Error(`audit trail does NOT match its InfluxDB anchor: ${compared.message}`);
      anchorLine = `the trail ${compared.message}`;
    }
    anchorLine ??= `InfluxDB at ${url} holds no audit anchor yet (the service writes one every 10 minutes and at stop)`;
  }
  process.stdout.write(`audit trail verified: ${result.entries} entries in ${file}; last hash ${result.lastHash}\n${anchorLine}\n`);
}
