/**
 * Reading the first bytes of a fresh connection without taking them from whoever handles it next: the ClientHello
 * on a TLS entry point (src/edge/peek.ts), a PROXY protocol header in front of it (proxy-protocol.ts). Everything
 * read is handed back for replay, the socket is left paused with none of our listeners on it, and every read is
 * bounded in bytes and in time.
 */
import type { Socket } from 'node:net';

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
