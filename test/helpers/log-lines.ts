/**
 * Reading gatehouse's pino output back: one JSON object per line. Lines that are not JSON (a stack trace printed
 * by Node before the logger exists) are kept as `{ msg: <raw text>, raw: true }` so a failing test can show them.
 */

/** One parsed log line. pino's fields are typed loosely on purpose: tests assert on them. */
export interface LogLine {
  level?: string;
  msg?: string;
  raw?: boolean;
  [field: string]: unknown;
}

/** Parse one line of output; never throws. */
export function parseLogLine(text: string): LogLine {
  try {
    const value: unknown = JSON.parse(text);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as LogLine;
  } catch {
    // fall through: not JSON
  }
  return { msg: text, raw: true };
}

/**
 * Splits a byte stream into lines as chunks arrive, keeping a partial last line until its newline comes;
 * a pipe may cut a JSON line anywhere.
 */
export class LineSplitter {
  #pending = '';

  /** Feed a chunk; returns the complete lines it finished (without the newline, blank lines dropped). */
  push(chunk: string): string[] {
    const text = this.#pending + chunk;
    const parts = text.split('\n');
    this.#pending = parts.pop() ?? '';
    return parts.filter((p) => p.trim() !== '');
  }

  /** The unterminated rest, once the stream has ended. */
  flush(): string[] {
    const rest = this.#pending;
    this.#pending = '';
    return rest.trim() === '' ? [] : [rest];
  }
}

/** The lines whose `msg` equals `msg`, optionally also matching every given field by strict equality. */
export function linesWith(lines: readonly LogLine[], msg: string, fields: Record<string, unknown> = {}): LogLine[] {
  return lines.filter((l) => l.msg === msg && Object.entries(fields).every(([k, v]) => l[k] === v));
}

/** A compact dump of lines for assertion messages, so a failure shows what gatehouse actually said. */
export function describeLines(lines: readonly LogLine[], max = 40): string {
  const tail = lines.slice(-max);
  return tail.map((l) => (l.raw ? String(l.msg) : JSON.stringify(l))).join('\n');
}
