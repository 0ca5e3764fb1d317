import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { Readable } from 'node:stream';
import { z } from 'zod';
import { escapeString, escapeTag } from '../storage/line-protocol.js';
import { quoteIdentifier, type InfluxClient } from '../storage/influx.js';
import { auditFile } from '../audit/audit-log.js';

export const BACKUP_FORMAT = 'coldchain-backup/1';

/** What a backup holds, with a SHA-256 digest of every file: a restore refuses anything altered. */
export const manifestSchema = z.object({
  format: z.literal(BACKUP_FORMAT),
  createdAt: z.string(),
  database: z.string(),
  measurements: z.array(z.object({ name: z.string(), points: z.number(), file: z.string() })),
  files: z.array(z.object({ path: z.string(), bytes: z.number(), sha256: z.string() })),
  /** The audit trail's last hash at backup time: an anchor outside the file for `audit verify`. */
  auditLastHash: z.string().nullable(),
});
export type Manifest = z.infer<typeof manifestSchema>;

export class BackupError extends Error {}

type Progress = (text: string) => void;
const WEEK_NS = 7n * 86_400_000_000_000n;
/** Left out of a backup: the database is exported through its API, the lock is this run's. */
const SKIPPED = new Set(['influxdb', 'coldchain.pid']);
const isLock = (name: string) => name === 'coldchain.pid' || name.startsWith('coldchain.pid.');

const sha256File = async (file: string) => {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
};

async function walk(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(full, base)));
    else if (entry.isFile()) out.push(path.relative(base, full));
  }
  return out.sort();
}

/** One point as line protocol, from an exact (`epoch=ns`, bigint) query row. */
function lineOf(measurement: string, columns: string[], row: unknown[], tagKeys: Set<string>, fieldTypes: Map<string, string>): string | undefined {
  const tags: string[] = [];
  const fields: string[] = [];
  let time: unknown;
  columns.forEach((column, i) => {
    const value = row[i];
    if (column === 'time') time = value;
    else if (value === null || value === undefined) return;
    else if (tagKeys.has(column)) tags.push(`${escapeTag(column)}=${escapeTag(String(value))}`);
    else {
      const type = fieldTypes.get(column);
      const formatted =
        type === 'integer'
          ? `${String(value)}i`
          : type === 'string'
            ? escapeString(String(value))
            : type === 'boolean'
              ? String(value)
              : Number(value).toString();
      fields.push(`${escapeTag(column)}=${formatted}`);
    }
  });
  if (!fields.length) return undefined;
  return `${escapeTag(measurement)}${tags.length ? `,${tags.sort().join(',')}` : ''} ${fields.join(',')} ${String(time)}`;
}

async function exportMeasurement(influx: InfluxClient, name: string, file: string, progress: Progress): Promise<number> {
  const m = quoteIdentifier(name);
  const [fieldKeys, tagKeysSeries] = await Promise.all([influx.query(`SHOW FIELD KEYS FROM ${m}`), influx.query(`SHOW TAG KEYS FROM ${m}`)]);
  const fieldTypes = new Map((fieldKeys[0]?.values ?? []).map((r) => [String(r[0]), String(r[1])]));
  const tagKeys = new Set((tagKeysSeries[0]?.values ?? []).map((r) => String(r[0])));
  const [first, last] = await Promise.all([
    influx.query(`SELECT * FROM ${m} ORDER BY time ASC LIMIT 1`, { exact: true }),
    influx.query(`SELECT * FROM ${m} ORDER BY time DESC LIMIT 1`, { exact: true }),
  ]);
  const from = first[0]?.values[0]?.[0] as bigint | undefined;
  const to = last[0]?.values[0]?.[0] as bigint | undefined;
  const gzip = createGzip();
  const done = pipeline(gzip, createWriteStream(file, { mode: 0o600 }));
  let points = 0;
  if (from !== undefined && to !== undefined) {
    // A week at a time: a year of a busy site is millions of points, never held at once.
    for (let start = BigInt(from); start <= BigInt(to); start += WEEK_NS) {
      const series = await influx.query(`SELECT * FROM ${m} WHERE time >= ${start} AND time < ${start + WEEK_NS}`, { exact: true });
      for (const s of series) {
        for (const row of s.values) {
          const line = lineOf(name, s.columns, row, tagKeys, fieldTypes);
          if (!line) continue;
          points++;
          if (!gzip.write(`${line}\n`)) await new Promise((r) => gzip.once('drain', r));
        }
      }
      progress(`${name}: ${points} points`);
    }
  }
  gzip.end();
  await done;
  return points;
}

/**
 * A backup of everything the record is made of: every measurement of the database, exported
 * through the v1 API point by point with its exact timestamp (so any InfluxDB behind the service
 * can be backed up and restored), and the data directory's files (spool, audit trail, keys,
 * dead letters) and the configuration, with a manifest of SHA-256 digests.
 */
