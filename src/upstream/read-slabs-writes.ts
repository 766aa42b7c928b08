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

/**
 * One response's writes that hold a slab and have not called back yet. A response writes the views of one slab, then
 * of the next, so two slots hold them; a third slab held at once (rare) goes to a map. The slots, not a map, because
 * a map's delete of its last entry reallocated its table: 4.5 % of what a 1 MiB response allocated (issue 21).
 */
class WriteHolds {
  #slab0: Slab | undefined = undefined;
  #count0 = 0;
  #slab1: Slab | undefined = undefined;
  #count1 = 0;
  /** Slabs held while both slots are taken, and by how many writes. */
  #more: Map<Slab, number> | undefined = undefined;
  closed = false;

  /** The response closed: every write done with its chunk has called back before this; the others never will. */
  readonly onClose = (): void => {
    this.closed = true;
    if (this.#slab0 !== undefined) lose(this.#slab0);
    if (this.#slab1 !== undefined) lose(this.#slab1);
    if (this.#more !== undefined) for (const slab of this.#more.keys()) lose(slab);
    this.#slab0 = this.#slab1 = this.#more = undefined;
  };

  /** The callback of one write of a view of `slab`. */
  hold(slab: Slab): () => void {
    if (this.#slab0 === slab) this.#count0++;
    else if (this.#slab1 === slab) this.#count1++;
    else if (this.#slab0 === undefined) {
      this.#slab0 = slab;
      this.#count0 = 1;
    } else if (this.#slab1 === undefined) {
      this.#slab1 = slab;
      this.#count1 = 1;
    } else {
      const more = (this.#more ??= new Map<Slab, number>());
      more.set(slab, (more.get(slab) ?? 0) + 1);
    }
    slab.refs++;
    return () => this.#done(slab);
  }

  #done(slab: Slab): void {
    if (this.closed) return; // lost at the close: a late word changes nothing
    if (this.#slab0 === slab) {
      if (--this.#count0 === 0) this.#slab0 = undefined;
    } else if (this.#slab1 === slab) {
      if (--this.#count1 === 0) this.#slab1 = undefined;
    } else if (this.#more !== undefined) {
      const n = this.#more.get(slab) ?? 0;
      if (n <= 1) this.#more.delete(slab);
      else this.#more.set(slab, n - 1);
    }
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
