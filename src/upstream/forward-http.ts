/**
 * Forwarding one HTTP request through an undici Pool with a dispatch handler that writes straight into the
 * client's ServerResponse: no intermediate Readable/Writable, raw header arrays both ways, and backpressure
 * that pauses undici's parser whenever the client's socket is full (see `onData`). An attempt
 * that fails before anything was sent is handed to the next server the load balancer allows.
 */
import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';
import type { ErrorCode } from '../errors.js';
import { clientResponseHeaders, clientResponseTrailers, upstreamRequestHeaders, HOP_BY_HOP, type ForwardedFrom, type UpstreamTrailers } from './forwarded-headers.js';
import type { LoadBalancer } from './load-balancer.js';
import type { StickyCookie } from './sticky-cookie.js';
import type { UpstreamServer } from './upstream-server.js';
import { claimReads, headersDone, responseDone, type SlabClaim } from './read-slabs.js';
import { writeView } from './read-slabs-writes.js';
import { ClientDrain, type DrainOwner } from './client-drain.js';
import type { SlotQueue, Waiter } from './queue.js';
import { addTrailers, endWithHead, hasGrpcStatus, sendHead, type PendingHead } from './response-head.js';

/** What the forwarder needs of the client side; the HTTP handler's request context satisfies it structurally. */
export interface ForwardInfo extends ForwardedFrom {
  /** Set by the forwarder to the chosen server URL (the access log reads it). */
  upstream: string | undefined;
  /** The status the server answered (the last attempt's), for the access log; a 502 of ours leaves it unset. */
  upstreamStatus?: number | undefined;
  /** Milliseconds from sending the request to the server (the last attempt) to its response head. */
  upstreamMs?: number | undefined;
  log: Logger;
}

const BAD_GATEWAY = Buffer.from('Bad Gateway\n');
const GATEWAY_TIMEOUT = Buffer.from('Gateway Timeout\n');
const BUSY = Buffer.from('Service Unavailable: upstream busy\n');

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
  // TLS to an https:// upstream failed (tls-connector.ts wrote the message in words an operator acts on).
  if (err.code === 'UPSTREAM_TLS') return { status: 502, code: 'UPSTREAM_TLS' };
  return { status: 502, code: 'UPSTREAM_CONNECT' };
}

/** Relays one upstream response into `res`; one instance per request (across its retries), driven by undici. */
class ResponseRelay implements Dispatcher.DispatchHandler, Waiter, DrainOwner {
  #abort: ((err?: Error) => void) | null = null;
  #resume: (() => void) | null = null;
  #clientGone = false;
  #done = false;
  /** undici called onConnect: the request is being written, so it is no longer "nothing sent". */
  #connected = false;
  /** The upstream answered with a head: the request is not retried after this, whatever follows. */
  #answered = false;
  /** The head, kept until the first body byte or the end (HTTP/1.1 only, see onHeaders). */
  #head: PendingHead | undefined;
  /** The current attempt counts in its server's inFlight. */
  #counted = false;
  /** The slot queue of the server whose slot the current attempt holds (a server with a maxConnections limit). */
  #slot: SlotQueue | undefined;
  /** Takes this request out of its server's slot queue while it waits there. */
  #leave: (() => void) | undefined;
  #attempt = 1;
  /** Bits of the servers this request tried (UpstreamServer.bit). */
  #tried = 0;
  #server: UpstreamServer;
  #setCookie: boolean;
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #info: ForwardInfo;
  readonly #lb: LoadBalancer;
  /** `performance.now()` when the current attempt was dispatched (the access log's upstreamMs). */
  #sentAt = 0;
  /** Which reads carry this response, so their buffers can be reused once it is done with them (read-slabs.ts). */
  readonly #reads: SlabClaim = { socket: undefined, since: 0 };

