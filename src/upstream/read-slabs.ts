/**
 * Reused read buffers ("slabs") for upstream sockets. By default every socket read allocates a fresh 64 KiB
 * ArrayBuffer outside the JS heap; at 1 MiB responses that is ~16 per response, and those external bytes are what
 * starts V8's full collections (93 against 1 mark-compacts in 5 s when the buffers were reused, bench/README.md).
 * Here an upstream socket reads into a slab from a free list (`net.connect({ onread })`), pushes a view of it into
 * its own readable side (where undici's `socket.read()` finds it as before), and the slab goes back to the free
 * list once nothing refers to its bytes any more.
 *
 * Who refers to a slab's bytes, each holding one reference:
 * - the socket, from the read until undici is done parsing the view: on the next `read()` that consumes data, when
 *   the response whose head it carried was handed over (`headersDone`: undici keeps header views until then), or
 *   at the end of the response (`responseDone`), or when the socket closes. undici parses each chunk it reads
 *   before it reads again and gives views of the chunk to the handler while it does (client-h1.js `readMore`);
 * - every client write of a body view (`writeView`), until the write's callback: a Writable calls it once the
 *   chunk is no longer needed (handed to the kernel, to OpenSSL, to nghttp2's socket write, to zlib). Some writes
 *   never call back: Node drops a response write whose socket is already destroyed (OutgoingMessage's `_writeRaw`;
 *   a client reset read in the same turn as the upstream's bytes, before the response's 'close'), or queues it for
 *   a socket that is no longer writable, or drops it on a destroyed HTTP/2 stream. A write still pending at the
 *   response's 'close' is one of those: its slab is lost (issue 20: such slabs stayed held for good).
 * Anything else that gets a view and does not say when it is done (a write function not known to call back only
 * then, a view put back with `unshift` that is not the chunk being parsed) marks the slab `lost`: it is never
 * reused and the GC frees it as before. A mistake here would hand the same bytes to two readers, so every rule
 * errs on losing a slab rather than reusing it early.
 *
 * The client writes' holds are in read-slabs-writes.ts, the pauses for a slow client in read-slabs-pause.ts.
 */
import type { Socket } from 'node:net';
import type { buildConnector as BuildConnector } from 'undici';
import { buildConnector } from './undici-parts.js';

/**
 * The default size of one read (a load balancer's `readBufferSize`). A response whose client stops reading keeps
 * about one read's slab (the view its last client write holds) until the client reads on or leaves: libuv's own 64
 * KiB cost ~90 KB per stalled response, 1000 slow readers +88 to +98 MB (issue 20), against ~55 KB at 32 KiB. Larger
 * reads cost less CPU per large body; see docs/config.md for the figures.
 */
export const SLAB_BYTES = 32 * 1024;
/** At most this many bytes of free slabs are kept per size (8 MiB); more go to the GC. */
const MAX_FREE_BYTES = 8 * 1024 * 1024;

// Exported for read-slabs-writes.ts and read-slabs-pause.ts only.
export class Slab {
  readonly buf: Buffer;
  /** The free list of its size. */
  readonly home: Slab[];
  /** The socket's hold and one per pending client write of a view. */
  refs = 0;
  /** Given to code that does not report when it is done with it: never reused. */
  lost = false;
  /** The read order (`seq` at the read), so a response releases only what was read for it. */
  seq = 0;
  /** In the free list (never twice). */
  free = false;
  /** One callback per slab, shared by every write of its views. */
  readonly release = (): void => {
    if (this.refs <= 0) {
      slabStats.misuse++;
      lose(this);
    } else if (--this.refs === 0) recycle(this);
  };

  constructor(bytes: number, home: Slab[]) {
    this.buf = Buffer.allocUnsafeSlow(bytes);
    this.home = home;
  }
}

/** The free slabs of each size in use. */
const freeLists = new Map<number, Slab[]>();

function freeListOf(bytes: number): Slab[] {
  let list = freeLists.get(bytes);
  if (list === undefined) {
    list = [];
    freeLists.set(bytes, list);
  }
  return list;
}

function freeCount(): number {
  let n = 0;
  for (const list of freeLists.values()) n += list.length;
  return n;
}
// Exported for read-slabs-writes.ts only.
export const slabOf = new WeakMap<ArrayBufferLike, Slab>();
let seq = 0;

