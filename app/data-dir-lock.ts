import { mkdirSync, chmodSync, readFileSync, writeFileSync, writeSync, linkSync, openSync, closeSync, unlinkSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';

/** A takeover guard older than this was left by a process that died in the middle of one (they take microseconds). */
const ABANDONED_GUARD_MS = 10_000;
const MAX_ATTEMPTS = 200;

const codeOf = (err: unknown) => (err as NodeJS.ErrnoException).code;

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function readIfPresent(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if (codeOf(err) === 'ENOENT') return undefined;
    throw err;
  }
}

function unlinkIfPresent(file: string): void {
  try {
    unlinkSync(file);
  } catch (err) {
    if (codeOf(err) !== 'ENOENT') throw err;
  }
}

/** The live process a lock file names; undefined when it names nobody alive (or ourselves: a pid reused after a restart). */
function liveHolder(content: string): number | undefined {
  const pid = Number(content);
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    // EPERM: alive, just not ours to signal.
    return codeOf(err) === 'EPERM' ? pid : undefined;
  }
}

/** Hard-links the finished draft into place; on a filesystem without hard links, an exclusive create does (briefly empty). */
function placeLock(draft: string, file: string): void {
  try {
    linkSync(draft, file);
  } catch (err) {
    if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP'].includes(codeOf(err) ?? '')) throw err;
    const fd = openSync(file, 'wx');
    try {
      writeSync(fd, String(process.pid));
    } finally {
      closeSync(fd);
    }
  }
}

/** Empty and just created: a process on a filesystem without hard links between its create and its write. */
function beingWritten(file: string, content: string): boolean {
  if (content !== '') return false;
  try {
    return Date.now() - statSync(file).mtimeMs < 1000;
  } catch {
    return false;
  }
}

/**
 * Two services on one spool would interleave segments; the second one is refused with a clear
 * message. The pid file is written whole under a private name and hard-linked into place, and
 * link(2) fails when the name exists: of processes starting together exactly one gets it, and
 * nobody ever sees it half-written. A file naming a dead process is removed only under a
 * takeover guard (itself created exclusively) and after reading it again there, so two
 * processes finding the same stale file cannot both remove it (the second would remove the
 * first one's fresh lock).
 */
export function lockDataDir(dataDir: string): () => void {
  // Readings, audit trail, keys and the managed influxd's credentials: the owner's alone (issue 12,
  // item 16). A directory made by an earlier version, or by hand with the usual umask, is closed too.
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  try {
    chmodSync(dataDir, 0o700);
  } catch (err) {
    throw new Error(`cannot make data directory ${dataDir} private (mode 0700): ${(err as Error).message}`);
  }
  const file = path.join(dataDir, 'coldchain.pid');
  const guard = `${file}.takeover`;
  const draft = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  const fail = (err: unknown) => new Error(`cannot lock data directory ${dataDir}: ${(err as Error).message}`);
  try {
    writeFileSync(draft, String(process.pid), { mode: 0o600 });
  } catch (err) {
    throw fail(err);
  }
  try {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      try {
        placeLock(draft, file);
        return () => {
          try {
            if (readFileSync(file, 'utf8') === String(process.pid)) unlinkSync(file);
          } catch {
            // already gone
          }
        };
      } catch (err) {
        if (codeOf(err) !== 'EEXIST') throw fail(err);
      }
      const content = readIfPresent(file);
      if (content === undefined) continue;
      const pid = liveHolder(content);
      if (pid !== undefined) throw new Error(`data directory ${dataDir} is in use by another coldchain process (pid ${pid}); stop it or pass --data-dir`);
      if (beingWritten(file, content)) {
        pause(10);
        continue;
      }
      try {
        closeSync(openSync(guard, 'wx'));
      } catch (err) {
        if (codeOf(err) !== 'EEXIST') throw fail(err);
        try {
          if (Date.now() - statSync(guard).mtimeMs > ABANDONED_GUARD_MS) unlinkIfPresent(guard);
        } catch (statErr) {
          if (codeOf(statErr) !== 'ENOENT') throw fail(statErr);
        }
        pause(5 + Math.random() * 10);
        continue;
      }
      try {
        // Someone may have taken the stale lock over since we read it; only a file still naming nobody goes.
        const current = readIfPresent(file);
        if (current !== undefined && liveHolder(current) === undefined && !beingWritten(file, current)) unlinkIfPresent(file);
      } finally {
        unlinkIfPresent(guard);
      }
    }
    throw new Error(`cannot lock data directory ${dataDir}: ${file} kept changing over ${MAX_ATTEMPTS} attempts; is something else rewriting it?`);
  } finally {
    unlinkIfPresent(draft);
  }
}
