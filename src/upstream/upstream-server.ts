/**
 * One upstream server of a service: what can be worked out once (origin, path prefix, Host value, sticky id, its
 * keep-alive undici Pool) and the little mutable state the load balancer keeps on it (requests in flight, health).
 * http:// servers read into reused slabs (read-slabs.ts); https:// and h2c:// ones connect through tls-connector.ts
 * with their service's transport.
 */
import { createHash } from 'node:crypto';
import type { Pool as PoolType, buildConnector as BuildConnector } from 'undici';
import { slabConnector } from './read-slabs.js';
import { h2cConnector, tlsConnector } from './tls-connector.js';
import { DEFAULT_TRANSPORT, type Transport } from './transport.js';
import { Pool } from './undici-parts.js';

/** Pool settings shared by every server of a service; times in ms, 0 = off. */
export interface PoolSettings {
  connectTimeoutMs: number;
  responseHeadersTimeoutMs: number;
  idleTimeoutMs: number;
  /** Connections per server; -1: one connection per request (a transport's maxIdleConnsPerHost -1). */
  maxConnections: number;
  /** http:// servers: bytes per socket read (read-slabs.ts); default its SLAB_BYTES. */
  readBufferBytes?: number;
  /** TLS and the rest for https:// and h2c:// servers; default: the built-in one (system CAs). */
  transport?: Transport;
  /** The service's name, for messages that say where a fix goes. */
  service?: string;
  /** A server asked for a client certificate the transport does not have (logged once per server). */
  onCertificateRequested?: (server: string, message: string) => void;
}

/** How a server is spoken to. */
export type UpstreamProtocol = 'http' | 'https' | 'h2c';

/** One upstream server, precomputed so the per-request path only concatenates strings and compares numbers. */
export interface UpstreamServer {
  /** The configured URL, as logs and the access log show it. */
  readonly url: string;
  /** `http://host:port` or `https://host:port` (h2c:// servers: http://), the target of upgrades and health checks. */
  readonly origin: string;
  readonly protocol: UpstreamProtocol;
  /** Its sockets read into read-slabs.ts's reused buffers (http:// only): the forwarder tracks those reads. */
  readonly slabReads: boolean;
  /** The transport its connections use (the built-in default for http:// servers, which it does not affect). */
  readonly transport: Transport;
  /**
   * Its connector for https:// (TLS with the transport's verification, sessions resumed) and h2c:// (TCP marked
   * for HTTP/2); undefined for http://. Upgrades and health checks connect through it too.
   */
  readonly connect: BuildConnector.connector | undefined;
  /** Path of the URL without its trailing slash (`''` for none), prefixed to every request path. */
  readonly pathPrefix: string;
  /** The URL's host (with port when given), sent as Host when passHostHeader is false. */
  readonly host: string;
  readonly pool: PoolType;
  /** Position in the service's server list. */
  readonly index: number;
  /** This server's bit in a request's "already tried" mask; 0 past the 31st server (those are not tracked). */
  readonly bit: number;
  readonly weight: number;
  /** Stable across restarts and reloads, reveals nothing of the address: what a sticky cookie holds. */
  readonly id: string;
  /** Requests dispatched to it and not finished yet. */
  inFlight: number;
  /** The active health check's verdict. */
  activeDown: boolean;
  /** Taken out by passive checks until this time (epoch ms); 0 when not. */
  passiveDownUntil: number;
  /** Smooth weighted round robin's running weight. */
  currentWeight: number;
}

/** A server as the options give it: a URL, or a URL with a weight. */
export type ServerSpec = string | { url: string; weight?: number };

/** Timers beyond 2^31-1 ms overflow in Node, so "no idle limit" is the longest a timer can wait (~24.8 days). */
const NO_LIMIT_MS = 2_147_483_647;

/** The id a sticky cookie carries for `url`: the first 16 hex digits of its SHA-256. */
export function serverId(url: string): string {
  return createHash('sha256').update(url).digest('hex').slice(0, 16);
}

/** Concurrent streams per h2c connection: undici's h2c client's default, and Node's h2 server's. */
const H2C_STREAMS = 100;

