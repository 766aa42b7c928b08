/**
 * Reading the first bytes of a fresh connection without taking them from whoever handles it next: the ClientHello
 * on a TLS entry point, a PROXY protocol header in front of it. Everything read is handed back for replay, the
 * socket is left paused with none of our listeners on it, and every read is bounded in bytes and in time.
 */
import type { Socket } from 'node:net';
import { parseClientHello, type ClientHello, type PeekFailure } from './client-hello.js';

/** A decoder's verdict on the bytes so far: call again once `needBytes` are in hand in total, or stop with `value`. */
export type PrefixVerdict<T> = { readonly needBytes: number } | { readonly value: T };

/** How a prefix read ended: the decoder's value, or the client went quiet or away first; `bytes` is all that was read. */
export type PrefixRead<T> = { ok: true; value: T; bytes: Buffer } | { ok: false; stopped: 'timeout' | 'closed'; bytes: Buffer };

/**
 * Read from `socket` until `decode` returns a value, the client ends or errors ('closed'), or `timeoutMs` passes
 * ('timeout'). `decode` is called only when at least the `needBytes` it last asked for have arrived (so a client
 * sending one byte per write costs a handful of calls, not one per byte), and it must keep `needBytes` bounded:
 * that is what bounds memory. Never rejects; on return the socket is paused and carries none of our listeners.
 * Once settled, the caller owns error handling: attach an 'error' listener before the next tick.
 */
export function readPrefix<T>(socket: Socket, timeoutMs: number, decode: (data: Buffer) => PrefixVerdict<T>): Promise<PrefixRead<T>> {
  return new Promise((resolve) => {
    let chunks: Buffer[] = [];
    let received = 0;
    let needBytes = 1;
    let settled = false;

    const all = (): Buffer => {
      // One chunk (the usual case: a ClientHello fits one segment) is returned as is; more are joined once.
      if (chunks.length > 1) chunks = [Buffer.concat(chunks, received)];
      return chunks[0] ?? Buffer.alloc(0);
    };
    const finish = (result: PrefixRead<T>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onClosed);
      socket.off('close', onClosed);
      socket.off('error', onClosed);
      socket.pause();
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      received += chunk.length;
      if (received < needBytes) return;
      const data = all();
      let verdict: PrefixVerdict<T>;
      try {
        verdict = decode(data);
      } catch {
        // Decoders are written not to throw; if one does, the connection is refused like any undecodable one.
        return finish({ ok: false, stopped: 'closed', bytes: data });
      }
      if ('value' in verdict) return finish({ ok: true, value: verdict.value, bytes: data });
      needBytes = Math.max(verdict.needBytes, received + 1);
    };
    const onClosed = (): void => finish({ ok: false, stopped: 'closed', bytes: all() });
    const timer = setTimeout(() => finish({ ok: false, stopped: 'timeout', bytes: all() }), timeoutMs);

    if (socket.destroyed || socket.readableEnded) return onClosed();
    socket.on('data', onData);
    socket.on('end', onClosed);
    socket.on('close', onClosed);
    socket.on('error', onClosed);
    socket.resume();
  });
}

/** The outcome of peeking at a TLS connection's first flight. */
export type PeekResult = { ok: true; hello: ClientHello; bytes: Buffer } | { ok: false; reason: PeekFailure; bytes: Buffer };

/**
 * Read from a fresh socket until the whole ClientHello is in hand. Consumes nothing for the caller: `bytes` holds
 * everything read, to replay (socket.unshift for termination, write to the backend for passthrough). Leaves the
 * socket paused with no listeners of its own. Never throws, never rejects; bounded in time and bytes.
 */
export async function peekClientHello(socket: Socket, opts: { timeoutMs: number; maxBytes: number }): Promise<PeekResult> {
  const read = await readPrefix<PeekResult>(socket, opts.timeoutMs, (data) => {
    const parsed = parseClientHello(data, opts.maxBytes);
    if (parsed.status === 'incomplete') return { needBytes: parsed.needBytes };
    if (parsed.status === 'complete') return { value: { ok: true, hello: parsed.hello, bytes: data } };
    return { value: { ok: false, reason: parsed.reason, bytes: data } };
  });
  if (!read.ok) return { ok: false, reason: read.stopped, bytes: read.bytes };
  // The decoder saw the bytes of its call; the same buffer is the whole read, since it settled on that call.
  return read.value;
}
