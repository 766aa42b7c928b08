/**
 * `buffering`: a limit on request bodies. A Content-Length over `maxRequestBodyBytes` is answered 413
 * (RFC 9110 §15.5.14) before a byte is read or anything goes upstream. A chunked body (no length up front) is held
 * in memory up to the limit and only then forwarded, with its length: the upstream never sees half of a body
 * that turns out too large, and the client gets a 413 instead of a 502.
 *
 * Holding works at the one place Node hands body bytes over: the HTTP parser calls `req.push(chunk)` and, at the
 * end, `req.push(null)`. While holding, those calls are diverted into a list; when the body is complete, the list
 * is pushed into `req` as one Buffer and the request goes on.
 *
 * `maxResponseBodyBytes` streams, never holds: a Content-Length over it is replaced by a 500 before any of the
 * response goes out (the upstream request is then abandoned); a body without a length is counted as it passes and
 * cut past the limit, since its head is out by then and closing mid-body is the only honest signal left.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BufferingConfig } from '../config/schema-middlewares.js';
import type { RequestContext } from '../http/context.js';
import type { Handler } from '../http/contract.js';
import type { Wrapper } from '../http/middlewares.js';
import { removeRequestHeader } from './request-edits.js';
import { beforeWriteHead } from './response-hook.js';
import { wrapsWrite, writeCallsBackWhenDone } from '../http/write-callbacks.js';

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

/** Build a buffering middleware: each limit that is set applies, an absent one costs nothing per request. */
export function createBuffering(spec: BufferingConfig, _path: string): Wrapper {
  const requestMax = spec.maxRequestBodyBytes;
  const responseMax = spec.maxResponseBodyBytes;
  return (next) => {
    const inner = responseMax === undefined ? next : limitResponse(responseMax, next);
    return requestMax === undefined ? inner : limitRequest(requestMax, inner);
  };
}

function limitRequest(max: number, next: Handler): Handler {
  return (req, res, ctx) => {
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

const RESPONSE_TOO_LARGE = Buffer.from('Internal Server Error: response too large\n');

type WriteFn = (this: ServerResponse, chunk: unknown, ...rest: unknown[]) => boolean;
type EndFn = (this: ServerResponse, ...args: unknown[]) => ServerResponse;

/** Per response: the limit, the write/end it wraps, what has passed, and whether the head was replaced by a 500. */
interface Limit {
  readonly max: number;
  readonly ctx: RequestContext;
  readonly write: WriteFn;
  readonly end: EndFn;
  sent: number;
  refused: boolean;
}

const LIMIT = Symbol('gatehouse.responseLimit');
type Limited = ServerResponse & { [LIMIT]?: Limit };

function limitResponse(max: number, next: Handler): Handler {
  return (req, res, ctx) => {
    // No body follows a HEAD answer whatever length it announces (RFC 9110 §9.3.2), and an upgrade has none here.
    if (ctx.upgrade === undefined && ctx.method !== 'HEAD') {
      const r = res as Limited;
      const limit: Limit = { max, ctx, write: res.write as WriteFn, end: res.end as EndFn, sent: 0, refused: false };
      r[LIMIT] = limit;
      wrapsWrite(res, res.write);
      r.write = limitedWrite as ServerResponse['write'];
      r.end = limitedEnd as ServerResponse['end'];
      beforeWriteHead(res, checkLength, limit);
    }
    return next(req, res, ctx);
  };
}

/** The head hook: a declared length over the limit turns the response into a 500 before anything is written. */
function checkLength(res: ServerResponse, limit: Limit): void {
  const length = res.getHeader('content-length');
  // Nor does one follow a 204 or a 304 (RFC 9110 §15.3.5, §15.4.5).
  const status = res.statusCode;
  if (length === undefined || Number(length) <= limit.max || status === 204 || status === 304) return;
  limit.refused = true;
  limit.ctx.log.warn({ router: limit.ctx.router, length: Number(length), limit: limit.max }, 'response body too large');
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  res.statusCode = 500;
  res.statusMessage = 'Internal Server Error';
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.setHeader('content-length', RESPONSE_TOO_LARGE.length);
}

// Shared replacements of write/end (no closure per request), as in compress.ts.
function limitedWrite(this: Limited, chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
  const limit = this[LIMIT]!;
  if (!this.headersSent) this.writeHead(this.statusCode);
  if (limit.refused) {
    // The 500 replaces the whole body: it goes out on the first write, and the upstream's bytes are dropped.
    if (!this.writableEnded) limit.end.call(this, RESPONSE_TOO_LARGE);
    return true;
  }
  limit.sent += typeof chunk === 'string' ? Buffer.byteLength(chunk) : (chunk as Buffer).length;
  if (limit.sent > limit.max) {
    limit.refused = true;
    limit.ctx.log.warn({ router: limit.ctx.router, limit: limit.max }, 'response body too large, cut');
    this.destroy();
    return true;
  }
  return limit.write.call(this, chunk, encoding, cb);
}

// It passes the callback on, or drops the chunk without calling it (the chunk's buffer is then never reused).
writeCallsBackWhenDone(limitedWrite);

function limitedEnd(this: Limited, chunk?: unknown, encoding?: unknown, cb?: unknown): ServerResponse {
  const limit = this[LIMIT]!;
  if (!this.headersSent) this.writeHead(this.statusCode);
  if (limit.refused) {
    if (!this.writableEnded && !this.destroyed) limit.end.call(this, RESPONSE_TOO_LARGE);
    return this;
  }
  if (chunk !== undefined && chunk !== null && typeof chunk !== 'function') {
    limit.sent += typeof chunk === 'string' ? Buffer.byteLength(chunk) : (chunk as Buffer).length;
    if (limit.sent > limit.max) {
      limit.refused = true;
      limit.ctx.log.warn({ router: limit.ctx.router, limit: limit.max }, 'response body too large, cut');
      this.destroy();
      return this;
    }
  }
  return limit.end.call(this, chunk, encoding, cb);
}
