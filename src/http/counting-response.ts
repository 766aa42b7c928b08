/**
 * A ServerResponse that counts the body bytes it is given and writes the access line when it closes. Passed to
 * `createServer` as its response class, so counting costs one addition per write, and the access log needs no
 * per-request closure or 'close' listener (a second listener beside the forwarder's turns the emitter's slot into
 * an array, copied on every emit).
 */
import { ServerResponse } from 'node:http';
import type { AccessLog } from './access-log.js';
import { writeCallsBackWhenDone, writeGoesThrough } from './write-callbacks.js';
import type { RequestContext } from './context.js';

/** What a response tells when it closes (src/http/dispatch.ts RouteGeneration). */
interface Leaving {
  leave(): void;
}

/** The response class of every entry point; `bodyBytes` is what handlers wrote as body (not headers, not framing). */
export class CountingResponse extends ServerResponse {
  bodyBytes = 0;
  private accessLog: AccessLog | undefined = undefined;
  private ctx: RequestContext | undefined = undefined;
  private generation: Leaving | undefined = undefined;
  private observer: AccessLog | undefined = undefined;

  /** Call `generation.leave()` once this response emits 'close' (no listener, as for the access line). */
  leaveOnClose(generation: Leaving): void {
    this.generation = generation;
  }

  /** Write `ctx`'s access line with `accessLog` once this response emits 'close' (finished or aborted). */
  logOnClose(accessLog: AccessLog, ctx: RequestContext): void {
    this.accessLog = accessLog;
    this.ctx = ctx;
  }

  /** Call `observer(this, ctx)` once this response emits 'close', after the access line (request metrics). */
  observeOnClose(observer: AccessLog, ctx: RequestContext): void {
    this.observer = observer;
    this.ctx = ctx;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override emit(event: string | symbol, ...args: any[]): boolean {
    // 'close' comes once per response; the line goes out before the listeners run, as a first listener would.
    if (event === 'close' && this.accessLog !== undefined) {
      const accessLog = this.accessLog;
      this.accessLog = undefined;
      accessLog(this, this.ctx!);
    }
    if (event === 'close' && this.observer !== undefined) {
      const observer = this.observer;
      this.observer = undefined;
      observer(this, this.ctx!);
    }
    if (event === 'close' && this.generation !== undefined) {
      const generation = this.generation;
      this.generation = undefined;
      generation.leave();
    }
    return super.emit(event, ...args);
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override write(chunk: any, encoding?: any, cb?: any): boolean {
    this.bodyBytes += sizeOf(chunk, encoding);
    return super.write(chunk, encoding, cb);
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override end(chunk?: any, encoding?: any, cb?: any): this {
    if (chunk !== undefined && chunk !== null && typeof chunk !== 'function') this.bodyBytes += sizeOf(chunk, encoding);
    return super.end(chunk, encoding, cb);
  }
}

// Its write passes the chunk and the callback to Node's.
writeCallsBackWhenDone(CountingResponse.prototype.write);
writeGoesThrough(CountingResponse.prototype.write);

/** Bytes of a body chunk as written (string in its encoding, or bytes). */
export function sizeOf(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}
