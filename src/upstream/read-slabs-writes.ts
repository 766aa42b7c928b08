/**
 * The client writes that hold a slab of read-slabs.ts: each write of a body view holds the view's slab until the
 * write calls back, and the response's 'close' loses the slabs of the writes that never will. Separate from
 * read-slabs.ts because it is the client side of a slab's life (a relay's writes), not the upstream socket's reads.
 */
import { writeCallsBack } from '../http/write-callbacks.js';
import { lose, slabOf, type Slab } from './read-slabs.js';

/** A client response: its write, and the 'close' after which no write of it calls back any more. */
type Writer = {
  write(chunk: Buffer, cb: () => void): boolean;
  write(chunk: Buffer): boolean;
  readonly destroyed: boolean;
  once(event: 'close', listener: () => void): unknown;
};

/** One response's writes that hold a slab and have not called back yet. */
class WriteHolds {
  /** Each slab held, and by how many writes. */
  readonly #slabs = new Map<Slab, number>();
  closed = false;

  /** The response closed: every write done with its chunk has called back before this; the others never will. */
  readonly onClose = (): void => {
    this.closed = true;
    for (const slab of this.#slabs.keys()) lose(slab);
    this.#slabs.clear();
  };

  /** The callback of one write of a view of `slab`. */
  hold(slab: Slab): () => void {
    this.#slabs.set(slab, (this.#slabs.get(slab) ?? 0) + 1);
    slab.refs++;
    return () => this.#done(slab);
  }

  #done(slab: Slab): void {
    if (this.closed) return; // lost at the close: a late word changes nothing
    const n = this.#slabs.get(slab) ?? 0;
    if (n <= 1) this.#slabs.delete(slab);
    else this.#slabs.set(slab, n - 1);
    slab.release();
  }
}

const holdsOf = new WeakMap<Writer, WriteHolds>();

/** `res.write(chunk)`, holding the chunk's slab (if it is one) until the write is done or the response closes. */
export function writeView(res: Writer, chunk: Buffer): boolean {
  const slab = slabOf.get(chunk.buffer);
  if (slab === undefined) return res.write(chunk);
  let holds = holdsOf.get(res);
  if (holds === undefined && !res.destroyed) {
    holds = new WriteHolds();
    holdsOf.set(res, holds);
    res.once('close', holds.onClose);
  }
  if (holds === undefined || holds.closed || !writeCallsBack(res)) {
    lose(slab);
    return res.write(chunk);
  }
  return res.write(chunk, holds.hold(slab));
}
