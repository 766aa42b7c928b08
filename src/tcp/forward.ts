/**
 * The forwarder of one TCP route: asks the route's middlewares (allow list, connection limit), connects to the
 * service's next server that is up, sends the optional PROXY protocol header and the bytes the edge peeked (a TLS
 * entry point's ClientHello; nothing on a plain one), then joins the two sockets (pipe.ts). It never reads or
 * alters the stream, so a TLS client sees the backend's certificate and gatehouse holds no key.
 */
import { connect, type Socket } from 'node:net';
import type { Logger } from '../log.js';
import type { PeerAddresses, TcpBalancer, TcpServer } from './backend.js';
import type { NamedTcpGate } from './middlewares.js';
import { joinSockets, type Pipe, type PipeResult } from './pipe.js';

export type { PeerAddresses } from './backend.js';

/** Where a passed-through connection came in, for its log line. */
export interface PassthroughOrigin {
  readonly entryPoint: string;
  /** The ClientHello's server_name; undefined when it had none. */
  readonly sni: string | undefined;
  /** Whether its line is written when it closes (`log.accessLog`, read when the connection arrives). */
  readonly logged: boolean;
}

/** Takes over a peeked client connection and passes it through to a backend. */
export interface TcpForwarder {
  /**
   * Ask the route's middlewares, connect to the next backend (the service's balancer), send the PROXY header if
   * configured, then `replay` (the peeked bytes; may be empty), then pipe both ways. Owns `client` from now on: always ends or destroys it. Never throws. Call it
   * synchronously after removing your own 'data' listeners and timers, so no byte is read into the void.
   * Without `origin` the connection's line is written, with no entry point or SNI.
   */
  forward(client: Socket, replay: Buffer, peer: PeerAddresses, origin?: PassthroughOrigin): void;
  /**
   * Refuse new connections and destroy the ones it holds, after letting them run on for up to `graceMs` (default 0:
   * at once). A reload passes a grace so piped streams finish on the runtime they started with; resolves when all
   * are closed. `why` is what their log lines say ended them.
   */
  close(graceMs?: number, why?: 'shutdown' | 'reload-cut'): Promise<void>;
  /** Connections it holds now (connecting or piped). */
  live(): number;
}

/** What a forwarder needs. Timeouts and the PROXY header come with each server (its service's link). */
export interface TcpForwarderOptions {
  readonly route: string;
  readonly service: string;
  readonly ring: TcpBalancer;
  /** The route's middlewares, asked in order before any backend is dialled. */
  readonly gates?: readonly NamedTcpGate[];
  readonly log: Logger;
  /** Told when a piped connection closes, with the bytes each way (the replayed ClientHello counts as up). */
  readonly onClosed?: PassthroughObserver | undefined;
}

/** Records one closed passthrough connection (the admin's byte counters); must not throw. */
export type PassthroughObserver = (route: string, service: string, bytesUp: number, bytesDown: number) => void;

/** Connect failures get a code from the catalogue (docs/errors.md) so operators can alert on them. */
type ConnectCode = 'TCP_CONNECT' | 'TCP_CONNECT_TIMEOUT';

const NO_GATES: readonly NamedTcpGate[] = [];

/** One client connection from hand-over to close; `cancel` stops a connect attempt under way. */
interface Passage {
  readonly client: Socket;
  backend: Socket | undefined;
  pipe: Pipe | undefined;
  cancel: (() => void) | undefined;
}

