/**
 * A ServerResponse that counts the body bytes it is given, for the access log. Passed to `createServer` as its
 * response class, so counting costs one addition per write and no per-request closure.
 */
import { ServerResponse } from 'node:http';

/** The response class of every entry point; `bodyBytes` is what handlers wrote as body (not headers, not framing). */
export class CountingResponse extends ServerResponse {
  bodyBytes = 0;

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

function sizeOf(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}
