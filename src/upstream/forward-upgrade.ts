/**
 * Forwarding Upgrade (WebSocket) requests with http-proxy 1.18.1's `ws` path, plus the repairs that version
 * needs. We stay on 1.18.1 because http-proxy-3 requires Node >= 22 and gatehouse supports Node 20.
 *
 * What 1.18.1 gets wrong on this path, and what we do about it here:
 * - once piped, it ends the peer only on a FIN or an 'error'; a side destroyed silently (by close(), a server
 *   timeout) leaves the other open: we link the two sockets' 'close' events and destroy both. (Client/server
 *   close, terminate and RST all end cleanly in our leak test even without this link: it is a guard.)
 * - a client that hangs up while the upstream has not answered yet leaves the upstream request (and the
 *   half-open client socket) open until the upstream answers, maybe never: we destroy both on the client's
 *   FIN or close (the test "drops the upstream request…" fails without this);
 * - the client socket has no 'error' listener until the upgrade succeeds (Node's server drops its own when it
 *   hands the socket over), so an early client reset would crash the process: we add one at once;
 * - a refusal (non-101 answer) is relayed with the upstream's `Transfer-Encoding: chunked` header over an
 *   already de-chunked body: we drop that header and mark the response `Connection: close`, so the body is
 *   delimited by the close (RFC 9112 §6.3);
 * - no timeout for the upstream's answer: we apply responseHeadersTimeoutMs until 101 or a response arrives.
 *
 * wss: an https:// server's upgrade goes through an Agent whose connections come from the server's own TLS connector
 * (tls-connector.ts): the transport's CAs, server name and client certificate, the same verification and messages
 * as its requests, and its resumed sessions. An h2c:// server gets its upgrade over HTTP/1.1 (RFC 9113 §3.2 has no
 * Upgrade in HTTP/2; a server speaking only h2c answers it with an error).
 */