/** Creates the forwarder of one route. Every backend is tried at most once per connection before giving up. */
export function createTcpForwarder(options: TcpForwarderOptions): TcpForwarder {
  const { route, service, ring, log, onClosed } = options;
  const gates = options.gates ?? NO_GATES;
  const live = new Set<Passage>();
  let closed = false;

  function forward(client: Socket, replay: Buffer, peer: PeerAddresses, origin?: PassthroughOrigin): void {
    try {
      if (closed) {
        client.destroy();
        return;
      }
      for (let i = 0; i < gates.length; i++) {
        const refused = gates[i]!.gate.admit(client, peer.clientIp);
        if (refused !== undefined) {
          log.info({ entryPoint: origin?.entryPoint, sni: origin?.sni, clientIp: peer.clientIp, router: route, middleware: gates[i]!.name, reason: refused }, 'tcp connection refused');
          client.on('error', ignore);
          client.destroy();
          return;
        }
      }
      // Until the backend answers, the client's further bytes wait in the kernel, not in our memory.
      client.pause();
      client.setTimeout(0);
      const passage: Passage = { client, backend: undefined, pipe: undefined, cancel: undefined };
      live.add(passage);
      // A client that leaves while we connect takes the attempt with it.
      const onEarlyEnd = (): void => {
        passage.cancel?.();
        client.destroy();
        live.delete(passage);
      };
      client.on('error', onEarlyEnd);
      client.on('close', onEarlyEnd);
      const started = performance.now();

      const giveUp = (): void => {
        client.removeListener('close', onEarlyEnd);
        client.removeListener('error', onEarlyEnd);
        client.on('error', ignore); // a reset from the client while we close it says nothing new
        client.destroy();
        live.delete(passage);
      };

      const attempt = (triesLeft: number): void => {
        const server: TcpServer | undefined = ring.next();
        if (server === undefined) {
          log.warn({ code: 'TCP_UNAVAILABLE', route, service, clientIp: peer.clientIp, sni: origin?.sni }, 'tcp service has no backend up');
          return giveUp();
        }
        const { backend, link } = server;
        const connectTimeoutMs = link.connectTimeoutMs;
        let first: Buffer;
        try {
          first = link.proxyHeader ? Buffer.concat([link.proxyHeader(peer), replay]) : replay;
        } catch (err) {
          // A peer the header cannot describe costs no backend connection.
          log.error({ err, route, service }, 'passthrough failed');
          return giveUp();
        }
        const socket = connect({ host: backend.host, port: backend.port, allowHalfOpen: true, noDelay: true });
        passage.backend = socket;
        const timer =
          connectTimeoutMs > 0
            ? setTimeout(() => fail('TCP_CONNECT_TIMEOUT', new Error(`no connection within ${connectTimeoutMs} ms`)), connectTimeoutMs)
            : undefined;
        const stop = (): void => {
          clearTimeout(timer);
          socket.removeListener('error', onError);
          socket.removeListener('connect', onConnect);
          passage.cancel = undefined;
        };
        passage.cancel = () => {
          stop();
          socket.destroy();
        };
        const fail = (code: ConnectCode, err: Error): void => {
          stop();
          socket.destroy();
          log.warn({ code, reason: err.message, route, service, backend: backend.address, clientIp: peer.clientIp, sni: origin?.sni }, 'passthrough backend connect failed');
          if (triesLeft > 1) return attempt(triesLeft - 1);
          giveUp();
        };
        const onError = (err: Error): void => fail('TCP_CONNECT', err);
        const onConnect = (): void => {
          stop();
          client.removeListener('error', onEarlyEnd);
          client.removeListener('close', onEarlyEnd);
          // One write of header + ClientHello: a backend expects the PROXY header first and whole (PROXY protocol
          // spec §2.1: "the receiver ... must not start to parse the header until it has received it entirely").
          if (first.length > 0) socket.write(first);
          passage.pipe = joinSockets(client, socket, link.idleTimeoutMs, (result) => {
            live.delete(passage);
            onClosed?.(route, service, replay.length + result.bytesUp, result.bytesDown);
            // One line per connection, like the access log for HTTP, and off with it (`log.accessLog: false`).
            if ((origin?.logged ?? true) && log.isLevelEnabled('info')) report(result, backend, peer, origin, started, replay.length);
          });
        };
        socket.on('error', onError);
        socket.on('connect', onConnect);
      };
      attempt(ring.size);
    } catch (err) {
      // Nothing above should throw; if it does, the client must still not be left hanging.
      log.error({ err, route, service }, 'passthrough failed');
      client.destroy();
    }
  }

  /** Resolves when the last live connection has closed, or after `ms`. */
  function drained(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(finish, ms);
      const poll = setInterval(() => live.size === 0 && finish(), 50);
      function finish(): void {
        clearTimeout(timer);
        clearInterval(poll);
        resolve();
      }
    });
  }

  function report(result: PipeResult, backend: TcpServer['backend'], peer: PeerAddresses, origin: PassthroughOrigin | undefined, started: number, replayed: number): void {
    log.info(
      {
        entryPoint: origin?.entryPoint,
        sni: origin?.sni,
        clientIp: peer.clientIp,
        router: route,
        service,
        backend: backend.address,
        bytesUp: replayed + result.bytesUp,
        bytesDown: result.bytesDown,
        durationMs: Math.round(performance.now() - started),
        end: result.end,
        // The errno (ECONNRESET, EPIPE…) and its message: what an operator acts on, without a stack.
        ...(result.error ? { code: (result.error as NodeJS.ErrnoException).code, reason: result.error.message } : {}),
      },
      'passthrough connection closed',
    );
  }

  return {
    forward,
    live: () => live.size,
    close: async (graceMs = 0, why = 'shutdown') => {
      closed = true;
      if (graceMs > 0 && live.size > 0) await drained(graceMs);
      const closing = [...live].map((p) => {
        const sockets = [p.client, p.backend].filter((s): s is Socket => s !== undefined && !s.closed);
        const gone = Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.once('close', () => resolve()))));
        if (p.pipe) p.pipe.abort(why);
        else {
          p.cancel?.();
          for (const s of sockets) s.destroy();
        }
        return gone;
      });
      live.clear();
      await Promise.all(closing);
    },
  };
}

function ignore(): void {}
