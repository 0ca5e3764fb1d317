import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/** Structured JSON logs on stderr, so stdout stays free for command output (tokens, tables). */
export function createLogger(level: LevelWithSilent = 'info', name = 'coldchain'): Logger {
  return pino({ name, level: process.env.COLDCHAIN_LOG_LEVEL ?? level }, pino.destination({ fd: 2, sync: false }));
}