/** Counters for tests and benchmarks: slabs allocated, handed out again from the free list, and lost to the GC. */
export const slabStats = {
  allocated: 0,
  reused: 0,
  /** Never reused (handed to code that does not say when it is done). */
  lost: 0,
  /** Free when the free list was full: left to the GC. */
  dropped: 0,
  /** A slab read into while something still held it: must stay 0 (the tests check it). */
  misuse: 0,
  /** Pauses that stopped a socket's reads (readsPaused). */
  stops: 0,
  /** Reads into a small slab: a paused socket that read on (expected 0 where the handle can stop reading). */
  smallReads: 0,
  /** Reads into the parked buffer: a stopped socket that Node started reading again (copied out; expected rare). */
  parkedReads: 0,
  free: freeCount,
};

// Exported for read-slabs-pause.ts only.
export function take(free: Slab[], bytes: number): Slab {
  for (let slab = free.pop(); slab !== undefined; slab = free.pop()) {
    slab.free = false;
    if (slab.refs === 0 && !slab.lost) {
      slabStats.reused++;
      return slab;
    }
    slabStats.misuse++; // taken again while freed: never handed out
    lose(slab);
  }
  slabStats.allocated++;
  const fresh = new Slab(bytes, free);
  slabOf.set(fresh.buf.buffer, fresh);
  return fresh;
}

// Exported for read-slabs-pause.ts only.
export function recycle(slab: Slab): void {
  if (slab.lost || slab.free) return;
  const free = slab.home;
  if ((free.length + 1) * slab.buf.length > MAX_FREE_BYTES) slabStats.dropped++;
  else {
    slab.free = true;
    free.push(slab);
  }
}

// Exported for read-slabs-writes.ts only.
export function lose(slab: Slab): void {
  if (slab.lost) return;
  slab.lost = true;
  slabStats.lost++;
}

/** Per socket: slabs whose views are in its readable buffer (in order) and those undici has read and may parse. */
interface Tracking {
  queued: Slab[];
  /** Their bytes: equal to the socket's readableLength unless something else put bytes there. */
  queuedBytes: number;
  /** Bytes in the readable buffer that are not views of ours (a remainder of a joined chunk put back). */
  otherBytes: number;
  parsed: Slab[];
  /** The slab of the chunk the last consuming read returned (the one undici parses now), if it is one of ours. */
  current: Slab | undefined;
  /** The slab the next read fills (handed out by the generator after each read). */
  armed: Slab | undefined;
  /** The response it carries is paused for a client that does not keep up: reads are small (SLOW_READ_BYTES). */
  slow: boolean;
  /** The readable high-water mark to restore when it is no longer slow (0: not lowered). */
  highWaterMark: number;
  /** A pause stopped the handle's reads (readsPaused): the resume starts them again. */
  stopped: boolean;
  /** The free list and size of the full slab a pause swapped for a small one, to swap back at the resume. */
  fullFree: Slab[] | undefined;
  fullBytes: number;
  /** The response whose body this socket carries now (its head was handed over, its end not yet parsed). */
  body: SlabClaim | undefined;
}

// Exported, with TrackedSocket, for read-slabs-pause.ts only.
export const TRACKING = Symbol('gatehouse.readSlabs');
export type TrackedSocket = Socket & { [TRACKING]: Tracking };

/** The socket undici read from last: the chunk it parses now, and so the handler callbacks now, are this socket's. */
let reading: TrackedSocket | undefined;
/** The socket whose read callback runs: the generator that follows arms its next read. */
let arming: TrackedSocket | undefined;

