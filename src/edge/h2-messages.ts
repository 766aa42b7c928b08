/**
 * The request and response classes of an entry point's HTTP/2 server (Node's compatibility API), shaped so the
 * HTTP/1.1 handler chain runs on them unchanged: the request shows HTTP/1.1 header semantics (Host from :authority,
 * no pseudo-headers in rawHeaders, a body of unknown length marked as such), and the response drops what HTTP/2
 * forbids instead of throwing, and counts body bytes for the access log as CountingResponse does.
 * All the conversion happens here, once per stream, so the HTTP/1.1 path pays nothing for it.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { Http2ServerRequest, Http2ServerResponse, type ServerHttp2Stream } from 'node:http2';
import type { ReadableOptions } from 'node:stream';
import { sizeOf } from '../http/counting-response.js';
import { writeCallsBackWhenDone } from '../http/write-callbacks.js';

/**
 * Connection-specific header fields: RFC 9113 §8.2.2 makes a message carrying them malformed, and Node throws
 * ERR_HTTP2_INVALID_CONNECTION_HEADERS when asked to send one. A middleware or an upstream's HTTP/1.1 answer may
 * still set them; on HTTP/2 they mean nothing, so they are dropped.
 */
const CONNECTION_SPECIFIC: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings']);

function isConnectionSpecific(name: string, value: unknown): boolean {
  const lower = name.toLowerCase();
  // RFC 9113 §8.2.2: TE may appear with the value "trailers" alone.
  if (lower === 'te') return value !== 'trailers';
  return CONNECTION_SPECIFIC.has(lower);
}

/**
 * An HTTP/2 request as the handler chain expects an HTTP/1.1 one. `rawHeaders` is an own, writable array (the
 * middlewares edit it in place and the forwarder sends it upstream) without pseudo-headers, with a Host.
 */
export class H2Request extends Http2ServerRequest {
  constructor(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, options: ReadableOptions, rawHeaders: string[]) {
    // RFC 9113 §8.3.1: :authority stands in for Host; clients should send it instead of Host.
    const authority = headers[':authority'] as string | undefined;
    if (headers.host === undefined && authority !== undefined) headers.host = authority;
    // An HTTP/2 body needs no Content-Length (DATA frames end it). Marked like an HTTP/1.1 chunked body so the
    // forwarder streams it; the raw headers do not carry it, so nothing sends this marker anywhere.
    if (!stream.endAfterHeaders && headers['content-length'] === undefined) headers['transfer-encoding'] = 'chunked';
    super(stream, headers, options, rawHeaders);
    Object.defineProperty(this, 'rawHeaders', { value: http1RawHeaders(rawHeaders, headers.host), writable: true, enumerable: true });
  }
}

/** `rawHeaders` without pseudo-headers (never sent upstream: they are not header fields), with a Host line. */
function http1RawHeaders(raw: readonly string[], host: string | undefined): string[] {
  const out: string[] = [];
  let hasHost = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.charCodeAt(0) === 58 /* : */) continue;
    if (name === 'host') hasHost = true;
    out.push(name, raw[i + 1] as string);
  }
  if (!hasHost && host !== undefined) out.push('host', host);
  return out;
}

type HeaderValue = number | string | readonly string[];
type HeaderArg = Record<string, HeaderValue | undefined> | readonly (string | readonly string[])[] | undefined;

/** An HTTP/2 response that takes what the handler chain gives an HTTP/1.1 ServerResponse. */
export class H2Response extends Http2ServerResponse {
  /** Body bytes handlers wrote (the access log reads it, as CountingResponse's). */
  bodyBytes = 0;

  override setHeader(name: string, value: HeaderValue): void {
    if (!isConnectionSpecific(name, value)) super.setHeader(name, value);
  }

  override appendHeader(name: string, value: string | string[]): void {
    if (!isConnectionSpecific(name, value)) super.appendHeader(name, value);
  }

  /** As ServerResponse.writeHead: object or flat `[name, value, …]` headers. The reason phrase is dropped (RFC 9113 §8.3.2). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override writeHead(statusCode: number, reasonOrHeaders?: any, maybeHeaders?: any): this {
    const headers = (typeof reasonOrHeaders === 'string' ? maybeHeaders : (reasonOrHeaders ?? maybeHeaders)) as HeaderArg;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return super.writeHead(statusCode, withoutConnectionHeaders(headers) as any);
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

// Its write passes the callback to Node's (which calls it once nghttp2's socket write of the chunk is done).
writeCallsBackWhenDone(H2Response.prototype.write);

// ServerResponse has `destroyed`, which the forwarder reads; the compatibility response only has its stream's.
// A reason phrase (statusMessage) does not exist in HTTP/2 (RFC 9113 §8.3.2): setting one is ignored, without the
// process warning Node would print.
Object.defineProperties(H2Response.prototype, {
  destroyed: {
    get(this: H2Response): boolean {
      return this.stream.destroyed;
    },
  },
  statusMessage: {
    get: () => '',
    set: () => undefined,
  },
});

function withoutConnectionHeaders(headers: HeaderArg): HeaderArg {
  if (headers === undefined) return undefined;
  if (Array.isArray(headers)) {
    const flat = headers as readonly (string | readonly string[])[];
    if (flat.length > 0 && Array.isArray(flat[0])) return flat.filter((pair) => !isConnectionSpecific(pair[0] as string, pair[1]));
    const out: (string | readonly string[])[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      if (!isConnectionSpecific(flat[i] as string, flat[i + 1])) out.push(flat[i] as string, flat[i + 1] as string);
    }
    return out;
  }
  const out: Record<string, HeaderValue | undefined> = {};
  for (const [name, value] of Object.entries(headers as Record<string, HeaderValue | undefined>)) {
    if (!isConnectionSpecific(name, value)) out[name] = value;
  }
  return out;
}
