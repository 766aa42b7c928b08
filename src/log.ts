/**
 * The pino root logger. Messages are constant phrases and details go in fields
 * (`log.info({ router }, 'router disabled')`). Secrets are redacted at this one place.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/** Field paths that may hold a secret: credentials, cookies, keys. Censored in every log line. */
export const REDACT_PATHS = [
  'headers.authorization',
  'headers["proxy-authorization"]',
  'headers.cookie',
  'headers["set-cookie"]',
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.password',
  '*.privateKey',
  '*.accountKey',
  'key',
  'privateKey',
  'accountKey',
];

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Where lines go; stdout by default. Tests pass a stream to read lines back. */
  destination?: NodeJS.WritableStream;
}

/** Create the root logger. `GATEHOUSE_LOG_LEVEL` overrides the configured level. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = (process.env['GATEHOUSE_LOG_LEVEL'] as LevelWithSilent | undefined) ?? options.level ?? 'info';
  const opts = {
    level,
    base: { name: 'gatehouse' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return options.destination ? pino(opts, options.destination) : pino(opts, pino.destination(STDOUT));
}

/**
 * stdout, written in batches: one write per line cost a thread-pool round trip per request (the access log was a
 * third of the proxy's CPU on small requests, bench/README.md). Lines wait for 8 KiB or at most 250 ms.
 */
const STDOUT = { dest: 1, sync: false, minLength: 8192, periodicFlush: 250 };

/** Write out what the logger holds in its buffer (before exit, or after a line an operator waits for). */
export function flushLog(log: Logger): Promise<void> {
  return new Promise((resolve) => {
    try {
      log.flush(() => resolve());
    } catch {
      resolve(); // a destination without flush support has nothing buffered
    }
  });
}
