/**
 * The pino root logger. Messages are constant phrases and details go in fields
 * (`log.info({ router }, 'router disabled')`). Secrets are redacted at this one place.
 */
import { mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino, type Logger, type LevelWithSilent } from 'pino';
import { LineSink } from './line-sink.js';
import { PrettySink, type LineDestination } from './log-pretty.js';

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
  /** Where lines go; stdout (or `file`) by default. Tests pass a stream to read lines back. */
  destination?: NodeJS.WritableStream;
  /**
   * `json` (one object per line) or `pretty` (src/log-pretty.ts). Default: pretty when the lines go to a terminal,
   * JSON otherwise (a pipe, a file, journald, a collector).
   */
  format?: 'json' | 'pretty';
  /** A file the lines are appended to instead of stdout (created 0640), reopened by `reopenLogFiles()`. */
  file?: string;
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
  const sink: LineDestination = options.destination ?? (options.file !== undefined ? fileSink(options.file) : stdoutSink());
  const toTerminal = options.destination === undefined && options.file === undefined && process.stdout.isTTY === true;
  const pretty = (options.format ?? (toTerminal ? 'pretty' : 'json')) === 'pretty';
  // https://no-color.org: any non-empty NO_COLOR turns colours off.
  const destination = pretty ? new PrettySink(sink, toTerminal && !process.env['NO_COLOR']) : sink;
  return pino(opts, destination as NodeJS.WritableStream);
}

/** The open log files by path: one sink each, shared by every logger that writes there. */
const files = new Map<string, LineSink>();

/**
 * A log file, opened for appending (its directory made if missing) and created with mode 0640 (group-readable for
 * a log reader group, like /var/log's). Written in batches like stdout (a LineSink: sonic-boom, pino.destination's
 * sink, cost 2.4 µs per line against 0.75, bench/experiments/README.md), flushed synchronously at exit.
 */
function fileSink(path: string): LineSink {
  let sink = files.get(path);
  if (sink === undefined) {
    const created = new LineSink(openLogFile(path), STDOUT);
    process.once('exit', () => created.flushSync());
    files.set(path, created);
    sink = created;
  }
  return sink;
}

function openLogFile(path: string): number {
  mkdirSync(dirname(path), { recursive: true });
  return openSync(path, 'a', 0o640);
}

/**
 * Reopens every log file at its path (SIGUSR1, after logrotate renamed it: `postrotate kill -USR1`); lines written
 * before go to the renamed file, none is lost. Returns the paths reopened; throws if one cannot be opened (that
 * file keeps its old descriptor).
 */
export function reopenLogFiles(): string[] {
  for (const [path, sink] of files) sink.reopen(openLogFile(path));
  return [...files.keys()];
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
