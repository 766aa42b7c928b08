/** Binding a listening socket with an error an operator can act on, and draining it on shutdown. */
import type { Server as HttpServer } from 'node:http';
import type { Server } from 'node:net';
import { GatehouseError } from '../errors.js';
import type { ListenAddress } from './address.js';

/**
 * Connections the kernel may hold completed for us before we accept them. Node's default (511) overflows when thousands
 * of clients connect at once (an idle flood reconnecting, a restart behind a busy load balancer): the kernel then
 * drops new SYNs, and a legitimate client waits for its 1 s SYN retry (issue 20, row 4: 1 s stalls at the start and at
 * each mass close of a 5000-connection flood). The kernel caps this at net.core.somaxconn (4096 by default since
 * Linux 5.4), which is what Go's listeners use, so Traefik and Caddy.
 */
const LISTEN_BACKLOG = 65_535;

/** Listen; rejects with LISTEN_FAILED (address in use, no permission, no such address) naming the entry point. */
export function bind(server: Server, address: ListenAddress, name: string, text: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(
        new GatehouseError('LISTEN_FAILED', `entry point "${name}" cannot listen on ${text}: ${err.code ?? ''} ${err.message}`.trim(), {
          cause: err,
          location: { path: `/entryPoints/${name}/address` },
        }),
      );
    };
    server.once('error', onError);
    server.listen({ host: address.host, port: address.port, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** The bound address of a listening server. */
export function boundAddress(server: Server): { address: string; port: number } {
  const a = server.address();
  return typeof a === 'object' && a ? { address: a.address, port: a.port } : { address: String(a), port: 0 };
}

/** HTTP/2 sessions of an entry point, closed on drain (src/edge/h2-entry.ts). */
export interface SessionsToDrain {
  closeSessions(): void;
  destroySessions(): void;
}

/**
 * Stop accepting on `listener`, close idle keep-alive connections of `http` as they go idle (and HTTP/2 `sessions`
 * with GOAWAY), cut what remains after `graceMs`. Upgraded and passed-through sockets are their owners' to close
 * (the runtime's dispose).
 */
export async function drain(listener: Server, http: HttpServer, graceMs: number, openCount?: () => number, sessions?: SessionsToDrain): Promise<void> {
  const closed = new Promise<void>((resolve) => listener.close(() => resolve()));
  http.closeIdleConnections();
  sessions?.closeSessions();
  const sweep = setInterval(() => http.closeIdleConnections(), 100);
  const timer = new Promise<'timeout'>((resolve) => setTimeout(resolve, graceMs, 'timeout').unref());
  const idle = openCount ? waitUntil(() => openCount() === 0, graceMs) : closed;
  const result = await Promise.race([idle, timer]);
  clearInterval(sweep);
  if (result === 'timeout') {
    http.closeAllConnections();
    sessions?.destroySessions();
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 200).unref())]);
  }
}

/** Resolves once `done()` holds (polled every 50 ms), or after `boundMs`. */
function waitUntil(done: () => boolean, boundMs: number): Promise<void> {
  return new Promise((resolve) => {
    const deadline = Date.now() + boundMs;
    const poll = () => {
      if (done() || Date.now() > deadline) resolve();
      else setTimeout(poll, 50).unref();
    };
    poll();
  });
}