const PROTOCOLS: Readonly<Record<string, UpstreamProtocol>> = { 'http:': 'http', 'https:': 'https', 'h2c:': 'h2c' };

/**
 * Build one server: parses the URL once; throws a TypeError on a URL that is not http://, https:// or h2c://, or a
 * weight that is not a positive integer.
 */
export function createServer(spec: ServerSpec, index: number, settings: PoolSettings): UpstreamServer {
  const url = typeof spec === 'string' ? spec : spec.url;
  const weight = typeof spec === 'string' ? 1 : (spec.weight ?? 1);
  if (!Number.isInteger(weight) || weight < 1) throw new TypeError(`upstream weight must be a positive integer, got ${weight}`);
  const parsed = new URL(url);
  const protocol = PROTOCOLS[parsed.protocol];
  if (protocol === undefined) throw new TypeError(`upstream URL must be http://, https:// or h2c://, got ${url}`);
  // h2c:// is not a special scheme for WHATWG URL: its origin is "null", so it is rebuilt as http:// here.
  const origin = protocol === 'h2c' ? `http://${parsed.host}` : parsed.origin;
  const transport = settings.transport ?? DEFAULT_TRANSPORT;
  const context = {
    url,
    service: settings.service ?? '',
    transport,
    connectTimeoutMs: settings.connectTimeoutMs,
    onCertificateRequested: onceFor(url, settings.onCertificateRequested),
  };
  const connect = protocol === 'https' ? tlsConnector(context) : protocol === 'h2c' ? h2cConnector(context) : undefined;
  const idle = settings.idleTimeoutMs > 0 ? settings.idleTimeoutMs : NO_LIMIT_MS;
  const pool = new Pool(origin, {
    connections: settings.maxConnections > 0 ? settings.maxConnections : null,
    // One request per connection at a time: pipelining makes one slow response stall the ones queued behind it.
    // HTTP/2 multiplexes streams instead, each with its own flow control.
    // No reuse asked for (maxIdleConnsPerHost -1): 0 is undici's "no keep-alive", one request per connection.
    pipelining: protocol === 'h2c' ? H2C_STREAMS : settings.maxConnections < 0 ? 0 : 1,
    ...(protocol === 'h2c' && { allowH2: true, maxConcurrentStreams: H2C_STREAMS }),
    // http://: sockets that read into reused buffers (read-slabs.ts), no fresh 64 KiB ArrayBuffer per read.
    connect: connect ?? slabConnector(settings.connectTimeoutMs, settings.readBufferBytes),
    headersTimeout: settings.responseHeadersTimeoutMs,
    // No body timeout: a server-sent event stream or long poll may be silent for minutes; the client side's
    // own timeouts and disconnects end those.
    bodyTimeout: 0,
    keepAliveTimeout: idle,
    // The upstream's `Keep-Alive: timeout=` hint may shorten the idle time, never lengthen it past ours.
    keepAliveMaxTimeout: idle,
  });
  const pathname = parsed.pathname.endsWith('/') ? parsed.pathname.slice(0, -1) : parsed.pathname;
  return {
    url,
    origin,
    protocol,
    slabReads: protocol === 'http',
    transport,
    connect,
    pathPrefix: pathname,
    host: parsed.host,
    pool,
    index,
    bit: index < 31 ? 1 << index : 0,
    weight,
    id: serverId(url),
    inFlight: 0,
    activeDown: false,
    passiveDownUntil: 0,
    currentWeight: 0,
  };
}

/** `notify` called at most once for `url` (a server that asks for a client certificate asks on every connection). */
function onceFor(url: string, notify: ((server: string, message: string) => void) | undefined): ((message: string) => void) | undefined {
  if (notify === undefined) return undefined;
  let told = false;
  return (message) => {
    if (told) return;
    told = true;
    notify(url, message);
  };
}

/** True when the server may take requests at `now` (epoch ms): up for the active check, not cooling down. */
export function isUsable(server: UpstreamServer, now: number): boolean {
  return !server.activeDown && (server.passiveDownUntil === 0 || server.passiveDownUntil <= now);
}
