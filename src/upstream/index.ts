/**
 * The upstream side of gatehouse: one service's servers behind a load balancer (weighted round robin or least
 * connections, sticky cookies, active and passive health checks, retries), plain requests forwarded through undici
 * keep-alive pools, upgrades through http-proxy. Callers build one Upstream per service and per config snapshot,
 * and close() it when the snapshot is retired: that also stops its health checks.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Pool } from 'undici';
import { forwardHttp, type ForwardInfo } from './forward-http.js';
import { createUpgradeForwarder } from './forward-upgrade.js';
import { startHealthChecks, type HealthCheckOptions, type HealthChecks } from './health-check.js';
import { LoadBalancer } from './load-balancer.js';
import type { PassiveHealthOptions } from './passive-health.js';
import type { Strategy } from './selection.js';
import type { StickyCookieOptions } from './sticky-cookie.js';
import { createServer, isUsable, type ServerSpec } from './upstream-server.js';
import type { Transport } from './transport.js';

export type { ForwardInfo } from './forward-http.js';
export type { HealthCheckOptions } from './health-check.js';
export type { PassiveHealthOptions } from './passive-health.js';
export type { Strategy } from './selection.js';
export type { StickyCookieOptions } from './sticky-cookie.js';
export type { ServerSpec } from './upstream-server.js';
export { serverId } from './upstream-server.js';
export { HOP_BY_HOP, HOP_BY_HOP_UPGRADE, displayIp } from './forwarded-headers.js';
export { closeWebSocket } from './forward-upgrade.js';
export { compileTransports, DEFAULT_TRANSPORT, TransportError, type Transport } from './transport.js';
export { tlsHandshakes } from './tls-connector.js';

/** A service's upstream settings, already resolved from the config (durations in ms, 0 = off). */
export interface UpstreamOptions {
  /** http://, https:// or h2c:// base URLs (or URL and weight); a path in the URL is prefixed to the request path. */
  servers: readonly ServerSpec[];
  /** true: the client's Host goes upstream; false: the server URL's host. */
  passHostHeader: boolean;
  connectTimeoutMs: number;
  responseHeadersTimeoutMs: number;
  idleTimeoutMs: number;
  /** Requests in flight (so connections) per server; 0: no limit. Past it requests wait (see queueTimeoutMs). */
  maxConnections: number;
  /** Longest wait for a slot of a server at its maxConnections limit; past it, 503 with Retry-After. Default 10 s. */
  queueTimeoutMs?: number;
  /** Most requests waiting per server; one more gets 503 at once. Default 1024. */
  maxQueued?: number;
  /** http:// servers: bytes per read from a connection, about what a response whose client stalls holds. */
  readBufferBytes?: number;
  /** Default roundRobin. */
  strategy?: Strategy;
  /** Active checks; absent = every server counts as up. */
  healthCheck?: HealthCheckOptions;
  /** Passive checks; absent = off. */
  passiveHealthCheck?: PassiveHealthOptions;
  /** Default: every server may be tried once, idempotent methods only. */
  retry?: { attempts?: number; nonIdempotent?: boolean };
  /** Sticky sessions; absent = off. */
  sticky?: StickyCookieOptions;
  /** TLS (https://) and connection settings of the service's serversTransport; absent = the built-in default. */
  transport?: Transport;
  /** The service's name, for messages that say where a fix goes. */
  service?: string;
  /** A server asked for a client certificate the transport does not have (called once per server). */
  onCertificateRequested?: (server: string, message: string) => void;
}

/** Forwards requests of one service to its servers. */
export interface Upstream {
  /**
   * Forward one request; always ends `res` (with the upstream's response, 502/504 plain text, or 503 when no
   * server is usable). Never throws.
   */
  forward(req: IncomingMessage, res: ServerResponse, info: ForwardInfo): void;
  /** Forward an Upgrade (WebSocket) request from the server's 'upgrade' event. Never throws. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, info: ForwardInfo): void;
  /** Each server's state now, in config order (the admin's status page and metrics; read-only). */
  health(): readonly ServerHealth[];
  /** Stop the active health checks (a reload retired this upstream; its pools still serve requests in flight). */
  stopHealthChecks(): void;
  /** Stop health checks, close pools and the upgrade sockets it owns. */
  close(): Promise<void>;
}