  constructor(req: IncomingMessage, res: ServerResponse, info: ForwardInfo, lb: LoadBalancer, server: UpstreamServer, setCookie: boolean) {
    this.#req = req;
    this.#res = res;
    this.#info = info;
    this.#lb = lb;
    this.#server = server;
    this.#setCookie = setCookie;
    res.once('close', this.#onClientClose);
  }

  /** Send the request to the current server: once the client can take its response, and a slot is free. */
  dispatch(): void {
    if (this.#clientGone) return;
    const res = this.#res;
    // A pipelined HTTP/1.1 request (sent before the response to the one ahead of it) gets its socket only when that
    // response is done (Node's ServerResponse.assignSocket). Sent upstream now, its response would hold an upstream
    // connection (and, paused behind the first, its read buffers) for as long as the client takes to read the one
    // ahead: one slow reader pipelining k requests held k connections (issue 20). nginx and HAProxy also take
    // pipelined requests one at a time.
    if (res.socket === null && res instanceof ServerResponse && !res.destroyed) {
      res.once('socket', this.#onSocket);
      return;
    }
    const queue = this.#lb.queues[this.#server.index];
    if (queue !== undefined) {
      const slot = queue.acquire(this);
      if (slot === 'refused') return;
      if (slot !== 'now') {
        this.#leave = slot;
        return;
      }
      this.#slot = queue;
    }
    this.send();
  }

  #onSocket = (): void => {
    this.dispatch();
  };

  /** A slot freed for this request, which waited in its server's queue (SlotQueue calls this). */
  start(): void {
    this.#leave = undefined;
    this.#slot = this.#lb.queues[this.#server.index];
    // Not from inside the finishing request's undici callback: this dispatch starts on a clean stack.
    process.nextTick(send, this);
  }

  /** Not sent: its server's slots stayed busy past the queue's bound (SlotQueue calls this). 503 + Retry-After. */
  turnAway(reason: 'queue full' | 'queue timeout', waitedMs: number): void {
    this.#leave = undefined;
    this.#done = true;
    const server = this.#server;
    this.#info.upstream = server.url;
    this.#info.log.warn(
      { code: 'UPSTREAM_BUSY', upstream: server.url, reason, waitedMs, maxConnections: this.#lb.maxConnections },
      'upstream busy, request not sent',
    );
    const res = this.#res;
    if (res.destroyed || res.headersSent) return;
    res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'content-length': BUSY.length, 'retry-after': this.#lb.retryAfter });
    res.end(BUSY);
  }

  /** Send the request to the current server (its slot, if it has a limit, is held). */
  send(): void {
    if (this.#clientGone) {
      this.#releaseSlot();
      return;
    }
    const server = this.#server;
    const req = this.#req;
    this.#info.upstream = server.url;
    this.#sentAt = performance.now();
    this.#tried |= server.bit;
    this.#connected = false;
    this.#abort = null;
    server.inFlight++;
    this.#counted = true;
    try {
      const url = req.url ?? '/';
      server.pool.dispatch(
        {
          path: server.pathPrefix === '' ? url : server.pathPrefix + url,
          method: req.method as Dispatcher.HttpMethod,
          // `te: trailers` goes on to HTTP/2 servers: gRPC asks for it (forwarded-headers' listsTrailers).
          headers: upstreamRequestHeaders(req.rawHeaders, this.#info, this.#lb.passHostHeader ? undefined : server.host, HOP_BY_HOP, server.protocol === 'h2c'),
          // Streamed, never buffered: undici reads `req` as the upstream socket accepts bytes.
          body: hasBody(req) ? req : null,
        },
        this,
      );
    } catch (err) {
      // Invalid request options (a header undici rejects): answered like any other failure before a response.
      this.onError(err as Error);
    }
  }

  #release(): void {
    this.#releaseSlot();
    if (!this.#counted) return;
    this.#counted = false;
    this.#server.inFlight--;
  }

  #releaseSlot(): void {
    const slot = this.#slot;
    if (slot === undefined) return;
    this.#slot = undefined;
    slot.release();
  }

  /** The client's response closed: if that was before we finished, cancel the upstream request too. */
  #onClientClose = (): void => {
    if (this.#done) return;
    this.#clientGone = true;
    this.#leave?.();
    this.#leave = undefined;
    // Aborting destroys the upstream socket, so a half-read response never goes back into the pool.
    this.#abort?.(new ClientGoneError('client closed the connection'));
  };

  /** The waits on the client, made at the first body write that returns false. */
  #drain: ClientDrain | undefined;

  // DrainOwner, for #drain.
  get done(): boolean {
    return this.#done;
  }

  get slabReads(): boolean {
    return this.#server.slabReads;
  }

  resumeUpstream(): void {
    this.#resume?.();
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort;
    this.#connected = true;
    // Only http:// sockets read into slabs; for the others read-slabs' notion of the socket being read is not theirs.
    if (this.#server.slabReads) claimReads(this.#reads);
    if (this.#clientGone) abort(new ClientGoneError('client closed the connection'));
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    // 1xx interim responses (103 Early Hints) are not relayed: Node's ServerResponse has no API for them here.
    if (statusCode < 200) return true;
    // undici has turned the head into `rawHeaders` views; the strings below are made before anything is reused.
    const res = this.#res;
    if (res.destroyed) {
      if (this.#server.slabReads) headersDone(this.#reads);
      return true;
    }
    this.#resume = resume;
    this.#answered = true;
    this.#info.upstreamStatus = statusCode;
    this.#info.upstreamMs = performance.now() - this.#sentAt;
    const headers = clientResponseHeaders(rawHeaders);
    if (this.#setCookie) headers.push('Set-Cookie', (this.#lb.sticky as StickyCookie).setCookie(this.#server));
    if (this.#server.slabReads) headersDone(this.#reads);
    const head: PendingHead = { status: statusCode, statusText: statusText || undefined, headers };
    // Node's HTTP/1.1 response only queues a head until the first body write, so holding it here until the body
    // starts (or the response ends) sends the same bytes at the same time, and keeps a 502 possible if the upstream
    // dies before any body byte: once writeHead ran, Node would drop the queued head on destroy and the client got
    // an empty reply (issue 20). An HTTP/2 response sends its HEADERS frame at writeHead: written now, as streaming
    // responses (server-sent events) expect.
    // A gRPC head with grpc-status is held too: it may be a trailers-only response (the status in the one HEADERS
    // frame, END_STREAM set), which gRPC clients read as such only when it reaches them the same way (onComplete).
    if (res instanceof ServerResponse || hasGrpcStatus(headers)) this.#head = head;
    else sendHead(res, head);
    return true;
  }

  /** Hand the held head to the client's response: the body starts, or the response ends. */
  #flushHead(): void {
    const head = this.#head;
    if (head === undefined) return;
    this.#head = undefined;
    sendHead(this.#res, head);
  }

  onData(chunk: Buffer): boolean {
    const res = this.#res;
    if (res.destroyed) return true;
    this.#flushHead();
    // Paused when a write() returns false ('drain' follows only those) and its bytes still wait. Letting up to 256
    // KiB wait per response instead saved undici's unshift on pause, but kept more 64 KiB read buffers alive outside
    // the JS heap, and that external memory is what starts V8's full collections on large bodies: 10.4 against 13.5
    // mark-compacts per 1000 responses of 1 MiB, 1.05-1.10x less CPU per response (bench/README.md, 2026-11-23).
    if (writeView(res, chunk)) return true;
    this.#drain ??= new ClientDrain(res, this.#reads, this);
    return this.#drain.writeFull();
  }

  onComplete(trailers: string[] | null): void {
    this.#done = true;
    responseDone(this.#reads);
    this.#release();
    const res = this.#res;
    // HTTP/1.1 servers hand over an empty array when they sent no trailers: that common case costs one length test.
    const relayed = trailers === null || (trailers as { length?: number }).length === 0 ? undefined : clientResponseTrailers(trailers as UpstreamTrailers);
    if (this.#head !== undefined && relayed === undefined && !(res instanceof ServerResponse)) {
      // A held HTTP/2 head and no body: sent by end(), as HEADERS with END_STREAM (a gRPC trailers-only response).
      endWithHead(res, this.#head);
      this.#head = undefined;
      return;
    }
    this.#flushHead();
    if (relayed !== undefined) addTrailers(res, relayed, this.#info.log);
    res.end();
  }

  onError(err: Error & { code?: string }): void {
    this.#release();
    const res = this.#res;
    const server = this.#server;
    if (this.#clientGone || err instanceof ClientGoneError) {
      this.#done = true;
      this.#info.log.debug({ upstream: server.url }, 'client closed before the upstream response ended');
      return;
    }
    // A head was held back and nothing reached the client: it is dropped and the client gets a 502 instead.
    this.#head = undefined;
    const { status, code } = this.#answered ? FAILED_MID_RESPONSE : classify(err);
    this.#lb.failed(server, err.code ?? code);
    // Once a head came back the server took the request: like nginx's proxy_next_upstream, no other server gets it.
    if (!this.#answered && !res.headersSent && (!this.#connected || DROPPED_CONNECTION.has(err.code as string))) {
      const req = this.#req;
      // Written: only a request without a body can be sent again. Not written: a body nobody has read yet can.
      const replayable = !hasBody(req) || (!this.#connected && !req.readableDidRead);
      const next = this.#lb.next(req, this.#connected, replayable, this.#attempt, this.#tried);
      if (next !== undefined) {
        this.#info.log.warn({ code, reason: err.message, upstream: server.url, retryOn: next.url, attempt: this.#attempt }, 'upstream failed, retrying');
        this.#server = next;
        this.#attempt++;
        // The client may hold a cookie for the server that failed: pin it to the one that answers.
        this.#setCookie = this.#lb.sticky !== undefined;
        // Not from inside undici's error loop: the next dispatch starts on a clean stack.
        process.nextTick(redispatch, this);
        return;
      }
    }
    this.#done = true;
    // The cause in one line (undici's message names the address and the errno); a stack says nothing an operator acts on.
    this.#info.log.warn({ code, reason: err.message, upstream: server.url }, 'upstream failed');
    if (res.headersSent) {
      // Part of the body is already out: a truncated connection is the only honest signal left to the client.
      res.destroy();
      return;
    }
    const body = status === 504 ? GATEWAY_TIMEOUT : BAD_GATEWAY;
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length });
    res.end(body);
  }
}

/** The upstream failed after its head: 502 while nothing reached the client, a cut connection after. */
const FAILED_MID_RESPONSE = { status: 502, code: 'UPSTREAM_FAILED' } as const;

/**
 * The connection closed under a written request before any response byte: typically a keep-alive connection the
 * server closed (or died with) as we reused it. The server may or may not have seen the request, which is why only
 * idempotent requests are replayed after these. A response timeout is not among them: that server did get it.
 */
const DROPPED_CONNECTION = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

function redispatch(relay: ResponseRelay): void {
  relay.dispatch();
}

function send(relay: ResponseRelay): void {
  relay.send();
}

/** True when the request carries a body (RFC 9112 §6.3): a Content-Length above 0 or a Transfer-Encoding. */
function hasBody(req: IncomingMessage): boolean {
  const h = req.headers;
  if (h['transfer-encoding'] !== undefined) return true;
  const len = h['content-length'];
  return len !== undefined && len !== '0';
}

/**
 * Send `req` to `server` (chosen by `lb`) and relay the answer into `res`; a failure before anything was sent
 * moves on to the next server `lb` allows. Ends `res` in every outcome and never throws. `setCookie`: answer
 * with the sticky cookie for the server that responds.
 */
export function forwardHttp(
  req: IncomingMessage,
  res: ServerResponse,
  info: ForwardInfo,
  server: UpstreamServer,
  lb: LoadBalancer,
  setCookie: boolean,
): void {
  new ResponseRelay(req, res, info, lb, server, setCookie).dispatch();
}
