/**
 * The wait for a connection's first byte, kept out of the HTTP server and the ClientHello peek. A connection that has
 * sent nothing costs a socket and one map entry here, not a parser, timers and listeners; one that sends nothing
 * before its deadline is closed without an answer (there is no request to answer) and without a log line of its own:
 * the closes are counted and summed up in one line at most every SUMMARY_INTERVAL_MS.
 *
 * The closing is spread out (issue 20, row 4): an idle flood of thousands of connections accepted together reaches
 * its deadline together, and closing them in one synchronous pass (as Node's http server expires its header timeout,
 * writing a 408 and a log line to each) stalls every legitimate request behind it. Here CLOSE_BATCH are closed at a
 * time, CLOSE_PAUSE_MS apart (about 2000 a second), with I/O in between. The pace matters as much as the batch: an
 * attacker reopens every connection the moment it is closed, and each reopened one is a Node socket to build at the
 * next accept, so closing as fast as the loop turns (one batch per turn, before) brought the whole flood back at
 * once (legitimate p99 on the TLS port 40–64 ms; paced: 20 ms).
 *
 * A silent connection is closed with a reset (SO_LINGER 0), as nginx's `reset_timedout_connection`: the kernel frees
 * it at once instead of keeping it in TIME_WAIT for a minute on this side (a flood reopened as fast as it is closed
 * would fill the host's TIME_WAIT table), and there is no request whose answer a reset could cut short.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../log.js';

/** Connections closed at a time: well under a millisecond of work. */
export const CLOSE_BATCH = 8;
/** The pause between two batches of closes. */
export const CLOSE_PAUSE_MS = 4;
/** Deadlines this close together are handled in one wake-up (a flood is accepted over a few milliseconds). */
const COALESCE_MS = 20;
/** At most one summary line per entry point in this time. */
export const SUMMARY_INTERVAL_MS = 10_000;
/** A summary waits this long after its first close, so one flood's closes are summed up in one line. */
const SETTLE_MS = 1_000;

/** Holds fresh connections until they speak. */
export interface FirstByteGate {
  /**
   * Take a fresh socket (paused, as `pauseOnConnect` leaves it): when its first bytes arrive they are put back into
   * it, it is paused again with none of the gate's listeners, and `onFirstByte(socket, remainingMs)` gets it, with
   * the time left of its deadline. If nothing arrives before the deadline, it is closed.
   */
  admit(socket: Socket): void;
  /** Connections waiting for their first byte now. */
  waiting(): number;
  /** Close every waiting connection (the entry point is closing); stops the gate's timers. */
  closeWaiting(): void;
}

export interface FirstByteGateOptions {
  readonly entryPoint: string;
  /** How long a connection may stay silent; 0 waits forever. */
  readonly timeoutMs: number;
  readonly log: Logger;
  readonly onFirstByte: (socket: Socket, remainingMs: number) => void;
}

/** A gate for one entry point. */
export function createFirstByteGate(opts: FirstByteGateOptions): FirstByteGate {
  const { entryPoint, timeoutMs, log, onFirstByte } = opts;
  const limited = timeoutMs > 0;
  // Insertion order is deadline order (one timeout for all), so the oldest are first and a sweep stops at the
  // first connection not yet due.
  const waiting = new Map<Socket, number>();
  let timer: NodeJS.Timeout | undefined;
  let sweeping = false;
  let closedSinceSummary = 0;
  let firstClose = 0;
  let lastSummary = -Infinity;
  let summaryTimer: NodeJS.Timeout | undefined;

  // One set of listeners for every socket of the gate (`this` is the socket): nothing allocated per connection.
  function onData(this: Socket, chunk: Buffer): void {
    const deadline = waiting.get(this) ?? Infinity;
    release(this);
    this.pause();
    this.unshift(chunk);
    onFirstByte(this, limited ? Math.max(1, deadline - performance.now()) : 0);
  }
  function onGone(this: Socket): void {
    // The client left (or its socket failed) before speaking: nothing to answer, nothing to log. A half-close
    // ('end') would otherwise leave our side open, as the listeners allow half-open sockets.
    release(this);
    this.destroy();
  }
  const release = (socket: Socket): void => {
    waiting.delete(socket);
    socket.off('data', onData);
    socket.off('end', onGone);
    socket.off('close', onGone);
    socket.off('error', onGone);
  };

  const schedule = (): void => {
    if (!limited || timer !== undefined || sweeping || waiting.size === 0) return;
    const first = waiting.values().next().value as number;
    timer = setTimeout(sweep, Math.max(0, first - performance.now()) + COALESCE_MS);
    timer.unref();
  };

  const sweep = (): void => {
    timer = undefined;
    sweeping = false;
    const now = performance.now();
    let closed = 0;
    for (const [socket, deadline] of waiting) {
      if (deadline > now) break;
      if (closed === CLOSE_BATCH) {
        // More are due: let I/O run (and the attacker's reopened connections arrive a few at a time), then carry on.
        sweeping = true;
        timer = setTimeout(sweep, CLOSE_PAUSE_MS);
        timer.unref();
        closedSinceSummary += closed;
        return;
      }
      release(socket);
      // An error of the close itself has no one to tell: swallow it rather than crash.
      socket.on('error', ignore);
      reset(socket);
      if (closedSinceSummary === 0 && closed === 0) firstClose = now;
      closed++;
    }
    closedSinceSummary += closed;
    summarize(now);
    schedule();
  };

  const summarize = (now: number): void => {
    if (closedSinceSummary === 0 || summaryTimer !== undefined) return;
    const due = Math.max(lastSummary + SUMMARY_INTERVAL_MS, firstClose + SETTLE_MS) - now;
    if (due > 0) {
      summaryTimer = setTimeout(() => {
        summaryTimer = undefined;
        summarize(performance.now());
      }, due);
      summaryTimer.unref();
      return;
    }
    lastSummary = now;
    log.info({ entryPoint, connections: closedSinceSummary, waitedMs: timeoutMs }, 'connections closed before sending anything');
    closedSinceSummary = 0;
  };

  return {
    admit(socket) {
      waiting.set(socket, limited ? performance.now() + timeoutMs : Infinity);
      socket.on('data', onData);
      socket.on('end', onGone);
      socket.on('close', onGone);
      socket.on('error', onGone);
      socket.resume();
      schedule();
    },
    waiting: () => waiting.size,
    closeWaiting() {
      clearTimeout(timer);
      timer = undefined;
      sweeping = false;
      for (const socket of waiting.keys()) {
        release(socket);
        socket.on('error', ignore);
        socket.destroy();
      }
      clearTimeout(summaryTimer);
      summaryTimer = undefined;
    },
  };
}

function ignore(): void {}

/** Close with a reset; a socket that is not TCP (resetAndDestroy throws ERR_INVALID_HANDLE_TYPE) is just destroyed. */
function reset(socket: Socket): void {
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}
