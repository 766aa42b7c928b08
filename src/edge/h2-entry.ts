/**
 * The HTTP/2 side of a TLS entry point. Connections that negotiated ALPN h2 (RFC 9113 §3.2) are fed to a plain
 * HTTP/2 server (TLS is already terminated by tls-listener), whose compatibility API runs the same dispatcher as the
 * HTTP/1.1 server: same routers, middlewares, forwarder and access log. Upstreams are still spoken to in HTTP/1.1.
 * Websockets stay on HTTP/1.1: RFC 8441 extended CONNECT is not offered, so a websocket client picks http/1.1.
 */
import { createServer, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type { Dispatcher } from '../http/dispatch.js';
import type { Logger } from '../log.js';
import type { EntryPointSettings } from './entry-point.js';
import { H2Request, H2Response } from './h2-messages.js';
import { h2HeaderPairs, refuseHeaderFloods } from './header-count.js';

/**
 * SETTINGS_MAX_CONCURRENT_STREAMS (RFC 9113 §6.5.2): streams one client may have open at once. RFC 9113 §6.5.2
 * recommends at least 100, what browsers expect; beyond it each stream is an upstream request in flight.
 */
const MAX_CONCURRENT_STREAMS = 100;

/** The HTTP/2 server of one TLS entry point, and the sessions it holds (for drain). */
export interface H2Entry {
  /** Serve a TLS socket whose handshake is done and negotiated h2. */
  accept(socket: TLSSocket): void;
  /** GOAWAY on every session (RFC 9113 §6.8): streams in flight finish, no new ones start; later sessions too. */
  closeSessions(): void;
  /** Cut every session that is still open (the grace period is over). */
  destroySessions(): void;
}

/** Build the HTTP/2 server of a TLS entry point around the dispatcher its HTTP/1.1 server uses. */
export function createH2Entry(settings: EntryPointSettings, shared: Dispatcher, log: Logger): H2Entry {
  const dispatcher = refuseHeaderFloods(shared, settings, log);
  const entryPoint = settings.name;
  const idleMs = settings.serverOptions.keepAliveTimeout ?? 0;
  const sessions = new Set<ServerHttp2Session>();
  let closing = false;
  const server = createServer(
    {
      Http2ServerRequest: H2Request as unknown as typeof Http2ServerRequest,
      Http2ServerResponse: H2Response as unknown as typeof Http2ServerResponse,
      // Past the entry point's maxHeaderCount a request is answered 431 (header-count); past this, Node resets it.
      maxHeaderListPairs: h2HeaderPairs(settings.maxHeaderCount),
      settings: {
        maxConcurrentStreams: MAX_CONCURRENT_STREAMS,
        // The HTTP/1.1 limit, as SETTINGS_MAX_HEADER_LIST_SIZE (RFC 9113 §6.5.2); Node resets a stream over it.
        maxHeaderListSize: settings.serverOptions.maxHeaderSize,
        enablePush: false,
      },
    },
    // The compatibility request and response stand in for IncomingMessage and ServerResponse (see h2-messages).
    dispatcher.onRequest as unknown as (req: Http2ServerRequest, res: Http2ServerResponse) => void,
  );
  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    // A protocol error or a flood Node's mitigations caught (CVE-2023-44487 rapid reset) ends that session only.
    session.on('error', (err: NodeJS.ErrnoException) => log.debug({ entryPoint, code: err.code, err: err.message }, 'http2 session error'));
    // The entry point's idle timeout, as for an HTTP/1.1 keep-alive connection: a quiet session is closed politely.
    if (idleMs > 0) session.setTimeout(idleMs, () => session.close());
    // The client closed its side (FIN, as curl does after its GOAWAY): it sends nothing more, so the session ends once
    // its streams are answered. The TLS socket is half-open (allowHalfOpen, which passthrough needs) and Node's
    // session does not end on it: without this the socket's file descriptor stayed open, and counted in the admin's
    // gauge, until the idle timeout a minute later, long after the kernel had closed the connection (issue 19).
    session.socket.once('end', () => session.close());
    if (closing) session.close();
  });
  return {
    accept(socket) {
      // Node's HTTP/2 session waits for 'secureConnect' while a TLS socket is marked connecting. Only tls.Server
      // clears that mark on the sockets it accepts; this one was wrapped by hand and its handshake is done.
      (socket as TLSSocket & { secureConnecting: boolean }).secureConnecting = false;
      server.emit('connection', socket);
    },
    closeSessions() {
      closing = true;
      for (const session of sessions) session.close();
    },
    destroySessions() {
      for (const session of sessions) session.destroy();
    },
  };
}