function onSlabRead(this: TrackedSocket, nread: number, buf: Buffer): boolean {
  const t = this[TRACKING];
  let slab = t?.armed;
  if (slab === undefined || slab.buf !== buf) {
    // The first buffer of a socket is armed before the socket is tracked: find it by its memory.
    slab = slabOf.get(buf.buffer);
  }
  arming = this;
  if (slab === undefined || t === undefined) return this.push(buf.subarray(0, nread));
  if (slab === parked) {
    // A read while the pause meant reads to be stopped (Node started them again): the parked buffer is every stopped
    // socket's, so its bytes are copied out before any other socket can read into it.
    slabStats.parkedReads++;
    t.otherBytes += nread;
    return this.push(Buffer.from(buf.subarray(0, nread)));
  }
  // Never expected (a slab is armed only when free): counted so the tests can show it never happens.
  if (slab.refs !== 0) slabStats.misuse++;
  if (slab.buf.length === SLOW_READ_BYTES) slabStats.smallReads++;
  slab.refs = 1;
  slab.seq = ++seq;
  t.queued.push(slab);
  t.queuedBytes += nread;
  return this.push(buf.subarray(0, nread));
}

// Exported, with slowFree, for read-slabs-pause.ts only.
/**
 * Reads of a socket whose response waits for a slow client. While undici is paused the socket still reads until its
 * readable buffer passes the high-water mark, and each such read kept a whole slab: these keep it to a few KiB.
 */
export const SLOW_READ_BYTES = 4096;
export const slowFree = freeListOf(SLOW_READ_BYTES);
/**
 * The buffer armed for the next read of every socket whose reads a pause stopped (read-slabs-pause.ts): a stopped
 * socket reads nothing, so one buffer serves them all, and a stalled response holds no read buffer of its own (a
 * small slab each before: 4 MB for 1000 slow readers). Never in a free list; lost, so nothing recycles it.
 */
export const parked: Slab = new Slab(SLOW_READ_BYTES, []);
parked.lost = true;

/** The first slab of a socket being created, armed inside net.connect before `track` sees the socket. */
let firstArmed: Slab | undefined;

function armNext(free: Slab[], bytes: number): Buffer {
  const socket = arming;
  const slab = socket?.[TRACKING].slow === true ? take(slowFree, SLOW_READ_BYTES) : take(free, bytes);
  arming = undefined;
  if (socket !== undefined) socket[TRACKING].armed = slab;
  else firstArmed = slab;
  return slab.buf;
}

function releaseFrom(list: Slab[], since: number, keep: Slab | undefined): void {
  let w = 0;
  for (let i = 0; i < list.length; i++) {
    const slab = list[i] as Slab;
    if (slab === keep) list[w++] = slab;
    else if (slab.seq >= since) slab.release();
    else lose(slab); // read before this response was sent: whoever parsed it is not known to be done
  }
  list.length = w;
}

/** Every slab of `list` released: the socket no longer refers to them. */
function releaseAll(list: Slab[]): void {
  for (const slab of list) slab.release();
  list.length = 0;
}

// The socket's own read and unshift, wrapped per instance by `track` below.
type ReadFn = (this: Socket, size?: number) => unknown;
type UnshiftFn = (this: Socket, chunk: unknown, encoding?: BufferEncoding) => void;
let socketRead: ReadFn | undefined;
let socketUnshift: UnshiftFn | undefined;

function trackedRead(this: TrackedSocket, size?: number): unknown {
  const t = this[TRACKING];
  reading = this;
  const before = this.readableLength;
  const chunk = (socketRead as ReadFn).call(this, size);
  const after = this.readableLength;
  if (after === before) return chunk; // read(0), or nothing buffered: nothing consumed
  // undici has parsed everything it read before (it reads again only after parsing). Within a body nothing of
  // those chunks is kept; views of a head not yet handed over are, until `headersDone` releases them.
  if (t.body !== undefined) releaseFrom(t.parsed, t.body.since, undefined);
  t.current = undefined;
  const queued = t.queued;
  if (queued.length > 0) {
    const ours = chunk instanceof Uint8Array ? slabOf.get(chunk.buffer) : undefined;
    if (after !== 0 || before !== t.queuedBytes + t.otherBytes) {
      // Part of the buffer only, or bytes in it we did not see arrive: not how undici reads. Not tracked further.
      for (const slab of queued) lose(slab);
    } else if (ours !== undefined) {
      if (queued.length === 1 && t.otherBytes === 0 && ours === queued[0]) {
        t.parsed.push(ours);
        t.current = ours;
      } else for (const slab of queued) lose(slab); // never seen: a view of ours that is not the whole buffer
    } else {
      // Several chunks joined into one new buffer (Readable's concat): ours were copied and are free.
      for (const slab of queued) slab.release();
    }
    queued.length = 0;
  }
  t.queuedBytes = 0;
  t.otherBytes = after;
  return chunk;
}

