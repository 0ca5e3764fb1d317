import { loadConfig } from '../core/config/load.js';
import { auditFile, verifyAuditLog } from '../audit/audit-log.js';

export function auditVerifyCommand(options: { config?: string; dataDir?: string }): void {
  const loaded = loadConfig(options.config);
  const file = auditFile(options.dataDir ?? loaded.dataDir);
  const result = verifyAuditLog(file);
  if (!result.ok) throw new Error(`audit trail does NOT verify after ${result.entries} good entries: ${result.problem}`);
  process.stdout.write(`audit trail verified: ${result.entries} entries in ${file}; last hash ${result.lastHash}\n`);
}
