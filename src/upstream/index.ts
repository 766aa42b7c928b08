/**
 * The upstream side of gatehouse: one service's servers behind round robin, plain requests forwarded through
 * undici keep-alive pools, upgrades through http-proxy. Callers build one Upstream per service and per config
 * snapshot, and close() it when the snapshot is retired.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Pool } from 'undici';
import { forwardHttp, type ForwardInfo } from './forward-http.js';
import { createUpgradeForwarder } from './forward-upgrade.js';
import { createServer, RoundRobin } from './load-balancer.js';

export type { ForwardInfo } from './forward-http.js';
export { HOP_BY_HOP, HOP_BY_HOP_UPGRADE, displayIp } from './forwarded-headers.js';

/** A service's upstream settings, already resolved from the config (durations in ms, 0 = off). */
export interface UpstreamOptions {
  /** http:// base URLs; a path in the URL is prefixed to the request path. */
  servers: string[];
  /** true: the client's Host goes upstream; false: the server URL's host. */
  passHostHeader: boolean;
  connectTimeoutMs: number;
  responseHeadersTimeoutMs: number;
  idleTimeoutMs: number;
  /** Connections per server. */
  maxConnections: number;
}

/** Forwards requests of one service to its servers. */
export interface Upstream {
  /** Forward one request; always ends `res` (with the upstream's response, or 502/504 plain text). Never throws. */
  forward(req: IncomingMessage, res: ServerResponse, info: ForwardInfo): void;
  /** Forward an Upgrade (WebSocket) request from the server's 'upgrade' event. Never throws. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, info: ForwardInfo): void;
  /** Close pools and upgrade sockets it owns. */
  close(): Promise<void>;
}

/** In-flight requests get this long to finish on a retired pool before their connections are cut. */
const POOL_CLOSE_GRACE_MS = 10_000;

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
 * Build the upstream of one service. Parses the server URLs and opens nothing yet (connections are made on
 * first use); throws a TypeError for a URL that is not http:// or an empty server list.
 */
export function createUpstream(options: UpstreamOptions, log: Logger): Upstream {
  const balancer = new RoundRobin(options.servers.map((url) => createServer(url, options)));
  const upgrades = createUpgradeForwarder(options.passHostHeader, options.responseHeadersTimeoutMs);
  const passHost = options.passHostHeader;
  let closed = false;
  return {
    forward(req, res, info) {
      forwardHttp(req, res, info, balancer.next(), passHost);
    },
    upgrade(req, socket, head, info) {
      upgrades.forward(req, socket, head, info, balancer.next());
    },
    async close() {
      if (closed) return;
      closed = true;
      upgrades.close();
      await Promise.all(balancer.servers.map((s) => closePool(s.pool, log)));
    },
  };
}
