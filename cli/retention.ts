import { formatDuration, parseDuration } from '../core/duration.js';
import { loadConfig } from '../core/config/load.js';
import { AuditLog, auditFile } from '../audit/audit-log.js';
import { verifySigner } from '../audit/e-signature.js';
import { withDatabase } from './backup.js';
import { readSecret } from './prompt.js';

const show = (ms: number | undefined) => (ms === undefined ? 'none' : ms === Infinity ? 'forever' : formatDuration(ms));

export async function retentionShowCommand(options: { config?: string }): Promise<void> {
  const loaded = loadConfig(options.config);
  const current = await withDatabase(loaded.config, loaded.dataDir, (influx) => influx.retention());
  process.stdout.write(
    `database ${loaded.config.influx.database} keeps records ${show(current)}; influx.retention asks for ${show(loaded.config.influx.retention)} (floor ${show(loaded.config.influx.retentionFloor)})\n`,
  );
}

/**
 * Shortening the retention deletes every record older than the new duration: an admin's
 * e-signature (user + password re-entered, meaning, reason), refusals and the change itself
 * in the audit trail, and never below influx.retentionFloor.
 */
export async function retentionShortenCommand(options: { config?: string; to: string; user: string; comment: string }): Promise<void> {
  const loaded = loadConfig(options.config);
  const to = parseDuration(options.to);
  if (to === undefined) throw new Error(`--to "${options.to}" is not a duration; write e.g. 1830d`);
  if (to < loaded.config.influx.retentionFloor)
    throw new Error(
      `--to ${options.to} is shorter than influx.retentionFloor (${show(loaded.config.influx.retentionFloor)}); GSP asks to keep records at least 5 years`,
    );
  await withDatabase(loaded.config, loaded.dataDir, async (influx) => {
    const before = await influx.retention();
    if (before !== undefined && before <= to)
      throw new Error(`the database keeps records ${show(before)} already; ${options.to} would not shorten it (lengthen it with influx.retention)`);
    const audit = new AuditLog(auditFile(loaded.dataDir));
    await audit.open();
    try {
      const password = await readSecret(`password for ${options.user} (electronic signature: records older than ${options.to} will be deleted): `);
      const user = await verifySigner(
        { users: loaded.config.users, accounts: loaded.config.accounts, audit },
        { user: options.user, password, meaning: 'retention shortened', comment: options.comment },
        { action: 'retention.shorten', target: loaded.config.influx.database, roles: ['admin'], what: 'shorten the retention of records' },
      );
      await audit.append({
        actor: user.name,
        printedName: user.fullName,
        action: 'retention.shorten',
        target: loaded.config.influx.database,
        details: { before: show(before), after: show(to), comment: options.comment },
      });
      await influx.shortenRetention(to);
      process.stdout.write(`database ${loaded.config.influx.database} now keeps records ${show(to)} (was ${show(before)}); signed by ${user.fullName}\n`);
    } finally {
      await audit.close();
    }
  });
}
