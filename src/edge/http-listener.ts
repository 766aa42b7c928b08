/**
 * A plain-HTTP entry point: its http server listens itself, unless a load balancer in front speaks PROXY protocol,
 * in which case a net server reads the header first and hands the connection over.
 */
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import type { AccessLogSwitch, EntryHook, RouteSource } from '../http/dispatch.js';
import type { Logger } from '../log.js';
import { bind, boundAddress, drain } from './bind.js';
import type { EntryPointSettings } from './entry-point.js';
import { createHttpEntry, startFedServer } from './http-entry.js';
import { acceptProxyHeader } from './proxy-accept.js';

/** A bound entry point. */
export interface Listener {
  readonly name: string;
  /** The bound address and port (the real port when the config said 0). */
  address(): { address: string; port: number };
  /** Stop accepting; resolves when every connection has closed or `graceMs` has passed (then they are cut). */
  close(graceMs: number): Promise<void>;
  /** Client connections open now (the admin's gauge). */
  connections(): number;
}

/** net.Server's own count of open connections: what getConnections() reports, read without a callback. */
export function openConnections(server: Server): number {
  return (server as unknown as { _connections: number })._connections ?? 0;
}

/** Bind a plain-HTTP entry point. Rejects with LISTEN_FAILED naming the entry point. */
export async function listenHttp(settings: EntryPointSettings, text: string, source: RouteSource, log: Logger, accessLog: AccessLogSwitch, hook?: EntryHook): Promise<Listener> {
  const http = createHttpEntry(settings, source, log, accessLog, hook);
  let listener: Server = http;
  const open = new Set<Socket>();
  if (settings.proxyProtocolFrom) {
    const trusted = settings.proxyProtocolFrom;
    listener = createNetServer({ pauseOnConnect: true }, (socket) => {
      acceptProxyHeader(socket, trusted, settings, log).then((ok) => {
        if (!ok) return;
        open.add(socket);
        socket.once('close', () => open.delete(socket));
        http.emit('connection', socket);
        socket.resume();
      });
    });
    startFedServer(http);
  }
  await bind(listener, settings.address, settings.name, text);
  listener.on('error', (err) => log.error({ err, entryPoint: settings.name }, 'entry point error'));
  return {
    name: settings.name,
    address: () => boundAddress(listener),
    close: (graceMs) => drain(listener, http, graceMs, listener === http ? undefined : () => open.size),
    connections: () => openConnections(listener),
  };
}
