/**
 * A plain-HTTP entry point: a net server accepts, the first-byte gate holds each connection until it speaks (closing
 * the silent ones cheaply, first-byte-gate.ts), then a load balancer's PROXY protocol header is read when one is
 * trusted, and the connection goes to the entry point's http server.
 */
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import type { AccessLogSwitch, EntryHook, RouteSource } from '../http/dispatch.js';
import type { Logger } from '../log.js';
import { bind, boundAddress, drain } from './bind.js';
import { CLIENT_SOCKET_HIGH_WATER_MARK, type EntryPointSettings } from './entry-point.js';
import { createHttpEntry, startFedServer } from './http-entry.js';
import { createFirstByteGate } from './first-byte-gate.js';
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
  startFedServer(http);
  const handOver = (socket: Socket): void => {
    http.emit('connection', socket);
    socket.resume();
  };
  const trusted = settings.proxyProtocolFrom;
  const gate = createFirstByteGate({
    entryPoint: settings.name,
    // Node's header timeout starts when the http server gets the connection, i.e. at its first byte.
    timeoutMs: settings.serverOptions.headersTimeout ?? 0,
    log,
    onFirstByte: trusted
      ? (socket) => {
          acceptProxyHeader(socket, trusted, settings, log).then((ok) => ok && handOver(socket));
        }
      : handOver,
  });
  // allowHalfOpen and noDelay as Node's http server sets them for the sockets it accepts itself.
  const listener: Server = createNetServer({ pauseOnConnect: true, allowHalfOpen: true, noDelay: true, highWaterMark: CLIENT_SOCKET_HIGH_WATER_MARK }, (socket) => gate.admit(socket));
  await bind(listener, settings.address, settings.name, text);
  listener.on('error', (err) => log.error({ err, entryPoint: settings.name }, 'entry point error'));
  return {
    name: settings.name,
    address: () => boundAddress(listener),
    close: (graceMs) => {
      const drained = drain(listener, http, graceMs);
      gate.closeWaiting();
      return drained;
    },
    connections: () => openConnections(listener),
  };
}
