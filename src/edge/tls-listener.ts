/**
 * A TLS entry point: one port, two modes. Each connection's ClientHello is peeked (nothing consumed), then by SNI,
 * ALPN and client address it is either passed through untouched to a TCP route's backend (which terminates TLS with
 * its own certificate), or terminated here with the certificate for its name and handed to the entry point's HTTP
 * server as HTTPS (its HTTP/2 server when the client picked h2). The edge never waits on anything but the
 * ClientHello: certificate selection reads an index.
 */
import { createServer as createNetServer, type Socket } from 'node:net';
import { TLSSocket, type SecureContext, type TLSSocketOptions } from 'node:tls';
import type { TicketKeys } from '../certs/index.js';
import type { PeerSettings } from '../challenges/index.js';
import type { ChallengeObserver } from '../challenges/decision.js';
import { createDispatcher, type AccessLogSwitch, type EntryHook, type RouteSource } from '../http/dispatch.js';
import { clientAddressOf, setClientAddress } from '../http/context.js';
import type { Logger } from '../log.js';
import { matchTcpRoute, type TcpRoute } from '../tcp/index.js';
import { isFromPeer, relayToPeers } from './alpn-relay.js';
import { bind, boundAddress, drain } from './bind.js';
import type { PeekFailure } from './client-hello.js';
import { CLIENT_SOCKET_HIGH_WATER_MARK, type EntryPointSettings } from './entry-point.js';
import { createFirstByteGate } from './first-byte-gate.js';
import { createH2Entry } from './h2-entry.js';
import { createHttpServer, startFedServer } from './http-entry.js';
import { openConnections, type Listener } from './http-listener.js';
import { peekClientHello } from './peek.js';
import { acceptProxyHeader } from './proxy-accept.js';
import { alertFor } from './tls-alert.js';

/** What a TLS entry point reads per connection: the TCP routes and the certificates in force. */
export interface TlsSources extends RouteSource {
  tcpRoutes(entryPoint: string): readonly TcpRoute[];
  /** The context for an SNI (undefined: no SNI), or undefined to refuse the handshake. */
  selectCertificate(sni: string | undefined): SecureContext | undefined;
  /** Session ticket keys shared by every terminated connection, rotated on an interval. */
  readonly ticketKeys: TicketKeys;
  /** The acme-tls/1 context of a pending tls-alpn-01 challenge for this name (src/challenges/), if any. */
  alpnChallenge?(sni: string): SecureContext | undefined;
  /**
   * Shared stores only: the acme-tls/1 context of another instance's pending challenge for this name. Asked only for
   * a validator's handshake that `alpnChallenge` missed; bounded in time, resolves undefined when absent.
   */
  fetchAlpnChallenge?(sni: string): Promise<SecureContext | undefined>;
  /** The challenge peers in force (`challenges.peers`), read per validator handshake so a reload can change them. */
  challengePeers?(): PeerSettings | undefined;
  /** Told of each acme-tls/1 decision (the admin's counters and recent list). */
  challengeDecided?: ChallengeObserver;
}

/** Time a client has to finish the handshake once we have its ClientHello. */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** ALPN offered on terminated connections (RFC 7301): HTTP/2 first when the entry point offers it (RFC 9113 §3.2). */
const ALPN_H2 = ['h2', 'http/1.1'];
const ALPN_HTTP1 = ['http/1.1'];
/** The ALPN protocol of tls-alpn-01 validation (RFC 8737 §6.2). */
const ACME_TLS = 'acme-tls/1';
const ACME_ALPN = [ACME_TLS];
/** Time the CA's validator has to finish its acme-tls/1 handshake. */
const ACME_HANDSHAKE_TIMEOUT_MS = 5_000;

const PLAIN_HTTP_BODY = 'This port speaks TLS: use https:// to reach this site.\n';
const PLAIN_HTTP_ANSWER = `HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(PLAIN_HTTP_BODY)}\r\n\r\n${PLAIN_HTTP_BODY}`;

