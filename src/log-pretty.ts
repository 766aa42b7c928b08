/**
 * gatehouse's human log format (`log.format: pretty`): each pino JSON line rewritten as
 * `HH:MM:SS.mmm LEVEL message key=value …`, for a person at a terminal. The JSON line stays the source: the same
 * logger, redaction and access-log serializer write it, and this sink only re-renders it, so both formats always
 * carry the same fields. pino-pretty does the same with 13 dependencies and a worker; this is one small module.
 */

/** Where rendered lines go: the stdout or file sink the JSON would have gone to. */
export interface LineDestination {
  write(line: string): unknown;
  flush?(cb?: (err?: Error | null) => void): unknown;
}

/** Fields every line has, shown in the head rather than as key=value (or left out: `name` is always gatehouse). */
const HEAD = new Set(['level', 'time', 'msg', 'name']);

const LEVEL_TEXT: Record<string, string> = { trace: 'TRACE', debug: 'DEBUG', info: 'INFO ', warn: 'WARN ', error: 'ERROR', fatal: 'FATAL' };
/** ANSI colours by level (only when the destination is a terminal and NO_COLOR is unset). */
const LEVEL_COLOUR: Record<string, string> = { trace: '90', debug: '36', info: '32', warn: '33', error: '31', fatal: '35' };

/** A value shown bare when it has no space, quote, `=` or control character; else as JSON. */
const BARE = /^[^\s"=\\\x00-\x1f\x7f]+$/;

/** Renders one parsed line. Exported for tests and for `gatehouse` tools that print log lines. */
export function renderPretty(entry: Record<string, unknown>, colour = false): string {
  const level = typeof entry['level'] === 'string' ? entry['level'] : 'info';
  const time = typeof entry['time'] === 'string' ? entry['time'].slice(11, 23) : '';
  const label = LEVEL_TEXT[level] ?? level.toUpperCase().padEnd(5);
  let out = `${time} ${colour ? `\x1b[${LEVEL_COLOUR[level] ?? '0'}m${label}\x1b[0m` : label} ${String(entry['msg'] ?? '')}`;
  if (entry['name'] !== undefined && entry['name'] !== 'gatehouse') out += ` name=${value(entry['name'])}`;
  let stack: string | undefined;
  for (const key in entry) {
    if (HEAD.has(key)) continue;
    const v = entry[key];
    if (v === undefined) continue;
    if (key === 'err' && v !== null && typeof v === 'object') {
      // An error object (a bug, not an operational failure): its message inline, its stack below the line.
      const err = v as { message?: unknown; stack?: unknown };
      out += ` err=${value(err.message)}`;
      if (typeof err.stack === 'string') stack = err.stack;
      continue;
    }
    out += ` ${colour ? `\x1b[2m${key}=\x1b[0m` : `${key}=`}${value(v)}`;
  }
  if (stack !== undefined) out += `\n    ${stack.split('\n').join('\n    ')}`;
  return `${out}\n`;
}

function value(v: unknown): string {
  if (typeof v === 'string') return v !== '' && BARE.test(v) ? v : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v) ?? String(v);
}

/**
 * A pino destination that renders each JSON line it receives (one `write` per line) and passes it to `to`. A line
 * that is not JSON is passed on as it is.
 */
export class PrettySink implements LineDestination {
  constructor(
    private readonly to: LineDestination,
    private readonly colour: boolean,
  ) {}

  write(line: string): boolean {
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      this.to.write(line);
      return true;
    }
    this.to.write(entry !== null && typeof entry === 'object' ? renderPretty(entry as Record<string, unknown>, this.colour) : line);
    return true;
  }

  flush(cb?: (err?: Error | null) => void): void {
    if (this.to.flush) this.to.flush(cb);
    else cb?.();
  }
}
