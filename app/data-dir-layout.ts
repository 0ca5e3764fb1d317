import { chmodSync, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { AuditLog } from '../audit/audit-log.js';
import { replaceFileDurably } from '../core/durable.js';
import type { Logger } from '../core/logger.js';
import type { InfluxClient } from '../storage/influx.js';

/**
 * The data directory's layout version (issue 13, "existing data directories are migrated on
 * start"), kept in `<dataDir>/VERSION`. Layout 1 is the layout of the integrity work: the audit
 * trail anchored in InfluxDB, the managed influxd with authentication and its admin credentials,
 * retention never shortened by a setting, readings with `receivedAt` and conflicting ones under a
 * `revision` tag, deferred readings in the spool, daily backups. A directory without the file was
 * made by an earlier version (or is new): it is upgraded in place at start, step by step, each step
 * idempotent (a start interrupted half-way simply does it again), the file written last, the
 * upgrade logged and recorded in the audit trail (`data.migrated`). A directory of a newer layout
 * is refused: this version could misread what it does not know.
 */
export const DATA_LAYOUT = 1;

export const layoutFile = (dataDir: string) => path.join(dataDir, 'VERSION');

const layoutSchema = z.object({
  layout: z.number().int().nonnegative(),
  /** The version of coldchain that wrote the file. */
  writtenBy: z.string(),
  at: z.string(),
  /** Each upgrade this directory went through, oldest first. */
  history: z.array(z.object({ from: z.number().int().nonnegative(), to: z.number().int().positive(), at: z.string(), steps: z.array(z.string()) })),
});
export type DataLayout = z.infer<typeof layoutSchema>;

/** Reads VERSION: undefined when there is none; a precise error when it is not one of ours. */
export function readLayout(dataDir: string): DataLayout | undefined {
  const file = layoutFile(dataDir);
  if (!existsSync(file)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: not the data directory's layout file (${(err as Error).message}); restore it from a backup of this data directory`);
  }
  const result = layoutSchema.safeParse(parsed);
  if (!result.success)
    throw new Error(
      `${file}: not the data directory's layout file (${result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')})`,
    );
  return result.data;
}

/** This program's version, from the nearest package.json above this module (sources and dist/ alike). */
function packageVersion(): string {
  let dir = path.dirname(new URL(import.meta.url).pathname);
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  try {
    return `coldchain ${(JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version}`;
  } catch {
    return 'coldchain';
  }
}

/** Written to a draft, fsync'ed, renamed over, the directory fsync'ed: never a half-written VERSION. */
function writeLayout(dataDir: string, layout: DataLayout): void {
  replaceFileDurably(layoutFile(dataDir), `${JSON.stringify(layout, null, 2)}\n`);
}

/** What only the owner may read: directories 0700, these files 0600 (an earlier version made some with the usual umask). */
const PRIVATE_DIRS = ['audit', 'spool', 'keys', 'tls', 'influxdb'];
const PRIVATE_FILES = [
  'audit/audit.ndjson',
  'keys/verification-links.key',
  'tls/http.key',
  'influxdb/admin-credentials.json',
  'simulator-tokens.json',
  'dead-letter.ndjson',
  'config-audited.json',
  'config-edits.ndjson',
];

/** Files and folders that only a data directory in use has (a new one holds at most the lock and init's certificate). */
const IN_USE = ['audit', 'spool', 'influxdb', 'keys', 'dead-letter.ndjson', 'config-audited.json'];

export interface DataDirMigration {
  /** The layout found: 0 for a directory an earlier version made, DATA_LAYOUT when current. */
  readonly from: number;
  /** A directory nothing has used yet: it just gets the VERSION file. */
  readonly fresh: boolean;
  /** What was done so far (file steps, before anything opens a file). */
  readonly steps: readonly string[];
  /** Once storage is up: the InfluxDB side checked, VERSION written, the upgrade logged and audited. */
  finish(deps: { audit: AuditLog; influx: InfluxClient; managedInfluxd: boolean }): Promise<void>;
}

/**
 * Before anything opens a file of the data directory (right after its lock): refuses a newer
 * layout, and upgrades what files an earlier version left (modes). The InfluxDB side of the
 * upgrade is done by the start itself (admin created, retention lengthened, first anchor) and
 * checked and recorded by `finish`.
 */
export function beginDataDirMigration(dataDir: string, log: Logger): DataDirMigration {
  const found = readLayout(dataDir);
  if (found && found.layout > DATA_LAYOUT)
    throw new Error(
      `${layoutFile(dataDir)}: this data directory has layout ${found.layout} (written by ${found.writtenBy}); this version of coldchain knows layouts up to ${DATA_LAYOUT}: run the newer version, or restore a backup made by this one`,
    );
  if (found && found.layout === DATA_LAYOUT) return { from: DATA_LAYOUT, fresh: false, steps: [], finish: async () => undefined };

  const from = found?.layout ?? 0;
  const fresh = !found && !IN_USE.some((name) => existsSync(path.join(dataDir, name)));
  const steps: string[] = [];
  // Captured before influxd starts: a managed influxd without credentials is about to get its admin.
  const influxdWithoutAuth = existsSync(path.join(dataDir, 'influxdb')) && !existsSync(path.join(dataDir, 'influxdb', 'admin-credentials.json'));
  if (!fresh) {
    for (const name of PRIVATE_DIRS) {
      const dir = path.join(dataDir, name);
      if (existsSync(dir) && (statSync(dir).mode & 0o777) !== 0o700) {
        chmodSync(dir, 0o700);
        steps.push(`${name}/ made private (0700)`);
      }
    }
    const files = [...PRIVATE_FILES, ...listed(dataDir, 'spool')];
    for (const name of files) {
      const file = path.join(dataDir, name);
      if (existsSync(file) && (statSync(file).mode & 0o777) !== 0o600) {
        chmodSync(file, 0o600);
        steps.push(`${name} made private (0600)`);
      }
    }
    log.info({ dataDir, from, to: DATA_LAYOUT }, 'data directory from an earlier version: upgrading its layout');
  }

  return {
    from,
    fresh,
    steps,
    async finish({ audit, influx, managedInfluxd }) {
      const at = new Date().toISOString();
      if (fresh) {
        writeLayout(dataDir, { layout: DATA_LAYOUT, writtenBy: packageVersion(), at, history: [] });
        log.info({ dataDir, layout: DATA_LAYOUT }, 'new data directory: layout version written');
        return;
      }
      if (managedInfluxd && influxdWithoutAuth) steps.push('managed influxd: authentication on, admin user created (influxdb/admin-credentials.json, 0600)');
      try {
        const retention = await influx.retention();
        steps.push(
          retention === undefined
            ? 'retention: no coldchain_retention policy yet (created when InfluxDB takes the first write)'
            : `retention: coldchain_retention keeps ${retention === Infinity ? 'everything' : `${Math.round(retention / 86_400_000)} days`} (lengthened to influx.retention if it was shorter; never shortened by a setting)`,
        );
      } catch (err) {
        steps.push(`retention: not checked (InfluxDB did not answer: ${(err as Error).message})`);
      }
      steps.push(
        'audit trail: its last hash anchored in InfluxDB (audit_anchors) from this start on',
        'readings: stored ones kept as they are (without receivedAt: never counted late; without a revision tag: the first reading of their device time)',
        'spool: recovered segments written as they are (line protocol, unchanged)',
      );
      const layout: DataLayout = {
        layout: DATA_LAYOUT,
        writtenBy: packageVersion(),
        at,
        history: [...(found?.history ?? []), { from, to: DATA_LAYOUT, at, steps }],
      };
      // The trail first: a crash between the two repeats the (idempotent) upgrade and records it again, never the reverse.
      await audit.append({ actor: 'system', action: 'data.migrated', target: dataDir, details: { from, to: DATA_LAYOUT, steps } });
      writeLayout(dataDir, layout);
      log.info({ dataDir, from, to: DATA_LAYOUT, steps }, 'data directory upgraded');
    },
  };
}

function listed(dataDir: string, folder: string): string[] {
  try {
    return readdirSync(path.join(dataDir, folder)).map((name) => path.join(folder, name));
  } catch {
    return [];
  }
}
