import { pino, type Logger } from 'pino';

/**
 * Structured logs (pino, JSON lines on stdout). `ORDO_LOG_LEVEL` sets the level (default `info`);
 * tests run with `warn` so that the suite's output stays readable.
 */
export function createLogger(name: string): Logger {
  return pino({ name, level: process.env.ORDO_LOG_LEVEL ?? 'info', base: { pid: process.pid } });
}

export type { Logger };
