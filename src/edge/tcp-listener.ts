/**
 * A plain entry point that carries TCP routers (src/tcp/plain-entry-points.ts): raw TCP for SSH, databases, MQTT,
 * game servers. Nothing is read before routing (a server-first protocol such as SMTP or MySQL says nothing until the
 * backend greets), so a connection is routed the moment it is accepted, by client address only, and handed to the
 * route's forwarder, which pipes it byte for byte. A PROXY header from a trusted load balancer in front is read first.
 */
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import type { AccessLogSwitch } from '../http/dispatch.js';
import { clientAddressOf } from '../http/context.js';
import type { Logger } from '../log.js';
import { matchTcpRoute, type TcpRoute } from '../tcp/index.js';
import { bind, boundAddress } from './bind.js';
import { CLIENT_SOCKET_HIGH_WATER_MARK, type EntryPointSettings } from './entry-point.js';
import { openConnections, type Listener } from './http-listener.js';
import { acceptProxyHeader } from './proxy-accept.js';

/** What a plain TCP entry point reads per connection: the TCP routes in force. */
export interface TcpSources {
  tcpRoutes(entryPoint: string): readonly TcpRoute[];
}

const NO_ALPN: readonly string[] = [];

/** Bind a plain TCP entry point. Rejects with LISTEN_FAILED naming the entry point. */
export async function listenTcp(settings: EntryPointSettings, text: string, sources: TcpSources, log: Logger, accessLog: AccessLogSwitch): Promise<Listener> {
  const name = settings.name;
  const logged = typeof accessLog === 'function' ? accessLog : () => accessLog;

  const route = (socket: Socket): void => {
    const client = clientAddressOf(socket);
    const match = matchTcpRoute(sources.tcpRoutes(name), { sni: '', alpn: NO_ALPN, clientIp: client.address });
    if (match === undefined) {
      log.info({ entryPoint: name, clientIp: client.address }, 'tcp connection refused: no router matches');
      socket.destroy();
      return;
    }
    match.forwarder.forward(
      socket,
      EMPTY,
      { clientIp: client.address, clientPort: client.port, localIp: socket.localAddress ?? '', localPort: socket.localPort ?? 0 },
      { entryPoint: name, sni: undefined, logged: logged() !== false },
    );
  };

  const trusted = settings.proxyProtocolFrom;
  // allowHalfOpen: a client's FIN is one direction's end (pipe.ts forwards it); the backend may still answer.
  const listener: Server = createNetServer({ pauseOnConnect: true, allowHalfOpen: true, noDelay: true, highWaterMark: CLIENT_SOCKET_HIGH_WATER_MARK }, (socket) => {
    socket.on('error', (err: NodeJS.ErrnoException) => log.debug({ entryPoint: name, code: err.code }, 'client socket error'));
    if (trusted === undefined) return route(socket);
    acceptProxyHeader(socket, trusted, settings, log).then(
      (ok) => ok && route(socket),
      (err: unknown) => {
        log.error({ entryPoint: name, err }, 'tcp connection failed');
        socket.destroy();
      },
    );
  });
  await bind(listener, settings.address, name, text);
  listener.on('error', (err) => log.error({ err, entryPoint: name }, 'entry point error'));
  return {
    name,
    address: () => boundAddress(listener),
    // Piped connections belong to the forwarders of the runtime they started on (its closeConnections and dispose
    // end them), so a removed entry point stops accepting at once and its open pipes run on.
    close: () => new Promise<void>((resolve) => {
      listener.close();
      resolve();
    }),
    connections: () => openConnections(listener),
  };
}

const EMPTY = Buffer.alloc(0);