/** One server as the admin sees it. */
export interface ServerHealth {
  readonly url: string;
  /** Usable now: up for the active check and not cooling down after passive failures. */
  readonly up: boolean;
  /** Down by the active health check. */
  readonly activeDown: boolean;
  /** Taken out by passive checks until this time (epoch ms); 0 when not. */
  readonly passiveDownUntil: number;
  readonly inFlight: number;
  /** Requests waiting for one of its connections (a maxConnections limit reached). */
  readonly queued: number;
}

/** In-flight requests get this long to finish on a retired pool before their connections are cut. */
const POOL_CLOSE_GRACE_MS = 10_000;

const UNAVAILABLE_BODY = 'Service Unavailable: no healthy upstream\n';
const UNAVAILABLE = Buffer.from(UNAVAILABLE_BODY);
const UNAVAILABLE_RAW =
  `HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${UNAVAILABLE.length}\r\n` +
  `connection: close\r\n\r\n${UNAVAILABLE_BODY}`;

/** Close gracefully (in-flight requests finish, idle sockets close), then destroy whatever is still running. */
async function closePool(pool: Pool, log: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), POOL_CLOSE_GRACE_MS);
  });
  try {
    if ((await Promise.race([pool.close(), grace])) === 'late') await pool.destroy();
  } catch (err) {
    log.debug({ err }, 'upstream pool close failed');
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Build the upstream of one service and start its health checks (if any). Parses the server URLs and opens no
 * pool connection yet (connections are made on first use); throws a TypeError for a URL that is not http://, https:// or h2c://,
 * a bad weight, or an empty server list.
 */
export function createUpstream(options: UpstreamOptions, log: Logger): Upstream {
  const servers = options.servers.map((spec, i) => createServer(spec, i, options));
  const lb = new LoadBalancer(
    servers,
    {
      passHostHeader: options.passHostHeader,
      strategy: options.strategy ?? 'roundRobin',
      retry: {
        attempts: Math.max(1, options.retry?.attempts ?? servers.length),
        nonIdempotent: options.retry?.nonIdempotent ?? false,
      },
      ...(options.passiveHealthCheck && { passiveHealthCheck: options.passiveHealthCheck }),
      ...(options.sticky && { sticky: options.sticky }),
      slots: { maxConnections: options.maxConnections, timeoutMs: options.queueTimeoutMs ?? 10_000, maxLength: options.maxQueued ?? 1024 },
    },
    log,
  );
  const checks: HealthChecks | undefined = options.healthCheck && startHealthChecks(servers, options.healthCheck, log);
  const upgrades = createUpgradeForwarder(options.passHostHeader, options.responseHeadersTimeoutMs);
  let closed = false;
  return {
    forward(req, res, info) {
      const server = lb.choose(req.rawHeaders);
      if (server === undefined) {
        info.upstream = undefined;
        res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'content-length': UNAVAILABLE.length });
        res.end(UNAVAILABLE);
        return;
      }
      forwardHttp(req, res, info, server, lb, lb.sticky !== undefined && !lb.pinnedHit);
    },
    upgrade(req, socket, head, info) {
      const server = lb.choose(req.rawHeaders);
      if (server === undefined) {
        socket.on('error', () => {});
        socket.end(UNAVAILABLE_RAW);
        return;
      }
      upgrades.forward(req, socket, head, info, server);
    },
    health() {
      const now = Date.now();
      return servers.map((s) => ({ url: s.url, up: isUsable(s, now), activeDown: s.activeDown, passiveDownUntil: s.passiveDownUntil, inFlight: s.inFlight, queued: lb.queues[s.index]?.waiting ?? 0 }));
    },
    stopHealthChecks() {
      checks?.stop();
    },
    async close() {
      if (closed) return;
      closed = true;
      checks?.stop();
      upgrades.close();
      for (const queue of lb.queues) queue?.close();
      await Promise.all(servers.map((s) => closePool(s.pool, log)));
    },
  };
}