/** Bind a TLS entry point. Rejects with LISTEN_FAILED naming the entry point. */
export async function listenTls(settings: EntryPointSettings, text: string, sources: TlsSources, log: Logger, accessLog: AccessLogSwitch, hook?: EntryHook): Promise<Listener> {
  const tls = settings.tls!;
  const name = settings.name;
  const dispatcher = createDispatcher(settings.entry, sources, log, accessLog, hook);
  // Passthrough connections get their line with the access log's switch (`log.accessLog`).
  const logPassthrough = typeof accessLog === 'function' ? accessLog : () => accessLog;
  const http = createHttpServer(settings, dispatcher, log);
  startFedServer(http);
  const h2 = tls.http2 ? createH2Entry(settings, dispatcher, log) : undefined;
  const alpn = h2 ? ALPN_H2 : ALPN_HTTP1;
  const open = new Set<Socket>();

  const terminate = (socket: Socket, replay: Buffer, sni: string | undefined): void => {
    const context = sources.selectCertificate(sni);
    if (context === undefined) {
      log.info({ entryPoint: name, sni, clientIp: socket.remoteAddress }, 'handshake refused: no certificate for this name');
      socket.destroy();
      return;
    }
    // The peeked bytes go back into the socket's buffer; TLSSocket reads what is buffered before the handle.
    socket.unshift(replay);
    // highWaterMark: TLSSocket hands it to its net.Socket (Node 20 and 24; @types/node does not list it).
    const options: TLSSocketOptions & { highWaterMark: number } = {
      isServer: true,
      secureContext: sources.ticketKeys.applyTo(context),
      ALPNProtocols: alpn,
      highWaterMark: CLIENT_SOCKET_HIGH_WATER_MARK,
    };
    const secure = new TLSSocket(socket, options);
    const client = clientAddressOf(socket);
    if (client.address !== socket.remoteAddress) setClientAddress(secure, client.address, client.port);
    const timer = setTimeout(() => secure.destroy(), HANDSHAKE_TIMEOUT_MS);
    secure.once('secure', () => {
      clearTimeout(timer);
      open.add(secure);
      secure.once('close', () => open.delete(secure));
      // Once per connection: a client that did not pick h2 (or offered no ALPN) gets HTTP/1.1 as before.
      if (h2 !== undefined && secure.alpnProtocol === 'h2') h2.accept(secure);
      else http.emit('connection', secure);
    });
    secure.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      log.debug({ entryPoint: name, sni, code: err.code, err: err.message }, 'tls connection error');
    });
    secure.once('close', () => clearTimeout(timer));
  };

  /** A connection that has sent its first bytes, with `remainingMs` of its ClientHello timeout left. */
  const handle = async (socket: Socket, remainingMs: number): Promise<void> => {
    socket.on('error', (err: NodeJS.ErrnoException) => log.debug({ entryPoint: name, code: err.code }, 'client socket error'));
    if (settings.proxyProtocolFrom && !(await acceptProxyHeader(socket, settings.proxyProtocolFrom, settings, log))) return;
    const peek = await peekClientHello(socket, { timeoutMs: remainingMs > 0 ? remainingMs : tls.clientHelloTimeoutMs, maxBytes: tls.maxClientHelloSize });
    if (!peek.ok) return reject(socket, peek.reason, peek.bytes, name, log);
    const { sni, alpn } = peek.hello;
    const acme = alpn.includes(ACME_TLS);
    // RFC 8737 §3: a validator offers acme-tls/1 alone. Only such handshakes take the branches below that may wait
    // (shared store, peers); a normal handshake's path is the one it always was.
    const validator = acme && alpn.every((p) => p === ACME_TLS);
    if (acme && sni !== undefined) {
      const challenge = sources.alpnChallenge?.(sni);
      if (challenge) return answerAlpnChallenge(socket, peek.bytes, challenge, sni, name, 'own', log, sources.challengeDecided);
      if (validator && sources.fetchAlpnChallenge) {
        const shared = await sources.fetchAlpnChallenge(sni);
        if (shared) return answerAlpnChallenge(socket, peek.bytes, shared, sni, name, 'shared', log, sources.challengeDecided);
      }
    }
    const client = clientAddressOf(socket);
    const route = matchTcpRoute(sources.tcpRoutes(name), { sni: peek.hello.sni ?? '', alpn: peek.hello.alpn, clientIp: client.address });
    if (route) {
      // The backend's own ACME client answers its validations (field note 000): passed through untouched.
      if (validator) {
        log.info({ entryPoint: name, sni, clientIp: socket.remoteAddress, answeredBy: 'passthrough', router: route.name }, 'acme-tls/1 handshake passed through');
        sources.challengeDecided?.({ challenge: 'tls-alpn-01', name: sni ?? '', answeredBy: 'passthrough', detail: route.name });
      }
      route.forwarder.forward(
        socket,
        peek.bytes,
        { clientIp: client.address, clientPort: client.port, localIp: socket.localAddress ?? '', localPort: socket.localPort ?? 0 },
        { entryPoint: name, sni, logged: logPassthrough() !== false },
      );
      return;
    }
    // A validator offering only acme-tls/1 for a name with no pending challenge must not get the normal
    // certificate: a CA could read it as a failed challenge, and a client that speaks no HTTP has no use for it.
    if (validator) return relayOrRefuse(socket, peek.bytes, sni);
    terminate(socket, peek.bytes, sni);
  };

  /** In peers mode, the peer holding the challenge answers; else (or for a handshake a peer relayed) refused. */
  const relayOrRefuse = async (socket: Socket, hello: Buffer, sni: string | undefined): Promise<void> => {
    const peers = sources.challengePeers?.();
    const base = { entryPoint: name, sni, clientIp: socket.remoteAddress };
    const told = (answeredBy: 'peer' | 'none', detail: string): void => sources.challengeDecided?.({ challenge: 'tls-alpn-01', name: sni ?? '', answeredBy, detail });
    if (peers === undefined || sni === undefined) {
      log.info({ ...base, answeredBy: 'none' }, 'acme-tls/1 handshake refused: no pending challenge');
      told('none', 'no pending challenge');
      socket.destroy();
      return;
    }
    if (await isFromPeer(socket.remoteAddress, peers.peers)) {
      log.info({ ...base, answeredBy: 'none', fromPeer: true }, 'acme-tls/1 handshake refused: no pending challenge');
      told('none', 'no pending challenge (relayed by a peer)');
      socket.destroy();
      return;
    }
    const relay = await relayToPeers(socket, hello, peers, boundAddress(listener));
    if (relay.answeredBy) {
      log.info({ ...base, answeredBy: 'peer', peer: relay.answeredBy.host, tried: relay.tried }, 'acme-tls/1 handshake relayed to a peer');
      told('peer', relay.answeredBy.host);
      return;
    }
    log.info({ ...base, answeredBy: 'none', tried: relay.tried }, 'acme-tls/1 handshake refused: no peer holds the challenge');
    told('none', 'no peer holds the challenge');
    socket.destroy();
  };

  // The ClientHello timeout counts from the accept: a connection that sends nothing at all is closed by the gate
  // (silently, spread out, counted), one that sends part of a hello by the peek with the time left.
  const gate = createFirstByteGate({
    entryPoint: name,
    timeoutMs: tls.clientHelloTimeoutMs,
    log,
    onFirstByte: (socket, remainingMs) => {
      handle(socket, remainingMs).catch((err: unknown) => {
        log.error({ entryPoint: name, err }, 'tls connection failed');
        socket.destroy();
      });
    },
  });
  // noDelay: a response's records leave as they are written. With Nagle's algorithm a small record written while
  // the previous one is unacknowledged waits for the client's delayed ACK, ~40 ms on Linux (issue 20, row 7).
  const listener = createNetServer({ pauseOnConnect: true, allowHalfOpen: true, noDelay: true, highWaterMark: CLIENT_SOCKET_HIGH_WATER_MARK }, (socket) => gate.admit(socket));
  await bind(listener, settings.address, name, text);
  listener.on('error', (err) => log.error({ err, entryPoint: name }, 'entry point error'));
  return {
    name,
    address: () => boundAddress(listener),
    close: (graceMs) => {
      const drained = drain(listener, http, graceMs, () => open.size, h2);
      gate.closeWaiting();
      return drained;
    },
    connections: () => openConnections(listener),
  };
}

