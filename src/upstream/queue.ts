/**
 * The wait for a connection slot of one upstream server with a `maxConnections` limit. undici's Pool queues a
 * request that finds every connection busy with no timer at all, so a request behind slow responses waited
 * forever and got neither an answer nor an error (issue 20: 1000 slow readers held all 128 slots, 0 % of other
 * requests answered). The forwarder never hands undici more requests than the server has slots: past the limit a
 * request waits here, first in first out, at most `timeoutMs` and behind at most `maxLength` others, and is turned
 * away after that (503 with Retry-After, as HAProxy answers a `timeout queue`).
 */

/** A request waiting for a slot: started when one frees, turned away past the bound. */
export interface Waiter {
  /** A slot is free (the count already includes this request): send it. */
  start(): void;
  /** Not sent: the queue was full (`waitedMs` 0) or the wait reached the timeout. */
  turnAway(reason: 'queue full' | 'queue timeout', waitedMs: number): void;
}

interface Entry {
  waiter: Waiter;
  since: number;
  /** The client went away while it waited: skipped when its turn comes. */
  gone: boolean;
}

/** Slots of one server and the requests waiting for them; all O(1) per request but a timer per queue, not per request. */
export class SlotQueue {
  /** Requests sent to the server and not finished (the slots in use). */
  active = 0;
  readonly #limit: number;
  readonly #timeoutMs: number;
  readonly #maxLength: number;
  readonly #entries: Entry[] = [];
  /** Index of the first entry still in #entries (shifted lazily: no O(n) shift per request). */
  #head = 0;
  /** Waiting entries that are not gone. */
  #waiting = 0;
  #timer: NodeJS.Timeout | undefined;

  /** `limit`: slots (> 0); `timeoutMs`: longest wait (0: none, turned away at once); `maxLength`: most waiting. */
  constructor(limit: number, timeoutMs: number, maxLength: number) {
    this.#limit = limit;
    this.#timeoutMs = timeoutMs;
    this.#maxLength = maxLength;
  }

  /** Requests waiting now (for the admin's view and the tests). */
  get waiting(): number {
    return this.#waiting;
  }

  /**
   * Take a slot for `waiter`: `'now'` (send it), `'refused'` (the queue is full: `turnAway` has run), or a function
   * that takes it out of the queue (its client left), after which neither `start` nor `turnAway` is called.
   */
  acquire(waiter: Waiter): 'now' | 'refused' | (() => void) {
    if (this.active < this.#limit) {
      this.active++;
      return 'now';
    }
    if (this.#waiting >= this.#maxLength || this.#timeoutMs === 0) {
      waiter.turnAway('queue full', 0);
      return 'refused';
    }
    const entry: Entry = { waiter, since: performance.now(), gone: false };
    this.#entries.push(entry);
    this.#waiting++;
    this.#arm();
    return () => {
      if (entry.gone) return;
      entry.gone = true;
      this.#waiting--;
    };
  }

  /** A request that held a slot finished: the slot goes to the longest waiter, if any. */
  release(): void {
    this.active--;
    const next = this.#shift();
    if (next === undefined) return;
    this.active++;
    next.waiter.start();
  }

  /** The oldest live entry, removed; undefined when none waits. */
  #shift(): Entry | undefined {
    const entries = this.#entries;
    while (this.#head < entries.length) {
      const entry = entries[this.#head++] as Entry;
      if (entry.gone) continue;
      entry.gone = true;
      this.#waiting--;
      this.#compact();
      return entry;
    }
    this.#compact();
    return undefined;
  }

  #compact(): void {
    if (this.#head === this.#entries.length) {
      this.#entries.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries.splice(0, this.#head);
      this.#head = 0;
    }
    if (this.#waiting === 0 && this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  /** One timer, for the oldest waiter: entries are in arrival order, so the rest expire after it. */
  #arm(): void {
    if (this.#timer !== undefined) return;
    const oldest = this.#oldest();
    if (oldest === undefined) return;
    const due = oldest.since + this.#timeoutMs - performance.now();
    this.#timer = setTimeout(this.#expire, Math.max(0, Math.ceil(due)));
    this.#timer.unref();
  }

  #oldest(): Entry | undefined {
    const entries = this.#entries;
    for (let i = this.#head; i < entries.length; i++) if (!(entries[i] as Entry).gone) return entries[i];
    return undefined;
  }

  readonly #expire = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    const entries = this.#entries;
    const late: Entry[] = [];
    while (this.#head < entries.length) {
      const entry = entries[this.#head] as Entry;
      if (!entry.gone && now - entry.since < this.#timeoutMs) break;
      this.#head++;
      if (entry.gone) continue;
      entry.gone = true;
      this.#waiting--;
      late.push(entry);
    }
    this.#compact();
    this.#arm();
    for (const entry of late) entry.waiter.turnAway('queue timeout', Math.round(now - entry.since));
  };

  /** Turn away everyone still waiting (the upstream is being closed). */
  close(): void {
    const now = performance.now();
    for (let entry = this.#shift(); entry !== undefined; entry = this.#shift()) entry.waiter.turnAway('queue timeout', Math.round(now - entry.since));
  }
}
