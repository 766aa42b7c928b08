/**
 * Which `res.write` functions call their callback only once the chunk is no longer needed, so a caller may reuse
 * the chunk's memory after it (the upstream read buffers of src/upstream/read-slabs.ts). Node's own response
 * writes do; a middleware that replaces `res.write` registers its replacement here when it passes the callback
 * on (or calls it only when it is done with the chunk), and calls `wrapsWrite` with the function it wraps.
 */
import { OutgoingMessage } from 'node:http';
import { Http2ServerResponse } from 'node:http2';

const callsBackWhenDone = new Set<unknown>([OutgoingMessage.prototype.write, Http2ServerResponse.prototype.write]);
const UNTRUSTED = Symbol('gatehouse.untrustedWrite');

/** Registers a replacement of `res.write` that calls back only when done with the chunk. */
export function writeCallsBackWhenDone(fn: unknown): void {
  callsBackWhenDone.add(fn);
}

/**
 * A registered replacement wraps `inner` on `res`: if `inner` is not known to call back when done, neither is the
 * chain, whatever the outer function is.
 */
export function wrapsWrite(res: object, inner: unknown): void {
  if (!callsBackWhenDone.has(inner)) (res as { [UNTRUSTED]?: true })[UNTRUSTED] = true;
}

/** Whether `res.write(chunk, cb)` calls `cb` only once `chunk` is no longer needed. */
export function writeCallsBack(res: { write: unknown }): boolean {
  return callsBackWhenDone.has(res.write) && (res as { [UNTRUSTED]?: true })[UNTRUSTED] !== true;
}

/**
 * Which `res.write` functions keep nothing of their own: what they were given and have not handed to the kernel is
 * in `res.writableLength` (Node's HTTP/1.1 response write, and replacements that only pass it on). A compressor's or
 * a buffer's write keeps chunks elsewhere: its caller must go by its return value alone.
 */
const writesThrough = new Set<unknown>([OutgoingMessage.prototype.write]);

/** Registers a replacement of `res.write` that passes every chunk straight on to the response's own write. */
export function writeGoesThrough(fn: unknown): void {
  writesThrough.add(fn);
}

/** Whether whatever `res.write` was given and still waits is counted in `res.writableLength`. */
export function writeWaitsInResponse(res: { write: unknown }): boolean {
  return writesThrough.has(res.write);
}
