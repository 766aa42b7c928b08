/**
 * Connections to https:// and h2c:// upstreams, as undici connectors. Plain http:// servers use read-slabs.ts's
 * connector; these are their own because TLS needs what undici's connector does not give:
 * - verification done here on 'secureConnect' with the peer's certificate in hand, so a failure says which
 *   certificate was presented, for which names, signed by whom, and which transport field fixes it;
 * - a TLS session cache that keeps only sessions of connections that passed verification. Node skips the host
 *   name check on a resumed session (tls.js onConnectSecure), and undici's own cache stores every session it sees,
 *   a TLS 1.2 session of a connection then refused included; so a session is cached here only once its
 *   connection was accepted. A new connection to a server resumes the last one (an abbreviated handshake,
 *   RFC 8446 §2.2): keep-alive spares handshakes per request, resumption spares most of the rest.
 */
import { Agent, type AgentOptions } from 'node:http';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { buildConnector as BuildConnector } from 'undici';
import type { Transport } from './transport.js';

/** Full and resumed TLS handshakes to upstreams since start (tests, `npm run bench`, the admin's metrics). */
export const tlsHandshakes = { full: 0, resumed: 0 };

/** What a connector needs to know besides the transport: for messages and for the servers asking for a certificate. */
export interface ConnectorContext {
  /** The server's configured URL, as messages name it. */
  readonly url: string;
  /** The service, for the fix hint when the transport is the built-in default. */
  readonly service: string;
  readonly transport: Transport;
  /** ms; 0 = no connect timeout. */
  readonly connectTimeoutMs: number;
  /** Called once per connection when a server asked for a client certificate the transport does not have. */
  readonly onCertificateRequested?: (message: string) => void;
}

/** An upstream TLS failure in words an operator acts on; `code` UPSTREAM_TLS (the catalogue's), `tlsCode` Node's. */
export class UpstreamTlsError extends Error {
  override name = 'UpstreamTlsError';
  readonly code = 'UPSTREAM_TLS';
  constructor(
    message: string,
    readonly tlsCode: string,
  ) {
    super(message);
  }
}

class ConnectTimeoutError extends Error {
  override name = 'ConnectTimeoutError';
  // undici's own code for the same failure, so whatever reads undici's errors reads ours alike.
  readonly code = 'UND_ERR_CONNECT_TIMEOUT';
}

/** Where the fix goes: the transport's name, or the service that should name one. */
function fixTarget(ctx: ConnectorContext): string {
  return ctx.transport.name === ''
    ? `a serversTransport (http.serversTransports) named by service '${ctx.service}' in loadBalancer.serversTransport`
    : `transport '${ctx.transport.name}'`;
}

/** The names a certificate is for: its DNS and IP alternative names, else its CN. */
function certNames(cert: { subject?: { CN?: string | string[] } | undefined; subjectaltname?: string | undefined } | undefined): string[] {
  const alt = cert?.subjectaltname;
  if (alt) {
    const names = alt.split(', ').flatMap((e) => (e.startsWith('DNS:') ? [e.slice(4)] : e.startsWith('IP Address:') ? [e.slice(11)] : []));
    if (names.length > 0) return names;
  }
  const cn = cert?.subject?.CN;
  return cn === undefined ? [] : Array.isArray(cn) ? cn : [cn];
}

/** `'a', 'b'` for messages. */
const quoted = (names: readonly string[]): string => (names.length === 0 ? 'no name' : names.map((n) => `'${n}'`).join(', '));

/** Error codes OpenSSL gives for a chain that does not lead to a trusted CA. */
const UNTRUSTED = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'SELF_SIGNED_CERT_IN_CHAIN', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE']);

/**
 * Why a verified connection was refused, from the authorization error and the certificate the server presented.
 * `expected`: the name it was checked against.
 */
function describeRejection(socket: TLSSocket, code: string, expected: string, ctx: ConnectorContext): UpstreamTlsError {
  const peer = socket.getPeerCertificate(true);
  const names = certNames(peer);
  const x509 = socket.getPeerX509Certificate();
  const issuer = x509 ? x509.issuer.split('\n').join(', ') : 'unknown';
  const presented = `upstream ${ctx.url} presented a certificate for ${quoted(names)}`;
  const trust = ctx.transport.tls.rootCaNames.length > 0 ? `the transport's rootCAs (${ctx.transport.tls.rootCaNames.map((n) => `'${n}'`).join(', ')})` : "the system's CAs";
  const fix = fixTarget(ctx);
  let text: string;
  if (code === 'DEPTH_ZERO_SELF_SIGNED_CERT') {
    text = `${presented} that is self-signed, not trusted by ${trust}; add that certificate to rootCAs (or set insecureSkipVerify) on ${fix}`;
  } else if (UNTRUSTED.has(code)) {
    text = `${presented} signed by an unknown CA ('${issuer}'), not trusted by ${trust}; set rootCAs (the CA's certificate) or insecureSkipVerify on ${fix}`;
  } else if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const set = ctx.transport.tls.serverName !== undefined ? `fix serverName on ${fix}` : `set serverName to one of them on ${fix}`;
    text = `${presented}, not for '${expected}'; ${set} (or give the server a certificate for '${expected}')`;
  } else if (code === 'CERT_HAS_EXPIRED') {
    text = `${presented} that expired on ${x509?.validTo ?? 'an earlier date'}; renew the server's certificate (or set insecureSkipVerify on ${fix})`;
  } else if (code === 'CERT_NOT_YET_VALID') {
    text = `${presented} that is valid only from ${x509?.validFrom ?? 'a later date'}; check the clocks of both machines (or set insecureSkipVerify on ${fix})`;
  } else {
    text = `${presented} that failed verification (${code}); set rootCAs or insecureSkipVerify on ${fix}`;
  }
  return new UpstreamTlsError(text, code);
}

