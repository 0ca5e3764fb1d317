import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/**
 * On Linux a thread has its own nice value: the calling thread (a worker) yields the CPU to the
 * main thread, which acknowledges devices' readings. Elsewhere, or without /proc, it runs at the
 * process's priority.
 */
export function lowerThisThreadPriority(nice = 10): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, nice);
  } catch {
    // not Linux, or /proc not mounted
  }
}
