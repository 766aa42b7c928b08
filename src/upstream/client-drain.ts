/**
 * A relay's waits on its client (src/upstream/forward-http.ts): what happens when a body write returns false.
 * Separate from the relay because it is the client side of backpressure, made only for responses whose client
 * write ever returns false (a small body never needs it).
 */
import { ServerResponse } from 'node:http';
import { writeWaitsInResponse } from '../http/write-callbacks.js';
import { readsPaused, readsResumed } from './read-slabs-pause.js';
import type { SlabClaim } from './read-slabs.js';

/** What the waits reach of their relay. */
export interface DrainOwner {
  /** The response is complete or abandoned: nothing more to pause. */
  readonly done: boolean;
  /** Whether the upstream socket reads into slabs (its reads can be stopped); may change on a retry. */
  readonly slabReads: boolean;
  /** undici's resume of the paused response (a no-op when it is not paused). */
  resumeUpstream(): void;
}

export class ClientDrain {
  /** A write check is queued for the next tick (#checkWrite): one per tick. */
  #checkQueued = false;
  /** #onDrain listens for the client's 'drain' (once). */
  #drainAwaited = false;
  /** The last write was still waiting at its check and the socket's reads could not be stopped: pause undici. */
  #pauseNext = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly reads: SlabClaim,
    private readonly owner: DrainOwner,
  ) {}

  /**
   * A body write returned false; returns what the relay's onData returns (false: undici pauses until 'drain').
   * An HTTP/1.1 response's write returns false for any chunk above the socket's 16 KiB high-water mark, even when
   * the kernel takes all of it: Node corks the socket per write and writes at the next tick. Pausing on each of
   * those cost a pause and resume per 32 KiB read (issue 21: 1 MiB responses, 1284 against 861 µs each). The check
   * after that write decides: a client that keeps up never pauses, one that does not stops the upstream reads with
   * this one chunk held, as before. A compressor's write keeps chunks where writableLength does not count them, and
   * a TLS socket's write completes later than that tick: both pause here as before.
   */
  writeFull(): boolean {
    const res = this.res;
    if (this.#pauseNext || !this.owner.slabReads || !(res instanceof ServerResponse) || !writeWaitsInResponse(res)) {
      this.#awaitDrain();
      if (this.owner.slabReads) readsPaused(this.reads);
      return false;
    }
    if (!this.#checkQueued) {
      this.#checkQueued = true;
      process.nextTick(this.#checkWrite);
    }
    return true;
  }

  /**
   * Runs on the tick after a client write that returned false (after Node's uncork of the response's socket, queued
   * by that write before this): if the kernel took every byte, nothing waits and nothing pauses. Otherwise the
   * upstream socket stops reading until the client drains, as a pause would; where it cannot, the next chunk pauses
   * undici.
   */
  #checkWrite = (): void => {
    this.#checkQueued = false;
    const res = this.res;
    if (this.owner.done || res.destroyed || res.writableLength === 0) return;
    this.#awaitDrain();
    if (!readsPaused(this.reads)) this.#pauseNext = true;
  };

  #awaitDrain(): void {
    if (this.#drainAwaited) return;
    this.#drainAwaited = true;
    this.res.once('drain', this.#onDrain);
  }

  #onDrain = (): void => {
    this.#drainAwaited = false;
    this.#pauseNext = false;
    if (this.owner.slabReads) readsResumed(this.reads);
    this.owner.resumeUpstream();
  };
}
