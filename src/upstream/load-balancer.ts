/**
 * The servers of one service, each with what can be worked out once (origin, path prefix, Host value, its
 * keep-alive undici Pool), and round-robin selection among them.
 */
import { Pool } from 'undici';

/** Pool settings shared by every server of a service; times in ms, 0 = off. */
export interface PoolSettings {
  connectTimeoutMs: number;
  responseHeadersTimeoutMs: number;
  idleTimeoutMs: number;
  maxConnections: number;
}

/** One upstream server, precomputed so the per-request path only concatenates strings. */
export interface UpstreamServer {
  /** The configured URL, as logs and the access log show it. */
  readonly url: string;
  /** `http://host:port`, the target of upgrades. */
  readonly origin: string;
  /** Path of the URL without its trailing slash (`''` for none), prefixed to every request path. */
  readonly pathPrefix: string;
  /** The URL's host (with port when given), sent as Host when passHostHeader is false. */
  readonly host: string;
  readonly pool: Pool;
}

/** Timers beyond 2^31-1 ms overflow in Node, so "no idle limit" is the longest a timer can wait (~24.8 days). */
const NO_LIMIT_MS = 2_147_483_647;

/** Build one server: parses the URL once; throws a TypeError on a URL that is not http://. */
export function createServer(url: string, settings: PoolSettings): UpstreamServer {
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:') throw new TypeError(`upstream URL must be http://, got ${url}`);
  const idle = settings.idleTimeoutMs > 0 ? settings.idleTimeoutMs : NO_LIMIT_MS;
  const pool = new Pool(parsed.origin, {
    connections: settings.maxConnections,
    // One request per connection at a time: pipelining makes one slow response stall the ones queued behind it.
    pipelining: 1,
    connect: { timeout: settings.connectTimeoutMs },
    headersTimeout: settings.responseHeadersTimeoutMs,
    // No body timeout: a server-sent event stream or long poll may be silent for minutes; the client side's
    // own timeouts and disconnects end those.
    bodyTimeout: 0,
    keepAliveTimeout: idle,
    // The upstream's `Keep-Alive: timeout=` hint may shorten the idle time, never lengthen it past ours.
    keepAliveMaxTimeout: idle,
  });
  const pathname = parsed.pathname.endsWith('/') ? parsed.pathname.slice(0, -1) : parsed.pathname;
  return { url, origin: parsed.origin, pathPrefix: pathname, host: parsed.host, pool };
}

/** Round robin over a fixed list of servers; `next()` is O(1) and allocation-free. */
export class RoundRobin {
  readonly servers: readonly UpstreamServer[];
  #index = 0;

  constructor(servers: readonly UpstreamServer[]) {
    if (servers.length === 0) throw new TypeError('an upstream needs at least one server');
    this.servers = servers;
  }

  /** The server for the next request, cycling through all of them in order. */
  next(): UpstreamServer {
    const server = this.servers[this.#index] as UpstreamServer;
    this.#index = this.#index + 1 === this.servers.length ? 0 : this.#index + 1;
    return server;
  }
}
