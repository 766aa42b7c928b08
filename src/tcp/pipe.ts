/**
 * Joins two connected sockets into one byte stream both ways, the way a TLS passthrough needs it: nothing is
 * read or changed, each direction obeys the other side's backpressure, a half-close travels across, and the
 * whole thing ends exactly once with one report of what happened.
 */
import type { Socket } from 'node:net';

/**
 * How a joined pair ended, as the per-connection log line reports it: the side that closed first, an error on one
 * side, no byte either way for the idle timeout, cut by a reload that removed its router or by shutdown, or torn
 * down without an error (a reset seen only as a close).
 */
export type PipeEnd = 'client-closed' | 'backend-closed' | 'idle-timeout' | 'client-error' | 'backend-error' | 'reload-cut' | 'shutdown' | 'aborted';

/** What one joined pair did; given to `onDone` once, when both sockets are closed. */
export interface PipeResult {
  readonly end: PipeEnd;
  /** Bytes read from the client after the pipe started (the replayed bytes are not counted here). */
  readonly bytesUp: number;
  /** Bytes read from the backend. */
  readonly bytesDown: number;
  /** The first socket error, when `end` is an error. */
  readonly error?: Error;
}

/** A running pipe; `abort` destroys both sockets (a reload cut, shutdown) and `onDone` still runs once, with `why`. */
export interface Pipe {
  abort(why?: PipeEnd): void;
}

/**
 * Pipes `client` ⇄ `backend`; both must already be connected. `idleMs` > 0 closes the pair after that long with
 * no byte either way. Errors on either side destroy both. `onDone` runs once, after both sockets have closed.
 */
export function joinSockets(client: Socket, backend: Socket, idleMs: number, onDone: (result: PipeResult) => void): Pipe {
  const clientReadBefore = client.bytesRead;
  let end: PipeEnd | undefined;
  /** The side whose FIN came first, for a pair that ended cleanly. */
  let firstEnd: PipeEnd | undefined;
  let error: Error | undefined;
  let open = 2;

  const finish = (how: PipeEnd, err?: Error): void => {
    if (end === undefined) {
      end = how;
      error = err;
    }
    client.destroy();
    backend.destroy();
  };

  // A half-close is one direction's end, not the connection's: with allowHalfOpen the socket keeps its other
  // direction open after the peer's FIN (TLS 1.3 close_notify flows one way too, RFC 8446 §6.1).
  client.allowHalfOpen = true;
  backend.allowHalfOpen = true;
  // Each side's bytes go out as they arrive: what crosses is the peers' own records (TLS), already sized by them, and
  // Nagle would hold a small one back until the previous is acknowledged (RFC 896), a delayed-ACK stall on a
  // request/response exchange. nginx's stream proxy does the same (`tcp_nodelay on`, its default), as HAProxy does.
  client.setNoDelay(true);
  backend.setNoDelay(true);
  // pipe() pauses the source while the destination's buffer is full and calls dest.end() on the source's end,
  // which is exactly backpressure plus half-close forwarding.
  client.pipe(backend);
  backend.pipe(client);

  client.on('error', (err) => finish('client-error', err));
  backend.on('error', (err) => finish('backend-error', err));
  client.once('end', () => (firstEnd ??= 'client-closed'));
  backend.once('end', () => (firstEnd ??= 'backend-closed'));

  const onClose = (): void => {
    open -= 1;
    if (open === 1) {
      // One side is fully closed. If it closed cleanly, the other has already been ended by pipe() and had its
      // data flushed; it closes on its own. If it was torn down (RST, destroy), nothing more can cross: close both.
      if ((client.destroyed && !client.readableEnded) || (backend.destroyed && !backend.readableEnded)) finish('aborted');
      return;
    }
    client.setTimeout(0);
    onDone({
      end: end ?? firstEnd ?? 'aborted',
      bytesUp: client.bytesRead - clientReadBefore,
      bytesDown: backend.bytesRead,
      ...(error ? { error } : {}),
    });
  };
  client.on('close', onClose);
  backend.on('close', onClose);

  if (idleMs > 0) {
    // The client socket sees every byte of both directions (it reads what goes up and writes what comes down),
    // so its inactivity timer alone means "no bytes either way".
    client.setTimeout(idleMs);
    client.on('timeout', () => finish('idle-timeout'));
  }

  return { abort: (why = 'aborted') => finish(why) };
}
