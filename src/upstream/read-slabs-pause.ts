/**
 * Pauses of a response whose client does not keep up (readsPaused, readsResumed): the upstream socket of
 * read-slabs.ts stops reading and its armed slab is swapped for a small one until the client drains. Separate from
 * read-slabs.ts because it reaches into Node's socket internals (the native handle, `kBuffer`, the readable state)
 * that the slab tracking itself does not touch.
 */
import type { Socket } from 'node:net';
import { parked, recycle, slabStats, slowFree, take, SLOW_READ_BYTES, TRACKING, type Slab, type SlabClaim, type TrackedSocket } from './read-slabs.js';

/** The socket's native handle: the buffer its next read goes into (what Node's own onread swaps), and its reading. */
type ReadHandle = { useUserBuffer?: (buf: Uint8Array) => void; readStop?: () => number; readStart?: () => number; reading?: boolean };

/**
 * Node's record of a socket's next read buffer (stream_base_commons.js `kBuffer`): its read callback is handed this,
 * not the buffer the handle read into, so a swap must change both. Found on the first socket; never found: no swap.
 */
let kBuffer: symbol | null | undefined;

function bufferSymbol(socket: Socket): symbol | null {
  if (kBuffer === undefined) kBuffer = Object.getOwnPropertySymbols(socket).find((sym) => sym.description === 'kBuffer') ?? null;
  return kBuffer;
}

/** The readable side's state: its high-water mark is how much a socket reads ahead while undici is paused. */
type ReadableState = { highWaterMark: number };

/** The handle of a socket that reads into slabs, when it has the calls a pause uses. */
function readHandle(socket: Socket): (ReadHandle & Required<Pick<ReadHandle, 'useUserBuffer' | 'readStop' | 'readStart'>>) | undefined {
  const handle = (socket as unknown as { _handle: ReadHandle | null })._handle;
  if (typeof handle?.useUserBuffer !== 'function' || typeof handle.readStop !== 'function' || typeof handle.readStart !== 'function') return undefined;
  return handle as ReturnType<typeof readHandle>;
}

/** Puts `slab` where the socket's next read goes (handle and Node's record), if the armed one is unused and known. */
function swapArmed(socket: TrackedSocket, handle: NonNullable<ReturnType<typeof readHandle>>, slab: Slab): boolean {
  const t = socket[TRACKING];
  const armed = t.armed;
  const sym = bufferSymbol(socket);
  const record = socket as unknown as Record<symbol, unknown>;
  // Only when Node's record is the armed slab, i.e. the layout is the one this was written against.
  if (armed === undefined || armed.refs !== 0 || sym === null || record[sym] !== armed.buf) return false;
  handle.useUserBuffer(slab.buf);
  record[sym] = slab.buf;
  t.armed = slab;
  recycle(armed);
  return true;
}

/**
 * A relay paused its response for a client that does not keep up. A paused socket would go on reading until its
 * readable buffer reaches the high-water mark (64 KiB, undici's), each read into a slab: a stalled response kept ~76
 * KiB of read-ahead besides the slab its client write holds (issue 20, row 2). So the socket stops reading until the
 * client drains (its handle's readStop, what Node's own pause does for a socket with `onread`), and the slab armed
 * for its next read (nothing read into it yet) is swapped for the parked buffer shared by every stopped socket (a
 * small slab of its own where the reads could not be stopped), and back at the resume. An earlier version
 * went on reading into the small slab instead: one extra 4 KiB read per pause cost 1 MiB responses ~2x the CPU
 * (issue 21's peers bench), when a client socket with a 16 KiB high-water mark paused on most 32 KiB writes (an
 * HTTP/1.1 relay now pauses only for a write still waiting on the next tick: client-drain.ts #checkWrite).
 * Returns whether the socket's reads are stopped (false: no handle calls, or not this response's socket any more).
 */
export function readsPaused(claim: SlabClaim): boolean {
  const socket = claim.socket;
  if (socket === undefined) return false;
  const t = socket[TRACKING];
  if (t.body !== claim) return false;
  if (t.slow) return t.stopped;
  t.slow = true;
  const state = (socket as unknown as { _readableState?: ReadableState })._readableState;
  if (state !== undefined && typeof state.highWaterMark === 'number') {
    t.highWaterMark = state.highWaterMark;
    state.highWaterMark = SLOW_READ_BYTES;
  }
  const handle = readHandle(socket);
  if (handle === undefined) return false;
  if (handle.reading === true && !socket.destroyed) {
    handle.reading = false;
    handle.readStop();
    t.stopped = true;
    slabStats.stops++;
  }
  const armed = t.armed;
  // A parked or small buffer armed already (its length is SLOW_READ_BYTES): nothing to swap.
  if (armed !== undefined && armed.buf.length !== SLOW_READ_BYTES) {
    const full = armed.home;
    const bytes = armed.buf.length;
    // Stopped: the shared parked buffer (nothing reads into it). Reading on: a small slab of its own.
    const small = t.stopped ? parked : take(slowFree, SLOW_READ_BYTES);
    if (swapArmed(socket, handle, small)) {
      t.fullFree = full;
      t.fullBytes = bytes;
    } else recycle(small); // not swapped in: back to its free list, not left out for good (parked: a no-op)
  }
  return t.stopped;
}

/** The client drained: full-size reads again, the socket reading again if the pause stopped it. */
export function readsResumed(claim: SlabClaim): void {
  const socket = claim.socket;
  if (socket === undefined) return;
  const t = socket[TRACKING];
  if (!t.slow) return;
  t.slow = false;
  const state = (socket as unknown as { _readableState?: ReadableState })._readableState;
  if (state !== undefined && t.highWaterMark !== 0) state.highWaterMark = t.highWaterMark;
  t.highWaterMark = 0;
  const handle = readHandle(socket);
  const full = t.fullFree;
  t.fullFree = undefined;
  if (handle === undefined) return;
  if (full !== undefined && t.armed?.buf.length === SLOW_READ_BYTES) {
    const slab = take(full, t.fullBytes);
    if (!swapArmed(socket, handle, slab)) recycle(slab);
  }
  if (t.stopped) {
    t.stopped = false;
    if (handle.reading !== true && !socket.destroyed) {
      handle.reading = true;
      handle.readStart();
    }
  }
}