import type { IncomingMessage, ClientRequest, OutgoingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { createRequire } from 'node:module';
import type httpProxy from 'http-proxy';
import type { ErrorCode } from '../errors.js';
import { upstreamRequestHeaders, HOP_BY_HOP_UPGRADE } from './forwarded-headers.js';
import type { ForwardInfo } from './forward-http.js';
import type { UpstreamServer } from './upstream-server.js';
import type { Agent } from 'node:http';
import { ConnectorAgent } from './tls-connector.js';

/** Client socket → upstream socket of every websocket whose upgrade succeeded (for closeWebSocket). */
const websockets = new WeakMap<Duplex, Socket>();

/** A WebSocket close frame, server to client (unmasked): status 1001 "going away" (RFC 6455 §5.5.1, §7.4.1). */
const GOING_AWAY = Buffer.from([0x88, 0x02, 0x03, 0xe9]);
/** Time a closed websocket's client has to answer the close before both sockets are destroyed. */
const CLOSE_WAIT_MS = 2_000;

/**
 * End an upgraded connection as a server going away: a websocket whose upgrade succeeded gets a close frame (1001)
 * after the upstream's stream to it is unpiped (so the frame is not written into the middle of another), then a
 * FIN; anything else (upgrade still pending, another protocol) is destroyed.
 */
export function closeWebSocket(socket: Duplex): void {
  const upstream = websockets.get(socket);
  if (upstream === undefined || socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  websockets.delete(socket);
  upstream.unpipe(socket);
  socket.write(GOING_AWAY);
  socket.end();
  upstream.end();
  setTimeout(() => {
    socket.destroy();
    upstream.destroy();
  }, CLOSE_WAIT_MS).unref();
}

/** Forwards upgrades to any server of one service; owns every socket it opened until they close. */
export interface UpgradeForwarder {
  /** Forward one upgrade request to `server`; never throws, always ends or hands over `socket`. */
  forward(req: IncomingMessage, socket: Duplex, head: Buffer, info: ForwardInfo, server: UpstreamServer): void;
  /** Destroy every client and upstream socket still open, and pending upstream requests. */
  close(): void;
}

/** Per-upgrade state carried from `forward` to http-proxy's events (it passes the same `req` object back). */
interface Pending {
  info: ForwardInfo;
  server: UpstreamServer;
  timer: NodeJS.Timeout | undefined;
  upgraded: boolean;
}

function errorResponse(status: 502 | 504): string {
  const text = status === 504 ? 'Gateway Timeout' : 'Bad Gateway';
  const body = `${text}\n`;
  return `HTTP/1.1 ${status} ${text}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`;
}
const BAD_GATEWAY = errorResponse(502);
const GATEWAY_TIMEOUT = errorResponse(504);

class UpgradeTimeoutError extends Error {
  readonly code = 'UPSTREAM_TIMEOUT';
}

/** Where http-proxy sends the upgrade of `server`, and the agent it goes through (https:// only). */
interface UpgradeTarget {
  target: string;
  agent: Agent | undefined;
}

function upgradeTarget(server: UpstreamServer): UpgradeTarget {
  if (server.protocol === 'https' && server.connect !== undefined) {
    return { target: server.url, agent: new ConnectorAgent(server.connect) };
  }
  // h2c://: the same host over HTTP/1.1 (http-proxy knows http: and https: only).
  return { target: server.protocol === 'h2c' ? `${server.origin}${server.pathPrefix}` : server.url, agent: undefined };
}

/** Headers for the upstream as the object http-proxy copies; repeated request headers become arrays. */
function headerObject(flat: readonly string[]): OutgoingHttpHeaders {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < flat.length; i += 2) {
    const key = (flat[i] as string).toLowerCase();
    const value = flat[i + 1] as string;
    const prior = out[key];
    out[key] = prior === undefined ? value : Array.isArray(prior) ? [...prior, value] : [prior, value];
  }
  return out;
}

/** Create the forwarder; `responseHeadersTimeoutMs` 0 means wait for the upstream's answer indefinitely. */
export function createUpgradeForwarder(passHostHeader: boolean, responseHeadersTimeoutMs: number): UpgradeForwarder {
  // Loaded with the first service, not with the module: a config without services never needs it.
  const { createProxyServer } = createRequire(import.meta.url)('http-proxy') as typeof httpProxy;
  const proxy = createProxyServer({ ws: true, xfwd: false, changeOrigin: false });
  const pending = new WeakMap<IncomingMessage, Pending>();
  const targets = new WeakMap<UpstreamServer, UpgradeTarget>();
  /** Everything open that close() must end: client sockets, upstream sockets, upstream requests. */
  const owned = new Set<{ destroy(): void }>();

  const track = (thing: Duplex | ClientRequest): void => {
    owned.add(thing);
    thing.once('close', () => owned.delete(thing));
  };

  proxy.on('proxyReqWs', (proxyReq: ClientRequest, req: IncomingMessage, socket: Socket) => {
    const state = pending.get(req);
    track(proxyReq);
    // Client gone before the upstream answered: nothing will ever read that answer. Node's server sockets
    // allow half-open, so a client FIN arrives as 'end' with no 'close' after it: both are the client leaving.
    const abandon = (): void => {
      if (state?.upgraded) return;
      proxyReq.destroy();
      socket.destroy();
    };
    socket.once('end', abandon);
    socket.once('close', abandon);
    if (state && responseHeadersTimeoutMs > 0) {
      state.timer = setTimeout(() => proxyReq.destroy(new UpgradeTimeoutError('no upgrade response in time')), responseHeadersTimeoutMs);
    }
    proxyReq.once('response', (res: IncomingMessage) => {
      if (state) clearTimeout(state.timer);
      if (res.statusCode === 101) return;
      // http-proxy pipes the de-chunked body after copying these headers verbatim.
      delete res.headers['transfer-encoding'];
      res.headers['connection'] = 'close';
    });
    // Registered before http-proxy's own 'upgrade' listener (this event fires first), so the link is in place
    // before any byte is piped.
    proxyReq.once('upgrade', (_res: IncomingMessage, proxySocket: Socket) => {
      if (state) {
        clearTimeout(state.timer);
        state.upgraded = true;
      }
      track(proxySocket);
      if (/^websocket$/i.test(String(req.headers.upgrade ?? ''))) websockets.set(socket, proxySocket);
      const destroyBoth = (): void => {
        socket.destroy();
        proxySocket.destroy();
      };
      socket.once('close', destroyBoth);
      proxySocket.once('close', destroyBoth);
    });
  });

  const onProxyError = (err: Error & { code?: string }, req: IncomingMessage, socket: Duplex): void => {
    const state = pending.get(req);
    if (state) clearTimeout(state.timer);
    if (socket.destroyed) return;
    const timedOut = err instanceof UpgradeTimeoutError;
    const code: ErrorCode = state?.upgraded ? 'UPSTREAM_FAILED' : timedOut ? 'UPSTREAM_TIMEOUT' : err.code === 'UPSTREAM_TLS' ? 'UPSTREAM_TLS' : 'UPSTREAM_CONNECT';
    state?.info.log.warn({ code, reason: err.message, upstream: state.server.url }, 'upstream failed');
    if (state?.upgraded) {
      socket.destroy();
      return;
    }
    // Before the 101 the client still speaks HTTP: answer it, then hang up. A client that does not read
    // even this short answer is cut after a second.
    const destroy = (): void => void socket.destroy();
    socket.end(timedOut ? GATEWAY_TIMEOUT : BAD_GATEWAY, destroy);
    setTimeout(destroy, 1000).unref();
  };
  // Errors outside a call's callback (none expected with a callback given) must not crash the process.
  proxy.on('error', () => {});

  return {
    forward(req, socket, head, info, server) {
      info.upstream = server.url;
      track(socket);
      socket.on('error', (err: Error) => info.log.debug({ err }, 'client socket error during upgrade'));
      try {
        req.headers = headerObject(upstreamRequestHeaders(req.rawHeaders, info, passHostHeader ? undefined : server.host, HOP_BY_HOP_UPGRADE)) as IncomingMessage['headers'];
        pending.set(req, { info, server, timer: undefined, upgraded: false });
        let to = targets.get(server);
        if (to === undefined) targets.set(server, (to = upgradeTarget(server)));
        proxy.ws(req, socket, head, { target: to.target, ...(to.agent && { agent: to.agent }) }, onProxyError as unknown as httpProxy.ErrorCallback);
      } catch (err) {
        onProxyError(err as Error, req, socket);
      }
    },
    close() {
      for (const thing of owned) thing.destroy();
      owned.clear();
      proxy.close();
    },
  };
}
