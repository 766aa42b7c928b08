/**
 * One upstream server of a service: what can be worked out once (origin, path prefix, Host value, sticky id, its
 * keep-alive undici Pool) and the little mutable state the load balancer keeps on it (requests in flight, health).
 */
import { createHash } from 'node:crypto';
import type { Pool as PoolType } from 'undici';
import { slabConnector } from './read-slabs.js';
import { Pool } from './undici-parts.js';

/** Pool settings shared by every server of a service; times in ms, 0 = off. */
export interface PoolSettings {
  connectTimeoutMs: number;
  responseHeadersTimeoutMs: number;
  idleTimeoutMs: number;
  maxConnections: number;
}

/** One upstream server, precomputed so the per-request path only concatenates strings and compares numbers. */
export interface UpstreamServer {
  /** The configured URL, as logs and the access log show it. */
  readonly url: string;
  /** `http://host:port`, the target of upgrades. */
  readonly origin: string;
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

/**
 * Build one server: parses the URL once; throws a TypeError on a URL that is not http:// or a weight that is
 * not a positive integer.
 */
export function createServer(spec: ServerSpec, index: number, settings: PoolSettings): UpstreamServer {
  const url = typeof spec === 'string' ? spec : spec.url;
  const weight = typeof spec === 'string' ? 1 : (spec.weight ?? 1);
  if (!Number.isInteger(weight) || weight < 1) throw new TypeError(`upstream weight must be a positive integer, got ${weight}`);
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:') throw new TypeError(`upstream URL must be http://, got ${url}`);
  const idle = settings.idleTimeoutMs > 0 ? settings.idleTimeoutMs : NO_LIMIT_MS;
  const pool = new Pool(parsed.origin, {
    connections: settings.maxConnections,
    // One request per connection at a time: pipelining makes one slow response stall the ones queued behind it.
    pipelining: 1,
    // Sockets that read into reused buffers (read-slabs.ts): no fresh 64 KiB ArrayBuffer per read.
    connect: slabConnector(settings.connectTimeoutMs),
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
    origin: parsed.origin,
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

/** True when the server may take requests at `now` (epoch ms): up for the active check, not cooling down. */
export function isUsable(server: UpstreamServer, now: number): boolean {
  return !server.activeDown && (server.passiveDownUntil === 0 || server.passiveDownUntil <= now);
}
