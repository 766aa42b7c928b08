/**
 * `buffering`: a limit on request bodies. A Content-Length over `maxRequestBodyBytes` is answered 413
 * (RFC 9110 §15.5.14) before a byte is read or anything goes upstream. A chunked body (no length up front) is held
 * in memory up to the limit and only then forwarded, with its length: the upstream never sees half of a body
 * that turns out too large, and the client gets a 413 instead of a 502.
 *
 * Holding works at the one place Node hands body bytes over: the HTTP parser calls `req.push(chunk)` and, at the
 * end, `req.push(null)`. While holding, those calls are diverted into a list; when the body is complete, the list
 * is pushed into `req` as one Buffer and the request goes on.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BufferingConfig } from '../config/schema-middlewares.js';
import type { RequestContext } from '../http/context.js';
import type { Handler } from '../http/contract.js';
import type { Wrapper } from '../http/middlewares.js';
import { removeRequestHeader } from './request-edits.js';

const TOO_LARGE = Buffer.from('Payload Too Large\n');

function tooLarge(res: ServerResponse): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // The rest of the body is not read; closing is the only way to be done with the connection (RFC 9112 §9.6).
  res.shouldKeepAlive = false;
  res.writeHead(413, { 'content-type': 'text/plain; charset=utf-8', 'content-length': TOO_LARGE.length, connection: 'close' });
  res.end(TOO_LARGE);
}

/** Build a buffering middleware. */
export function createBuffering(spec: BufferingConfig, _path: string): Wrapper {
  const max = spec.maxRequestBodyBytes;
  return (next) => (req, res, ctx) => {
    const length = req.headers['content-length'];
    if (req.headers['transfer-encoding'] === undefined) {
      // Node's parser already refused a malformed length and will not deliver more bytes than it says.
      if (length !== undefined && Number(length) > max) return tooLarge(res);
      return next(req, res, ctx);
    }
    hold(req, res, ctx, max, next);
  };
}

/** Divert the parser's pushes until the body is complete (or too large), then replay it as one Buffer. */
function hold(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, max: number, next: Handler): void {
  const originalPush = req.push;
  // Bytes that arrived with the head are already in req's buffer; they count and stay where they are.
  let size = req.readableLength;
  if (req.complete || size > max) {
    if (size > max) return tooLarge(res);
    rewriteFraming(req, size);
    void next(req, res, ctx);
    return;
  }
  const chunks: Buffer[] = [];
  let failed = false;
  const release = (): void => {
    req.push = originalPush;
  };
  req.push = function heldPush(chunk: unknown, encoding?: BufferEncoding): boolean {
    if (failed) return true; // discarded: we are answering 413 and closing
    if (chunk === null) {
      release();
      const body = Buffer.concat(chunks, size - bufferedBefore);
      rewriteFraming(req, size);
      if (body.length > 0) originalPush.call(req, body);
      originalPush.call(req, null);
      Promise.resolve(next(req, res, ctx)).catch((err: unknown) => {
        ctx.log.error({ err, router: ctx.router }, 'handler failed');
        res.destroy();
      });
      return true;
    }
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : (chunk as Buffer);
    size += buf.length;
    if (size > max) {
      failed = true;
      release();
      tooLarge(res);
      return true;
    }
    chunks.push(buf);
    return true;
  } as typeof req.push;
  const bufferedBefore = size;
  req.once('close', release);
}

/** The body is now whole: send it with a Content-Length instead of chunked framing. */
function rewriteFraming(req: IncomingMessage, size: number): void {
  removeRequestHeader(req, 'transfer-encoding');
  removeRequestHeader(req, 'content-length');
  req.rawHeaders.push('Content-Length', String(size));
  req.headers['content-length'] = String(size);
}