/** TLS alerts and handshake errors, from Node's error code, in an operator's words; undefined for other errors. */
export function describeTlsFailure(err: Error & { code?: string }, ctx: ConnectorContext): UpstreamTlsError | undefined {
  const code = err.code ?? '';
  const at = `upstream ${ctx.url}`;
  const fix = fixTarget(ctx);
  const client = ctx.transport.tls.clientCertificate;
  if (code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED') {
    return new UpstreamTlsError(
      client === undefined
        ? `${at} requires a client certificate and none was sent; set certificates (certFile, keyFile) on ${fix}`
        : `${at} requires a client certificate and refused the one sent ('${client}')`,
      code,
    );
  }
  if (client === undefined && /ALERT_(HANDSHAKE_FAILURE|BAD_CERTIFICATE)$/.test(code)) {
    // TLS 1.2 has no certificate_required alert (RFC 8446 §6.2 added it): servers refusing a missing one send these.
    return new UpstreamTlsError(
      `${at} refused the TLS handshake (${code.endsWith('FAILURE') ? 'handshake failure' : 'bad certificate'}), as servers do when they require a client certificate and none was sent; if it does, set certificates (certFile, keyFile) on ${fix}`,
      code,
    );
  }
  if (/ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_UNKNOWN|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|DECRYPT_ERROR|ACCESS_DENIED)$/.test(code)) {
    return new UpstreamTlsError(`${at} refused the client certificate of ${fix} ('${client}') (${code.replace(/^ERR_SSL_\w+?_ALERT_/, '').toLowerCase().replace(/_/g, ' ')}): it does not trust it`, code);
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' || code === 'ERR_SSL_HTTP_REQUEST') {
    return new UpstreamTlsError(`${at} does not speak TLS on that port; use http:// if it is a plain HTTP server`, code);
  }
  if (code.startsWith('ERR_SSL_')) return new UpstreamTlsError(`${at}: the TLS handshake failed (${err.message})`, code);
  return undefined;
}

/** A connection closed or reset under a request. */
const CLOSED = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

/** `host` without IPv6 brackets. */
const bare = (host: string): string => (host.startsWith('[') ? host.slice(1, -1) : host);

/** Arm a connect timeout on `socket` (cleared once `event` fires). */
function connectTimeout(socket: Socket, event: 'connect' | 'secureConnect', ms: number, where: string): void {
  if (ms <= 0) return;
  const timer = setTimeout(() => socket.destroy(new ConnectTimeoutError(`connect timeout: no ${event === 'secureConnect' ? 'TLS connection' : 'connection'} to ${where} within ${ms} ms`)), ms);
  timer.unref();
  const clear = (): void => clearTimeout(timer);
  socket.once(event, clear);
  socket.once('close', clear);
}

/**
 * The connector of one https:// server: TLS with the transport's settings, verification done here (see the file's
 * comment), sessions resumed. undici calls it with the pool's origin.
 */