function trackedUnshift(this: TrackedSocket, chunk: unknown, encoding?: BufferEncoding): void {
  const t = this[TRACKING];
  if (chunk instanceof Uint8Array && chunk.length > 0) {
    // undici puts back the rest of the chunk it parses when its handler pauses it: the socket's hold moves with it.
    // (An empty rest, a pause on the chunk's last byte, is not put back at all: the slab stays parsed.)
    const slab = slabOf.get(chunk.buffer);
    if (slab !== undefined && slab === t.current) {
      t.parsed.splice(t.parsed.lastIndexOf(slab), 1);
      t.queued.unshift(slab);
      t.queuedBytes += chunk.length;
      t.current = undefined;
    } else {
      if (slab !== undefined) lose(slab);
      t.otherBytes += chunk.length;
    }
  }
  (socketUnshift as UnshiftFn).call(this, chunk, encoding);
}

function onClose(this: TrackedSocket): void {
  const t = this[TRACKING];
  releaseAll(t.queued);
  t.queuedBytes = 0;
  t.otherBytes = 0;
  releaseAll(t.parsed);
  t.current = undefined;
  t.body = undefined;
  if (t.armed !== undefined && t.armed.refs === 0) recycle(t.armed);
  t.armed = undefined;
  t.slow = false;
  t.stopped = false;
  t.fullFree = undefined;
}

function track(socket: Socket): void {
  const s = socket as TrackedSocket;
  socketRead ??= Object.getPrototypeOf(socket).read as ReadFn;
  socketUnshift ??= Object.getPrototypeOf(socket).unshift as UnshiftFn;
  s[TRACKING] = { queued: [], queuedBytes: 0, otherBytes: 0, parsed: [], current: undefined, armed: firstArmed, body: undefined, slow: false, highWaterMark: 0, stopped: false, fullFree: undefined, fullBytes: 0 };
  firstArmed = undefined;
  s.read = trackedRead as Socket['read'];
  s.unshift = trackedUnshift as Socket['unshift'];
  s.once('close', onClose);
}

/**
 * undici's own connector (timeout, keep-alive, no-delay) for plain-HTTP upstreams, with sockets reading into slabs.
 * `timeout`: the connect timeout in ms; `readBytes`: the size of each read (and slab).
 */
export function slabConnector(timeout: number, readBytes: number = SLAB_BYTES): BuildConnector.connector {
  const free = freeListOf(readBytes);
  const buffer = (): Buffer => armNext(free, readBytes);
  const base = buildConnector({ timeout, onread: { buffer, callback: onSlabRead } } as BuildConnector.BuildOptions);
  // undici's connector returns the socket, though its type says void.
  return (options, callback) => {
    const socket = (base as unknown as (o: BuildConnector.Options, c: BuildConnector.Callback) => Socket)(options, callback);
    track(socket);
    return socket as unknown as void;
  };
}

/** The response a relay is forwarding: the socket its head came from and the `seq` before its request was sent. */
export interface SlabClaim {
  socket: TrackedSocket | undefined;
  since: number;
}

/** At a relay's onConnect: reads from now on may carry its response. */
export function claimReads(claim: SlabClaim): void {
  claim.socket = undefined;
  claim.since = seq + 1;
}

/** At a relay's onHeaders (a final status): undici has turned the head into strings; earlier reads are free. */
export function headersDone(claim: SlabClaim): void {
  const socket = reading;
  if (socket === undefined || socket[TRACKING] === undefined) return;
  claim.socket = socket;
  const t = socket[TRACKING];
  t.body = claim;
  releaseFrom(t.parsed, claim.since, t.current);
}

/** At a relay's onComplete: nothing of this response is parsed any more. */
export function responseDone(claim: SlabClaim): void {
  const socket = claim.socket;
  claim.socket = undefined;
  if (socket === undefined) return;
  const t = socket[TRACKING];
  if (t.body === claim) t.body = undefined;
  releaseFrom(t.parsed, claim.since, undefined);
  t.current = undefined;
}
