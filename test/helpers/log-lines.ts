/**
 * Reading gatehouse's pino output back: one JSON object per line. Lines that are not JSON (a stack trace printed
 * by Node before the logger exists) are kept as `{ msg: <raw text>, raw: true }` so a failing test can show them.
 */

/** One parsed log line. pino's fields are typed loosely on purpose: tests assert on them. */
export interface LogLine {
  level?: string;
  msg?: string;
  raw?: boolean;
  /** Top-level keys the line holds more than once (JSON.parse keeps the last silently); absent when none. */
  duplicateKeys?: string[];
  [field: string]: unknown;
}

/** Parse one line of output; never throws. */
export function parseLogLine(text: string): LogLine {
  try {
    const value: unknown = JSON.parse(text);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const line = value as LogLine;
      const twice = duplicateKeys(text);
      if (twice.length > 0) line.duplicateKeys = twice;
      return line;
    }
  } catch {
    // fall through: not JSON
  }
  return { msg: text, raw: true };
}

/** The top-level keys of a JSON object's text that occur more than once (`text` is known to parse). */
export function duplicateKeys(text: string): string[] {
  const seen = new Set<string>();
  const twice: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (seen.has(key)) twice.push(key);
        seen.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === '{' || c === '[') {
      depth++;
      expectKey = depth === 1;
    } else if (c === '}' || c === ']') {
      depth--;
    } else if (c === ',') {
      expectKey = depth === 1;
    }
  }
  return twice;
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