export async function createBackup(options: {
  influx: InfluxClient;
  dataDir: string;
  configFile: string;
  out: string;
  progress?: Progress;
  now?: number;
}): Promise<Manifest> {
  const progress = options.progress ?? (() => undefined);
  const out = path.resolve(options.out);
  if (existsSync(out) && (await readdir(out)).length) throw new BackupError(`backup destination ${out} is not empty; give a new or empty directory`);
  await mkdir(path.join(out, 'influx'), { recursive: true, mode: 0o700 });
  await mkdir(path.join(out, 'files'), { recursive: true, mode: 0o700 });
  const measurements: Manifest['measurements'] = [];
  for (const row of (await options.influx.query('SHOW MEASUREMENTS'))[0]?.values ?? []) {
    const name = String(row[0]);
    const file = path.join('influx', `${encodeURIComponent(name)}.lp.gz`);
    measurements.push({ name, file, points: await exportMeasurement(options.influx, name, path.join(out, file), progress) });
  }
  if (existsSync(options.dataDir)) {
    for (const rel of await walk(options.dataDir)) {
      const top = rel.split(path.sep)[0]!;
      if (SKIPPED.has(top) || isLock(top)) continue;
      const target = path.join(out, 'files', 'data', rel);
      await mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
      await copyFile(path.join(options.dataDir, rel), target);
    }
  }
  await copyFile(options.configFile, path.join(out, 'files', 'config.yaml'));
  const files: Manifest['files'] = [];
  for (const rel of await walk(out)) files.push({ path: rel, bytes: (await stat(path.join(out, rel))).size, sha256: await sha256File(path.join(out, rel)) });
  const manifest: Manifest = {
    format: BACKUP_FORMAT,
    createdAt: new Date(options.now ?? Date.now()).toISOString(),
    database: options.influx.target.database,
    measurements,
    files,
    auditLastHash: await auditLastHash(options.dataDir),
  };
  await writeFile(path.join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
  progress(`backup written to ${out}: ${measurements.reduce((n, m) => n + m.points, 0)} points in ${measurements.length} measurements, ${files.length} files`);
  return manifest;
}

async function auditLastHash(dataDir: string): Promise<string | null> {
  const file = auditFile(dataDir);
  if (!existsSync(file)) return null;
  let last: string | null = null;
  for await (const line of createInterface({ input: createReadStream(file) })) {
    if (!line.trim()) continue;
    try {
      last = (JSON.parse(line) as { hash?: string }).hash ?? last;
    } catch {
      // A torn last line (a crash mid-append) is repaired by the audit trail itself at start.
    }
  }
  return last;
}

/** Checks every file of a backup against its manifest; throws naming the first that differs. */
export async function verifyBackup(dir: string): Promise<Manifest> {
  const manifestFile = path.join(dir, 'manifest.json');
  if (!existsSync(manifestFile)) throw new BackupError(`${dir} is not a backup: no manifest.json`);
  const parsed = manifestSchema.safeParse(JSON.parse(await readFile(manifestFile, 'utf8')));
  if (!parsed.success) throw new BackupError(`${manifestFile}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const listed = new Set(parsed.data.files.map((f) => f.path));
  for (const file of parsed.data.files) {
    const full = path.join(dir, file.path);
    if (!existsSync(full)) throw new BackupError(`backup is incomplete: ${file.path} is missing`);
    if ((await sha256File(full)) !== file.sha256)
      throw new BackupError(`backup file ${file.path} does not match its SHA-256 in the manifest (altered or damaged)`);
  }
  for (const rel of await walk(dir)) {
    if (rel !== 'manifest.json' && !listed.has(rel)) throw new BackupError(`backup holds ${rel}, which its manifest does not list`);
  }
  return parsed.data;
}

/**
 * Restores a verified backup onto an empty data directory: the files first, then every point
 * written back to the database (which must be empty: a restore never mixes with live data).
 */
export async function restoreBackup(options: {
  from: string;
  influx: InfluxClient;
  dataDir: string;
  configFile?: string;
  progress?: Progress;
}): Promise<Manifest> {
  const progress = options.progress ?? (() => undefined);
  const manifest = await verifyBackup(options.from);
  if (existsSync(options.dataDir) && (await readdir(options.dataDir)).some((f) => f !== 'influxdb' && !isLock(f)))
    throw new BackupError(`restore needs an empty data directory; ${options.dataDir} has files`);
  const existing = (await options.influx.query('SHOW MEASUREMENTS').catch(() => []))[0]?.values.length ?? 0;
  if (existing) throw new BackupError(`restore needs an empty database; ${options.influx.target.database} already holds ${existing} measurements`);
  await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  for (const file of manifest.files) {
    if (!file.path.startsWith(`files${path.sep}data${path.sep}`)) continue;
    const target = path.join(options.dataDir, path.relative(path.join('files', 'data'), file.path));
    await mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
    await copyFile(path.join(options.from, file.path), target);
  }
  if (options.configFile && !existsSync(options.configFile)) await copyFile(path.join(options.from, 'files', 'config.yaml'), options.configFile);
  for (const m of manifest.measurements) {
    let batch: string[] = [];
    let written = 0;
    const flush = async () => {
      if (!batch.length) return;
      await options.influx.write(batch.join('\n'));
      written += batch.length;
      batch = [];
    };
    for await (const line of createInterface({ input: Readable.from(createReadStream(path.join(options.from, m.file)).pipe(createGunzip())) })) {
      if (!line) continue;
      batch.push(line);
      if (batch.length >= 5000) await flush();
    }
    await flush();
    if (written !== m.points) throw new BackupError(`${m.name}: restored ${written} points where the backup lists ${m.points}`);
    progress(`${m.name}: ${written} points restored`);
  }
  return manifest;
}
