import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';

/** fsync of a directory, so a rename or a new file in it survives a power loss. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Replaces `file` with `text`, atomically and durably: written to a draft beside it (readable by
 * the owner only), fsync'ed, renamed over it, the directory fsync'ed. A crash leaves the old file
 * or the new one, never half of one, and a power loss does not undo the rename.
 */
export function replaceFileDurably(file: string, text: string): void {
  const draft = `${file}.${process.pid}.tmp`;
  const fd = openSync(draft, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(draft, file);
  fsyncDir(path.dirname(path.resolve(file)));
}
