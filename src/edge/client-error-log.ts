/**
 * The `client error` lines of an entry point (a head that does not parse, too many header lines, a header timeout),
 * bounded: a flood of bad requests must not become a flood of log lines (issue 20: 50 connections sending 1000-line
 * heads were refused 1800 times a second, each with its line, filling the disk of whoever keeps the log). The first
 * CLIENT_ERROR_LINES of every CLIENT_ERROR_WINDOW_MS are logged one by one, as before; past them, the errors are
 * counted by code and summed up in one `client errors not logged one by one` line when the window ends.
 * One budget per entry point and logger (the HTTP/1.1 and HTTP/2 servers of an entry point share it).
 */
import type { Logger } from '../log.js';

/** Lines logged one by one per window and entry point. */
export const CLIENT_ERROR_LINES = 20;
/** The window, and so the longest a summed-up error waits for its line. */
export const CLIENT_ERROR_WINDOW_MS = 10_000;

/** Logs one client error (fields beside `entryPoint` and `code`), or counts it once the window's lines are spent. */
export type ClientErrorLog = (code: string, fields: Record<string, unknown>) => void;

const budgets = new WeakMap<Logger, Map<string, ClientErrorLog>>();

/** The client-error log of `entryPoint` on `log` (the same function for every caller with the same two). */
export function clientErrorLog(log: Logger, entryPoint: string): ClientErrorLog {
  let byEntryPoint = budgets.get(log);
  if (byEntryPoint === undefined) {
    byEntryPoint = new Map();
    budgets.set(log, byEntryPoint);
  }
  let logError = byEntryPoint.get(entryPoint);
  if (logError === undefined) {
    logError = createClientErrorLog(log, entryPoint);
    byEntryPoint.set(entryPoint, logError);
  }
  return logError;
}

function createClientErrorLog(log: Logger, entryPoint: string): ClientErrorLog {
  let windowStart = -Infinity;
  let logged = 0;
  let counts: Record<string, number> = {};
  let notLogged = 0;
  let timer: NodeJS.Timeout | undefined;
  const summarize = (): void => {
    timer = undefined;
    if (notLogged === 0) return;
    log.info({ entryPoint, errors: notLogged, codes: counts, windowMs: CLIENT_ERROR_WINDOW_MS }, 'client errors not logged one by one');
    notLogged = 0;
    counts = {};
  };
  return (code, fields) => {
    const now = performance.now();
    if (now - windowStart >= CLIENT_ERROR_WINDOW_MS) {
      windowStart = now;
      logged = 0;
    }
    if (logged < CLIENT_ERROR_LINES) {
      logged++;
      log.info({ entryPoint, code, ...fields }, 'client error');
      return;
    }
    notLogged++;
    counts[code] = (counts[code] ?? 0) + 1;
    if (timer === undefined) {
      timer = setTimeout(summarize, Math.max(1, windowStart + CLIENT_ERROR_WINDOW_MS - now));
      timer.unref();
    }
  };
}
