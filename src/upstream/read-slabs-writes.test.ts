// The holds of read-slabs-writes.ts, driven by a writer that keeps every write's callback: whatever the order the
// writes call back in, and however many slabs are held at once, each slab goes back to its free list exactly when its
// last write has called back, never before; a close loses what is still held.
import { describe, expect, it } from 'vitest';
import { slabStats, take, type Slab } from './read-slabs.js';
import { writeView } from './read-slabs-writes.js';
import { writeCallsBackWhenDone } from '../http/write-callbacks.js';

/** A response whose writes call back only when the test says so. */
class HeldWriter {
  readonly pending: Array<() => void> = [];
  destroyed = false;
  #close: (() => void) | undefined;
  write(_chunk: Buffer, cb?: () => void): boolean {
    if (cb !== undefined) this.pending.push(cb);
    return true;
  }
  once(_event: 'close', listener: () => void): this {
    this.#close = listener;
    return this;
  }
  close(): void {
    this.destroyed = true;
    this.#close?.();
  }
}

writeCallsBackWhenDone(HeldWriter.prototype.write);

/** A slab the upstream socket has let go of (its read was parsed): only the writes of its views hold it now. */
function readSlab(free: Slab[]): Slab {
  return take(free, 4096);
}

const view = (slab: Slab, from: number): Buffer => slab.buf.subarray(from, from + 100);

describe('write holds', () => {
  it('four slabs held at once, callbacks in a shuffled order: each slab is free after its last write, not before', () => {
    const free: Slab[] = [];
    const res = new HeldWriter();
    const slabs = [readSlab(free), readSlab(free), readSlab(free), readSlab(free)];
    const misuse = slabStats.misuse;
    const owner: Slab[] = [];
    // Three writes of each slab's views, the slabs interleaved, so two slots and the overflow map are all used.
    for (let round = 0; round < 3; round++)
      for (const slab of slabs) {
        writeView(res, view(slab, round * 100));
        owner.push(slab);
      }
    expect(slabs.map((s) => s.refs)).toEqual([3, 3, 3, 3]);
    // A fixed shuffle of the 12 callbacks.
    const order = [5, 0, 11, 3, 8, 1, 6, 10, 2, 9, 4, 7];
    const left = new Map(slabs.map((s) => [s, 3]));
    for (const i of order) {
      const slab = owner[i]!;
      res.pending[i]!();
      left.set(slab, left.get(slab)! - 1);
      for (const s of slabs) {
        expect(s.refs).toBe(left.get(s));
        expect(s.free).toBe(left.get(s) === 0);
      }
    }
    expect(free).toHaveLength(4);
    expect(slabStats.misuse).toBe(misuse);
  });

  it('a slot freed and taken again by the next slab while the other still holds', () => {
    const free: Slab[] = [];
    const res = new HeldWriter();
    const [a, b, c] = [readSlab(free), readSlab(free), readSlab(free)];
    writeView(res, view(a, 0));
    writeView(res, view(b, 0));
    res.pending[0]!(); // a is done: its slot is free
    expect(a.free).toBe(true);
    writeView(res, view(c, 0)); // c takes a's slot
    writeView(res, view(b, 100));
    res.pending[2]!(); // c
    expect(c.free).toBe(true);
    expect(b.refs).toBe(2);
    res.pending[1]!();
    res.pending[3]!();
    expect(b.free).toBe(true);
  });

  it('the close loses every slab still held, and later callbacks change nothing', () => {
    const free: Slab[] = [];
    const res = new HeldWriter();
    const slabs = [readSlab(free), readSlab(free), readSlab(free)];
    for (const slab of slabs) writeView(res, view(slab, 0));
    res.pending[0]!();
    expect(slabs[0]!.free).toBe(true);
    res.close();
    expect(slabs.slice(1).map((s) => s.lost)).toEqual([true, true]);
    res.pending[1]!();
    res.pending[2]!();
    expect(slabs.slice(1).map((s) => s.free)).toEqual([false, false]);
    expect(free).toEqual([slabs[0]]);
  });

  it('200 interleavings closed midway: exactly the slabs a write still holds are lost', () => {
    let seed = 7;
    const next = (n: number): number => (seed = (seed * 48271) % 2147483647) % n; // Park-Miller: exact in doubles
    for (let trial = 0; trial < 200; trial++) {
      const free: Slab[] = [];
      const res = new HeldWriter();
        const slabs = Array.from({ length: 1 + next(4) }, () => readSlab(free));
      const owner: Slab[] = [];
      const done = new Set<number>();
      // Writes of random slabs, each followed now and then by a random pending callback.
      for (let w = 0; w < 3 + next(10); w++) {
        const slab = slabs[next(slabs.length)]!;
        writeView(res, view(slab, 0));
        owner.push(slab);
        if (next(2) === 0) {
          const i = next(owner.length);
          if (!done.has(i)) (done.add(i), res.pending[i]!());
        }
      }
      const held = new Set(owner.filter((_, i) => !done.has(i)));
      res.close();
      for (const slab of slabs) expect(slab.lost, `trial ${trial}`).toBe(held.has(slab));
    }
  });
});
