/**
 * Loaded into the service with `--import` when the bench runs with BENCH_DIAG=<file>: garbage
 * collection pauses and event-loop stalls on a wall-clock timeline, written at exit, so the slow
 * alert samples (BENCH_ALERT_SAMPLES) can be laid beside them. Diagnosis only; not in figures.
 */
import { writeFileSync } from 'node:fs';
import { PerformanceObserver, monitorEventLoopDelay, performance } from 'node:perf_hooks';

const file = process.env.BENCH_DIAG;
if (file) {
  const gc: Array<[number, number, number]> = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gc.push([performance.timeOrigin + e.startTime, e.duration, (e as { detail?: { kind?: number } }).detail?.kind ?? 0]);
  }).observe({ entryTypes: ['gc'] });
  // A 5 ms timer: how late it fires is how long the loop was busy.
  const stalls: Array<[number, number]> = [];
  let last = performance.now();
  setInterval(() => {
    const now = performance.now();
    if (now - last > 10) stalls.push([performance.timeOrigin + last, now - last - 5]);
    last = now;
  }, 5).unref();
  const histogram = monitorEventLoopDelay({ resolution: 2 });
  histogram.enable();
  process.on('exit', () => {
    writeFileSync(
      file,
      JSON.stringify({
        gc,
        stalls,
        loopDelay: { p50: histogram.percentile(50) / 1e6, p99: histogram.percentile(99) / 1e6, max: histogram.max / 1e6 },
      }),
    );
  });
}
