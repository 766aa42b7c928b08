/**
 * Peeking at a TLS connection's ClientHello without taking it from whoever handles the connection next (the read
 * itself is src/ip/read-prefix.ts, shared with the PROXY protocol reader).
 */
import type { Socket } from 'node:net';
import { readPrefix } from '../ip/read-prefix.js';
import { parseClientHello, type ClientHello, type PeekFailure } from './client-hello.js';

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