/**
 * Answer a tls-alpn-01 validation: the handshake with the challenge certificate and ALPN acme-tls/1, then close.
 * RFC 8737 §3: once the handshake is done the validator closes, and no application data is ever exchanged.
 */
function answerAlpnChallenge(socket: Socket, replay: Buffer, context: SecureContext, sni: string, entryPoint: string, answeredBy: 'own' | 'shared', log: Logger, decided: ChallengeObserver | undefined): void {
  socket.unshift(replay);
  const secure = new TLSSocket(socket, { isServer: true, secureContext: context, ALPNProtocols: ACME_ALPN });
  const timer = setTimeout(() => secure.destroy(), ACME_HANDSHAKE_TIMEOUT_MS);
  // The decision is logged now: a validator that has what it needs may close before our side sees the handshake end.
  log.info({ entryPoint, sni, clientIp: socket.remoteAddress, answeredBy }, 'acme tls-alpn-01 challenge answered');
  decided?.({ challenge: 'tls-alpn-01', name: sni, answeredBy });
  let done = false;
  secure.once('secure', () => {
    clearTimeout(timer);
    done = true;
    secure.end();
  });
  secure.on('error', (err: NodeJS.ErrnoException) => {
    clearTimeout(timer);
    // After the handshake the validator just goes away (a reset is normal then); before it, the operator needs to know.
    log[done ? 'debug' : 'info']({ entryPoint, sni, clientIp: socket.remoteAddress, answeredBy, code: err.code, err: err.message }, 'acme-tls/1 connection error');
  });
  secure.once('close', () => clearTimeout(timer));
}

/**
 * A connection that did not start with a usable ClientHello: a helpful answer to plain HTTP, a fatal TLS alert to an
 * SSLv2 or oversize hello (tls-alert), else just closed.
 */
function reject(socket: Socket, reason: PeekFailure, bytes: Buffer, entryPoint: string, log: Logger): void {
  const quiet = reason === 'timeout' || reason === 'closed';
  const alert = alertFor(reason, bytes);
  log[quiet ? 'debug' : 'info']({ entryPoint, reason, alert: alert?.name, clientIp: socket.remoteAddress }, 'connection without a usable ClientHello');
  const answer = reason === 'http' ? PLAIN_HTTP_ANSWER : alert?.record;
  if (answer !== undefined && socket.writable) {
    socket.end(answer);
    // Drain what the client still sends (the rest of an oversize hello): closing on unread bytes would send a reset,
    // which can overtake the answer at the client.
    socket.resume();
    setTimeout(() => socket.destroy(), 1_000).unref();
    return;
  }
  socket.destroy();
}
