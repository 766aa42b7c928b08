/**
 * Forwarding one HTTP request through an undici Pool with a dispatch handler that writes straight into the
 * client's ServerResponse: no intermediate Readable/Writable, raw header arrays both ways, and backpressure
 * that pauses undici's parser only when the client really falls behind (see RESPONSE_BUFFER_BYTES).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';
import type { ErrorCode } from '../errors.js';
import { clientResponseHeaders, upstreamRequestHeaders, HOP_BY_HOP, type ForwardedFrom } from './forwarded-headers.js';
import type { UpstreamServer } from './load-balancer.js';

/** What the forwarder needs of the client side; the HTTP handler's request context satisfies it structurally. */
export interface ForwardInfo extends ForwardedFrom {
  /** Set by the forwarder to the chosen server URL (the access log reads it). */
  upstream: string | undefined;
  log: Logger;
}

/**
 * How many bytes of response body may wait in the client socket before undici's parser is paused.
 * Node's default writableHighWaterMark (16 KiB) is smaller than one 64 KiB socket read, so honouring
 * `res.write() === false` alone pauses the parser on nearly every chunk of a large body, and each pause makes
 * undici unshift the unread bytes and concatenate them again on resume (a copy). 256 KiB per response keeps
 * memory bounded while a few socket reads go out between pauses. bench/README.md has the measurements (on
 * a 2-core box they were within noise of honouring write() alone).
 */
const RESPONSE_BUFFER_BYTES = 256 * 1024;

const BAD_GATEWAY = Buffer.from('Bad Gateway\n');
const GATEWAY_TIMEOUT = Buffer.from('Gateway Timeout\n');

/** A client that went away: the reason we abort the upstream request with (recognised, not logged as a fault). */
class ClientGoneError extends Error {
  override name = 'ClientGoneError';
}

/**
 * Map an undici failure before any response byte reached the client to the status and catalogue code.
 * A connect timeout is a 502 like a refused connection, not a 504: no connection means the upstream is down
 * or unreachable, which is what 502 tells the operator; 504 is kept for "it took the request and was slow".
 */
function classify(err: Error & { code?: string }): { status: number; code: ErrorCode } {
  if (err.code === 'UND_ERR_HEADERS_TIMEOUT') return { status: 504, code: 'UPSTREAM_TIMEOUT' };
  return { status: 502, code: 'UPSTREAM_CONNECT' };
}

/** Relays one upstream response into `res`; one instance per request, driven by undici's dispatch. */
class ResponseRelay implements Dispatcher.DispatchHandler {
  #abort: ((err?: Error) => void) | null = null;
  #resume: (() => void) | null = null;
  #clientGone = false;
  #done = false;
  readonly #res: ServerResponse;
  readonly #info: ForwardInfo;
  readonly #server: UpstreamServer;

  constructor(res: ServerResponse, info: ForwardInfo, server: UpstreamServer) {
    this.#res = res;
    this.#info = info;
    this.#server = server;
    res.once('close', this.#onClientClose);
  }

  /** The client's response closed: if that was before we finished, cancel the upstream request too. */
  #onClientClose = (): void => {
    if (this.#done) return;
    this.#clientGone = true;
    // Aborting destroys the upstream socket, so a half-read response never goes back into the pool.
    this.#abort?.(new ClientGoneError('client closed the connection'));
  };

  #onDrain = (): void => {
    this.#resume?.();
  };

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort;
    if (this.#clientGone) abort(new ClientGoneError('client closed the connection'));
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    // 1xx interim responses (103 Early Hints) are not relayed: Node's ServerResponse has no API for them here.
    if (statusCode < 200) return true;
    const res = this.#res;
    if (res.destroyed) return true;
    this.#resume = resume;
    res.writeHead(statusCode, statusText || undefined, clientResponseHeaders(rawHeaders));
    return true;
  }

  onData(chunk: Buffer): boolean {
    const res = this.#res;
    if (res.destroyed) return true;
    // 'drain' is only emitted after a write() that returned false, so that is the one case we may wait on.
    if (res.write(chunk) || res.writableLength < RESPONSE_BUFFER_BYTES) return true;
    res.once('drain', this.#onDrain);
    return false;
  }

  onComplete(): void {
    this.#done = true;
    this.#res.end();
  }

  onError(err: Error & { code?: string }): void {
    this.#done = true;
    const res = this.#res;
    if (this.#clientGone || err instanceof ClientGoneError) {
      this.#info.log.debug({ upstream: this.#server.url }, 'client closed before the upstream response ended');
      return;
    }
    if (res.headersSent) {
      // Part of the body is already out: a truncated connection is the only honest signal left to the client.
      this.#info.log.warn({ err, code: 'UPSTREAM_FAILED', upstream: this.#server.url }, 'upstream failed');
      res.destroy();
      return;
    }
    const { status, code } = classify(err);
    this.#info.log.warn({ err, code, upstream: this.#server.url }, 'upstream failed');
    const body = status === 504 ? GATEWAY_TIMEOUT : BAD_GATEWAY;
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length });
    res.end(body);
  }
}

/** True when the request carries a body (RFC 9112 §6.3): a Content-Length above 0 or a Transfer-Encoding. */
function hasBody(req: IncomingMessage): boolean {
  const h = req.headers;
  if (h['transfer-encoding'] !== undefined) return true;
  const len = h['content-length'];
  return len !== undefined && len !== '0';
}

/** Send `req` to `server` and relay the answer into `res`; ends `res` in every outcome and never throws. */
export function forwardHttp(
  req: IncomingMessage,
  res: ServerResponse,
  info: ForwardInfo,
  server: UpstreamServer,
  passHostHeader: boolean,
): void {
  info.upstream = server.url;
  const relay = new ResponseRelay(res, info, server);
  try {
    const url = req.url ?? '/';
    server.pool.dispatch(
      {
        path: server.pathPrefix === '' ? url : server.pathPrefix + url,
        method: req.method as Dispatcher.HttpMethod,
        headers: upstreamRequestHeaders(req.rawHeaders, info, passHostHeader ? undefined : server.host, HOP_BY_HOP),
        // Streamed, never buffered: undici reads `req` as the upstream socket accepts bytes.
        body: hasBody(req) ? req : null,
      },
      relay,
    );
  } catch (err) {
    // Invalid request options (a header undici rejects): answered like any other failure before a response.
    relay.onError(err as Error);
  }
}
