import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { userInfo } from 'node:os';
import { createHash } from 'node:crypto';
import path from 'node:path';

/** One difference between two configurations, with secrets never shown. */
export interface ConfigChange {
  path: string;
  before: unknown;
  after: unknown;
}

const SECRET_KEY = /hash|password|secret|token$/i;
/** Entries of these lists are matched by their key (calibration certificates by number), so a reordering is not a change. */
const KEYS = ['id', 'name', 'number'];

// A secret shows only as a short digest of itself: a change is visible, the value is not.
const redact = (key: string, value: unknown): unknown =>
  SECRET_KEY.test(key) && value !== undefined && value !== null ? `(secret ${createHash('sha256').update(String(value)).digest('hex').slice(0, 8)})` : value;

function keyOf(item: unknown): string | undefined {
  if (!item || typeof item !== 'object') return undefined;
  for (const k of KEYS) if (typeof (item as Record<string, unknown>)[k] === 'string') return `${k}=${(item as Record<string, string>)[k]}`;
  return undefined;
}

function scrub(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => scrub(v));
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_KEY.test(k) ? redact(k, v) : scrub(v, k)]));
  return redact(key, value);
}

/**
 * The differences between two configurations, path by path ("sites[id=dc-shanghai].recipients
 * [name=QA manager].phone"), lists of identified entries matched by id or name. A changed
 * secret (token or password hash) shows as changed, never its value (21 CFR 11.10(e): the
 * record of what changed, by whom and when; nothing that would let the reader log in).
 */
export function diffConfig(before: unknown, after: unknown, at = ''): ConfigChange[] {
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  const key = at.split('.').at(-1) ?? '';
  if (Array.isArray(before) && Array.isArray(after) && [...before, ...after].every((item) => keyOf(item) !== undefined)) {
    const changes: ConfigChange[] = [];
    const old = new Map(before.map((item) => [keyOf(item)!, item]));
    const next = new Map(after.map((item) => [keyOf(item)!, item]));
    for (const [k, item] of old) if (!next.has(k)) changes.push({ path: `${at}[${k}]`, before: scrub(item), after: null });
    for (const [k, item] of next)
      changes.push(...(old.has(k) ? diffConfig(old.get(k), item, `${at}[${k}]`) : [{ path: `${at}[${k}]`, before: null, after: scrub(item) }]));
    return changes;
  }
  if (before && after && typeof before === 'object' && typeof after === 'object' && !Array.isArray(before) && !Array.isArray(after)) {
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    return [...keys].flatMap((k) => diffConfig((before as Record<string, unknown>)[k], (after as Record<string, unknown>)[k], at ? `${at}.${k}` : k));
  }
  return [{ path: at, before: scrub(before, key), after: scrub(after, key) }];
}

/** Where the CLI notes who edits the configuration, read by the service when it picks the edit up. */
export const editNotesFile = (dataDir: string) => path.join(dataDir, 'config-edits.ndjson');
const snapshotFile = (dataDir: string) => path.join(dataDir, 'config-audited.json');

/** The CLI's note of an edit: the operating-system user and the command (secrets are never on command lines). */
export function noteConfigEdit(dataDir: string, command: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  appendFileSync(editNotesFile(dataDir), `${JSON.stringify({ at: Date.now(), user: userInfo().username, command })}\n`, { mode: 0o600 });
}

/** Who made an edit the service just noticed: the CLI's last note if it is recent and not used yet, else an edit by hand. */
export function editAuthor(dataDir: string, usedUpTo: number, now = Date.now()): { actor: string; via: string; noteAt?: number } {
  const file = editNotesFile(dataDir);
  if (existsSync(file)) {
    const last = readFileSync(file, 'utf8').trim().split('\n').at(-1);
    try {
      const note = JSON.parse(last ?? '') as { at: number; user: string; command: string };
      if (note.at > usedUpTo && now - note.at < 60_000) return { actor: `os:${note.user}`, via: `coldchain ${note.command}`, noteAt: note.at };
    } catch {
      // A torn note is no note.
    }
  }
  return { actor: 'config-file', via: 'the configuration file was edited directly' };
}

/**
 * The configuration last recorded in the audit trail (secrets already scrubbed), so changes made
 * while the service was stopped are audited at the next start.
 */
export function lastAuditedConfig(dataDir: string): unknown | undefined {
  try {
    return JSON.parse(readFileSync(snapshotFile(dataDir), 'utf8'));
  } catch {
    return undefined;
  }
}

export function recordAuditedConfig(dataDir: string, config: unknown): void {
  const tmp = `${snapshotFile(dataDir)}.tmp`;
  writeFileSync(tmp, JSON.stringify(scrub(config)), { mode: 0o600 });
  renameSync(tmp, snapshotFile(dataDir));
}

/** The configuration as it is audited: everything but secrets. */
export const auditable = (config: unknown): unknown => scrub(config);

/**
 * Writes each change of the configuration to the audit trail (21 CFR 11.10(e); GSP: settings are
 * records too): the first start records a baseline, later starts what changed while stopped, and
 * the running service what it picks up. One entry per change set, the first 200 paths listed.
 */
export class ConfigAuditor {
  private notesUsedUpTo = 0;

  constructor(
    private readonly deps: {
      audit: { append(entry: { actor: string; action: string; target: string; details: Record<string, unknown> }): Promise<unknown> };
      dataDir: string;
      file: string;
      log: { error(obj: object, msg: string): void };
    },
  ) {}

  async record(config: unknown, when: 'at start' | 'picked up while running'): Promise<void> {
    const { audit, dataDir, file } = this.deps;
    try {
      const previous = lastAuditedConfig(dataDir);
      const current = auditable(config);
      const changes = previous === undefined ? [] : diffConfig(previous, current);
      if (previous !== undefined && !changes.length) return;
      if (previous === undefined) await audit.append({ actor: 'system', action: 'config.baseline', target: file, details: { config: current } });
      else {
        const { actor, via, noteAt } = editAuthor(dataDir, this.notesUsedUpTo);
        if (noteAt) this.notesUsedUpTo = noteAt;
        await audit.append({ actor, action: 'config.change', target: file, details: { via, when, count: changes.length, changes: changes.slice(0, 200) } });
      }
      recordAuditedConfig(dataDir, config);
    } catch (err) {
      this.deps.log.error({ err: (err as Error).message }, 'a configuration change could not be written to the audit trail');
    }
  }
}
