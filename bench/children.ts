import type { ChildProcess } from 'node:child_process';

/**
 * The processes a bench run starts (services, simulators, Mosquitto, Redis, HAProxy). A run
 * stopped by a signal (Ctrl-C, a timeout's kill) ends them too: a service left behind keeps
 * retrying its InfluxDB for as long as the machine runs, and loads the next measurement.
 */
const children = new Set<ChildProcess>();
const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const;
let listening = false;

export function own<T extends ChildProcess>(child: T): T {
  children.add(child);
  child.once('exit', () => children.delete(child));
  if (!listening) {
    listening = true;
    for (const signal of Object.keys(SIGNALS) as Array<keyof typeof SIGNALS>)
      process.once(signal, () => {
        for (const running of children) running.kill('SIGTERM');
        process.exit(128 + SIGNALS[signal]);
      });
  }
  return child;
}
