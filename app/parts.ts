import type { Logger } from '../core/logger.js';

/**
 * How a started part is stopped. `orderly` is true for a requested stop (let the writer flush,
 * let devices' in-flight publishes land) and false when a start failed half way (undo at once).
 */
export type StopPart = (orderly: boolean) => void | Promise<void>;

/**
 * The parts of a running service in the order they started. Whatever started is stopped in
 * reverse order, once: after a failed start as after a requested stop, so teardown is written
 * once, next to the start of each part.
 */
export class Parts {
  private readonly started: Array<{ name: string; stop: StopPart }> = [];
  private stopping: Promise<void> | undefined;

  constructor(private readonly log: Logger) {}

  /** Records a part that has started and how it stops; returns `value` so a start reads as one line. */
  add<T>(name: string, value: T, stop: (value: T, orderly: boolean) => void | Promise<void>): T {
    this.started.push({ name, stop: (orderly) => stop(value, orderly) });
    return value;
  }

  get names(): string[] {
    return this.started.map((p) => p.name);
  }

  /**
   * Stops every started part, last first. A part that fails to stop is logged and the rest still
   * stop; an orderly stop then rejects with the first such error.
   */
  stopAll(orderly: boolean): Promise<void> {
    this.stopping ??= (async () => {
      const failures: unknown[] = [];
      for (const part of [...this.started].reverse()) {
        try {
          await part.stop(orderly);
        } catch (err) {
          failures.push(err);
          this.log.warn({ part: part.name, err: (err as Error).message }, 'a part of the service did not stop cleanly');
        }
      }
      if (orderly && failures.length > 0) throw failures[0];
    })();
    return this.stopping;
  }
}