export function tlsConnector(ctx: ConnectorContext): BuildConnector.connector {
  const { transport } = ctx;
  let session: Buffer | undefined;
  const connector = (options: BuildConnector.Options, callback: BuildConnector.Callback): Socket => {
    const host = bare(options.hostname);
    const name = transport.tls.serverName ?? host;
    // RFC 6066 §3: SNI carries host names only, never an address literal.
    const servername = isIP(name) === 0 ? name : undefined;
    const socket = tlsConnect({
      ...transport.tls.options,
      // Checked below, with the certificate at hand for the message.
      rejectUnauthorized: false,
      host,
      port: Number(options.port) || 443,
      ...(servername !== undefined && { servername }),
      ...(session !== undefined && { session }),
      ALPNProtocols: ['http/1.1'],
    });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    connectTimeout(socket, 'secureConnect', ctx.connectTimeoutMs, ctx.url);
    let accepted = false;
    let offered: Buffer | undefined;
    // TLS 1.2 hands the session over during the handshake, TLS 1.3 in a ticket after it: kept only once accepted.
    socket.on('session', (s: Buffer) => {
      if (accepted) session = s;
      else offered = s;
    });
    let pending: BuildConnector.Callback | undefined = callback;
    let certificateRequested = false;
    socket.once('secureConnect', () => {
      const reused = socket.isSessionReused();
      if (transport.tls.options.rejectUnauthorized && !socket.authorized) {
        const error = describeRejection(socket, String(socket.authorizationError), name, ctx);
        const cb = pending;
        pending = undefined;
        cb?.(error, null);
        // Also as the socket's error: a request already waiting on this socket (an upgrade's) reads it there.
        socket.destroy(error);
        return;
      }
      // Node skips the name check on a resumed session; ours come only from accepted connections for this name.
      if (reused) tlsHandshakes.resumed++;
      else tlsHandshakes.full++;
      accepted = true;
      if (offered !== undefined) session = offered;
      offered = undefined;
      // A server that asked for a client certificate (its CertificateRequest carries signature algorithms, which is
      // the only way a client sees the request) and got none: it may answer with an error page (nginx: 400).
      if (transport.tls.clientCertificate === undefined && socket.getSharedSigalgs().length > 0) {
        certificateRequested = true;
        ctx.onCertificateRequested?.(`upstream ${ctx.url} asked for a client certificate and none was sent; if it requires one, set certificates (certFile, keyFile) on ${fixTarget(ctx)}`);
      }
      pending?.(null, socket);
      pending = undefined;
    });
    // Added before undici's listener: a TLS alert later in the connection's life (TLS 1.3 refuses a missing client
    // certificate after the handshake) reaches undici, and so the log, already described.
    socket.on('error', (err: Error & { code?: string }) => {
      const described =
        describeTlsFailure(err, ctx) ??
        // The server asked for a client certificate, got none, and hung up: a TLS 1.3 server's certificate_required
        // alert can be lost to the close that follows it (undici sees "other side closed" first).
        (certificateRequested && CLOSED.has(err.code ?? '')
          ? new UpstreamTlsError(`upstream ${ctx.url} asked for a client certificate, got none, and closed the connection; set certificates (certFile, keyFile) on ${fixTarget(ctx)}`, err.code ?? '')
          : undefined);
      if (described !== undefined) {
        err.message = described.message;
        (err as { code?: string }).code = described.code;
      }
      if (pending) {
        pending(err, null);
        pending = undefined;
      }
    });
    return socket;
  };
  return connector as unknown as BuildConnector.connector;
}

/**
 * The connector of one h2c:// server: plain TCP that undici speaks HTTP/2 on from the first byte (prior knowledge,
 * RFC 9113 §3.3), as undici's own h2c client marks it.
 */
export function h2cConnector(ctx: ConnectorContext): BuildConnector.connector {
  const connector = (options: BuildConnector.Options, callback: BuildConnector.Callback): Socket => {
    const socket = netConnect({ host: bare(options.hostname), port: Number(options.port) || 80 });
    (socket as Socket & { alpnProtocol?: string }).alpnProtocol = 'h2';
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    connectTimeout(socket, 'connect', ctx.connectTimeoutMs, ctx.url);
    let pending: BuildConnector.Callback | undefined = callback;
    socket.once('connect', () => {
      pending?.(null, socket);
      pending = undefined;
    });
    socket.on('error', (err) => {
      pending?.(err, null);
      pending = undefined;
    });
    return socket;
  };
  return connector as unknown as BuildConnector.connector;
}

/** The name a TLS connection to `url` is checked against under `transport` (explain, health checks). */
export function verificationName(url: URL, transport: Transport): string {
  return transport.tls.serverName ?? bare(url.hostname);
}


/**
 * A node:http Agent (no keep-alive) whose sockets come from a connector, so a request made with node:http or
 * http-proxy (upgrades, health checks) connects exactly as the server's pool does: verification, messages, sessions.
 */
export class ConnectorAgent extends Agent {
  readonly #connect: BuildConnector.connector;

  constructor(connect: BuildConnector.connector, options: AgentOptions = {}) {
    super({ ...options, keepAlive: false });
    this.#connect = connect;
    // node:https's request checks the agent's protocol against its own.
    (this as unknown as { protocol: string }).protocol = 'https:';
  }

  // Node's Agent waits for the callback when this returns nothing: the socket is handed over once TLS is verified.
  override createConnection(options: { host?: string | null; port?: number | string | null }, callback: (err: Error | null, socket?: Duplex) => void): undefined {
    const host = options.host ?? 'localhost';
    const target = { hostname: host, host, protocol: 'https:', port: String(options.port ?? ''), servername: null } as unknown as BuildConnector.Options;
    (this.#connect as unknown as (o: BuildConnector.Options, cb: (err: Error | null, socket: Duplex | null) => void) => void)(target, (err, socket) =>
      err ? callback(err) : callback(null, socket as Duplex),
    );
    return undefined;
  }
}
