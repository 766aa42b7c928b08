/**
 * A log line that may be wanted once per datagram (a flood past the session limit, a port nobody routes) is written
 * at most once per interval, with how many times it was suppressed since the last one: the operator learns of it,
 * and a flood cannot turn into a flood of log lines.
 */
import type { Logger } from '../log.js';

/** At most one line per `intervalMs` for one event; `count()` every occurrence, `flush` writes when due. */
export class ThrottledLog {
  readonly #intervalMs: number;
  #lastAt = -Infinity;
  #since = 0;

  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs;
  }

  /**
   * One occurrence; writes `message` with `fields` and `occurrences` (since the last line, this one included) when the
   * interval has passed since the last line.
   */
  count(log: Logger, level: 'warn' | 'info', fields: Record<string, unknown>, message: string, now: number): void {
    this.#since++;
    if (now - this.#lastAt < this.#intervalMs) return;
    log[level]({ ...fields, occurrences: this.#since }, message);
    this.#lastAt = now;
    this.#since = 0;
  }
}
