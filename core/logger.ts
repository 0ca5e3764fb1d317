import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/**
 * Structured JSON logs on stderr, so stdout stays free for command output (tokens, tables).
 * The CLI passes `$COLDCHAIN_LOG_LEVEL` in (core/env.ts); nothing here reads the environment.
 */
export function createLogger(level: LevelWithSilent = 'info', name = 'coldchain'): Logger {
  return pino({ name, level }, pino.destination({ fd: 2, sync: false }));
}
