import { mkdirSync, readFileSync, writeSync, openSync, closeSync, unlinkSync } from 'node:fs';
import path from 'node:path';

function holder(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8'));
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
    process.kill(pid, 0);
    return pid;
  } catch {
    // no file, unreadable, or no such process: nobody holds it
    return undefined;
  }
}

/**
 * Two services on one spool would interleave segments; the second one is refused with a clear
 * message. The pid file is created exclusively (O_EXCL), so of two processes starting at the
 * same moment exactly one gets it; a file left by a process that died is taken over.
 */
export function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, 'coldchain.pid');
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = holder(file);
      // A pid file still empty may be a competitor between its create and its write.
      if (pid !== undefined || attempt >= 3) throw new Error(`data directory ${dataDir} is in use by another coldchain process${pid ? ` (pid ${pid})` : ''}; stop it or pass --data-dir`);
      if (readFileSync(file, 'utf8') === '' && attempt === 0) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
        continue;
      }
      try {
        unlinkSync(file);
      } catch {
        // a competitor removed it first
      }
    }
  }
  return () => {
    try {
      if (readFileSync(file, 'utf8') === String(process.pid)) unlinkSync(file);
    } catch {
      // already gone
    }
  };
}
