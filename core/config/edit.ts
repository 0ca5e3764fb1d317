import { readFileSync, writeFileSync, openSync, closeSync, unlinkSync, statSync } from 'node:fs';
import { parseDocument, isSeq, type Document } from 'yaml';
import { replaceFileDurably } from '../durable.js';
import { parseConfigText } from './load.js';
import type { Config } from './schema.js';

/** How long an edit waits for another one (another CLI command, the service) to finish. */
const LOCK_WAIT_MS = 10_000;

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes `<file>.lock` (created exclusively, holding our pid) and returns its release. A lock
 * whose process is gone (killed mid-edit) is taken over; a live one is waited for, and refused
 * only when the same process has held it for LOCK_WAIT_MS (a stuck editor, not a queue of them).
 */
function lock(file: string): () => void {
  const lockFile = `${file}.lock`;
  let holderSeen = Number.NaN;
  let deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const fd = openSync(lockFile, 'wx', 0o600);
      writeFileSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => unlinkSync(lockFile);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = holderOf(lockFile);
    if (holder === undefined) continue; // released meanwhile
    // An empty lock file is one being written this instant. A dead holder's lock is stale, and so is
    // one naming us: edits are synchronous, so it is from an earlier process that had our pid.
    if (Number.isInteger(holder) && (holder === process.pid || !alive(holder))) {
      takeOver(lockFile, holder);
      continue;
    }
    if (!Object.is(holder, holderSeen)) {
      holderSeen = holder;
      deadline = Date.now() + LOCK_WAIT_MS;
    }
    if (Date.now() > deadline)
      throw new Error(
        `${file} is being edited by another process (pid ${Number.isNaN(holder) ? '?' : holder}, ${lockFile}); try again, or remove the lock file if no coldchain command is running`,
      );
    sleepSync(25);
  }
}

/** The pid in a lock file (NaN while it is being written), or undefined when there is none. */
function holderOf(lockFile: string): number | undefined {
  try {
    return Number.parseInt(readFileSync(lockFile, 'utf8'), 10);
  } catch {
    return undefined;
  }
}

/**
 * Removes a stale lock, under `<lock>.takeover`: two processes that both found the same dead
 * holder would otherwise each remove "its" lock, the second removing the fresh lock the first had
 * taken meanwhile, and both would edit. The takeover file lives for two syscalls; one left by a
 * process killed in between is removed once it is a few seconds old.
 */
function takeOver(lockFile: string, staleHolder: number): void {
  const mutex = `${lockFile}.takeover`;
  let fd: number;
  try {
    fd = openSync(mutex, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    try {
      if (Date.now() - statSync(mutex).mtimeMs > 5000) unlinkSync(mutex);
    } catch {
      /* gone meanwhile */
    }
    sleepSync(5);
    return;
  }
  try {
    // Still the dead holder's: nobody can have replaced it, since only a takeover removes it.
    if (holderOf(lockFile) === staleHolder) unlinkSync(lockFile);
  } finally {
    closeSync(fd);
    unlinkSync(mutex);
  }
}

/**
 * Edits the YAML config in place, keeping the operator's comments and layout, and refuses to
 * write a result that would not validate. One edit at a time (an exclusive `<file>.lock`: two
 * concurrent edits each read the old file and the second would drop the first's change), read
 * under the lock; the file is replaced atomically and durably (the new file fsync'ed, renamed
 * over the old, then the directory fsync'ed so the rename itself is on disk).
 */
export function editConfig(file: string, mutate: (doc: Document, current: Config) => void): Config {
  const release = lock(file);
  try {
    const text = readFileSync(file, 'utf8');
    const current = parseConfigText(text, file);
    const doc = parseDocument(text);
    mutate(doc, current);
    const next = doc.toString({ lineWidth: 0 });
    const config = parseConfigText(next, file);
    replaceFileDurably(file, next);
    return config;
  } finally {
    release();
  }
}

/** Appends to a top-level list, creating it when the file has none yet. */
export function appendToList(doc: Document, key: string, item: Record<string, unknown>): void {
  const list = doc.get(key);
  if (isSeq(list)) {
    // "devices: []" from the sample is a flow list; grow it as a block list, one entry per item.
    list.flow = false;
    list.add(doc.createNode(item));
  } else doc.set(key, doc.createNode([item]));
}
