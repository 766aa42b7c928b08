/**
 * The pino root logger. Messages are constant phrases and details go in fields
 * (`log.info({ router }, 'router disabled')`). Secrets are redacted at this one place.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';
import { LineSink } from './line-sink.js';

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
  return pino(opts, options.destination ?? stdoutSink());
}

/**
 * stdout, written in batches: one write per line cost a thread-pool round trip per request, and sonic-boom's
 * string batching cost more than the line itself (src/line-sink.ts). Lines wait for 8 KiB or at most 250 ms.
 */
const STDOUT = { batchBytes: 8192, flushMs: 250 };

let stdout: LineSink | undefined;

/** The one sink on fd 1, shared by every logger so their lines keep their order; flushed synchronously at exit. */
function stdoutSink(): LineSink {
  if (stdout === undefined) {
    const sink = new LineSink(1, STDOUT);
    process.once('exit', () => sink.flushSync());
    stdout = sink;
  }
  return stdout;
}

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
