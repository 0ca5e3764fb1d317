import { readdirSync, readFileSync } from 'node:fs';

/**
 * Every thread of every process on the machine, with its CPU time and its time waiting for a CPU
 * (`/proc/<pid>/task/<tid>/schedstat`, nanoseconds). Two snapshots around a window say who ran in
 * it and who waited: diagnosis only (BENCH_BOARD_THREADS), not in figures.
 */
export type ThreadTimes = Map<string, { name: string; runNs: number; waitNs: number }>;

export function threadTimes(): ThreadTimes {
  const out: ThreadTimes = new Map();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let process = '';
    let tids: string[];
    try {
      process = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        const [run, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
        const thread = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
        out.set(`${pid}/${tid}`, { name: `${process}[${pid}]/${thread}`, runNs: run!, waitNs: wait! });
      } catch {
        // The thread ended between the listing and the read.
      }
    }
  }
  return out;
}

/** The threads that ran or waited most between two snapshots, in ms, busiest first. */
export function busiestBetween(before: ThreadTimes, after: ThreadTimes, top = 12): Array<{ thread: string; ranMs: number; waitedMs: number }> {
  const rows: Array<{ thread: string; ranMs: number; waitedMs: number }> = [];
  for (const [key, now] of after) {
    const then = before.get(key) ?? { runNs: 0, waitNs: 0 };
    const ranMs = (now.runNs - then.runNs) / 1e6;
    const waitedMs = (now.waitNs - then.waitNs) / 1e6;
    if (ranMs + waitedMs >= 0.5) rows.push({ thread: now.name, ranMs: Math.round(ranMs * 10) / 10, waitedMs: Math.round(waitedMs * 10) / 10 });
  }
  return rows.sort((a, b) => b.ranMs + b.waitedMs - (a.ranMs + a.waitedMs)).slice(0, top);
}
