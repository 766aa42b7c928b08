/**
 * A UDP entry point: one socket receives every client's datagrams, keyed into sessions by the client's address and
 * port (Traefik's pkg/udp/conn.go does the same); each session forwards to the server its router picked when it
 * opened, and the server's replies go back to that client from this socket, so the client sees them come from the
 * address it sent to. Sessions end after `timeout` without a datagram either way. Bounded: at most `maxSessions`
 * sessions (a datagram that would open one more is dropped, counted, and logged at most once per 10 s), and per
 * session a short queue (src/udp/session.ts). A reload swaps the router under the socket: sessions keep the server
 * they have, new ones ask the route in force. Self-contained (it needs a route source and a logger), so it can run in
 * whichever process owns the socket.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { lookup } from 'node:dns';
import { isIP } from 'node:net';
import type { ListenAddress } from '../edge/address.js';
import { GatehouseError } from '../errors.js';
import type { Logger } from '../log.js';
import type { UdpRoute } from './routes.js';
import { UdpSession, type SessionOwner } from './session.js';
import type { UdpEntrySettings } from './settings.js';
import { ThrottledLog } from './throttled.js';

/** What a UDP entry point reads when a session opens: the route in force for it. */
export interface UdpSources {
  udpRoute(entryPoint: string): UdpRoute | undefined;
}

/** Counts since the entry point was bound: what the status page and metrics show. */
export interface UdpCounters {
  sessionsOpened: number;
  /** Datagrams and bytes from clients (dropped ones included) and to clients. */
  datagramsIn: number;
  bytesIn: number;
  datagramsOut: number;
  bytesOut: number;
  /** Client datagrams dropped because the session limit was reached. */
  droppedSessionLimit: number;
  /** Client datagrams dropped because no router serves the entry point. */
  droppedNoRoute: number;
  /** Datagrams dropped because a queue was full (a session's while it opens, a socket's send queue). */
  droppedQueueFull: number;
  /** Sessions ended by an error of their upstream socket (ECONNREFUSED: nothing listens at the server). */
  upstreamErrors: number;
}

/** A bound UDP entry point. */
export interface UdpListener {
  readonly name: string;
  address(): { address: string; port: number };
  /** Stop opening sessions; resolves once every session has ended (idle) or `graceMs` has passed, then closes the socket. */
  close(graceMs: number): Promise<void>;
  /** Sessions open now. */
  connections(): number;
  /** Apply a reload's session settings to this socket and the sessions it has. */
  reconfigure(settings: UdpEntrySettings): void;
  counters(): Readonly<UdpCounters>;
}

/** One line at most per this interval for each kind of drop. */
const DROP_LOG_INTERVAL_MS = 10_000;
/** The entry socket's receive buffer asked for (memory the kernel takes only while datagrams wait in it). */
const RECV_BUFFER_BYTES = 1024 * 1024;
/** Replies waiting in the entry socket's send queue past which more are dropped. */
const REPLY_QUEUE_MAX = 1024;

/** Bind a UDP entry point. Rejects with LISTEN_FAILED naming the entry point (port in use, no permission, no such address). */
export async function listenUdp(name: string, address: ListenAddress, text: string, initial: UdpEntrySettings, sources: UdpSources, log: Logger): Promise<UdpListener> {
  const socket = await bindUdp(address, name, text);
  let settings = initial;
  let accepting = true;
  let count = 0;
  /** Sessions by client address, then port: no key string built per datagram. */
  const sessions = new Map<string, Map<number, UdpSession>>();
  const counters: UdpCounters = {
    sessionsOpened: 0,
    datagramsIn: 0,
    bytesIn: 0,
    datagramsOut: 0,
    bytesOut: 0,
    droppedSessionLimit: 0,
    droppedNoRoute: 0,
    droppedQueueFull: 0,
    upstreamErrors: 0,
  };
  const limitLog = new ThrottledLog(DROP_LOG_INTERVAL_MS);
  const noRouteLog = new ThrottledLog(DROP_LOG_INTERVAL_MS);
  const queueLog = new ThrottledLog(DROP_LOG_INTERVAL_MS);
  const errorLog = new ThrottledLog(DROP_LOG_INTERVAL_MS);

  const owner: SessionOwner = {
    reply(session, datagram) {
      if (socket.getSendQueueCount() >= REPLY_QUEUE_MAX) {
        owner.dropped(session);
        return;
      }
      counters.datagramsOut++;
      counters.bytesOut += datagram.length;
      socket.send(datagram, session.clientPort, session.clientAddress);
    },
    dropped(session) {
      counters.droppedQueueFull++;
      queueLog.count(log, 'warn', { entryPoint: name, server: session.server.address }, 'udp datagrams dropped: queue full', Date.now());
    },
    closed(session, err) {
      const byPort = sessions.get(session.clientAddress);
      if (byPort?.get(session.clientPort) === session) {
        byPort.delete(session.clientPort);
        if (byPort.size === 0) sessions.delete(session.clientAddress);
        count--;
      }
      if (err !== undefined) {
        counters.upstreamErrors++;
        errorLog.count(log, 'warn', { entryPoint: name, server: session.server.address, code: err.code, reason: err.message }, 'udp session ended: upstream error', Date.now());
      }
    },
  };

  const open = (rinfo: RemoteInfo, datagram: Buffer, now: number): void => {
    if (!accepting) return;
    if (count >= settings.maxSessions) {
      counters.droppedSessionLimit++;
      limitLog.count(log, 'warn', { entryPoint: name, maxSessions: settings.maxSessions }, 'udp session limit reached', now);
      return;
    }
    const route = sources.udpRoute(name);
    if (route === undefined) {
      counters.droppedNoRoute++;
      noRouteLog.count(log, 'warn', { entryPoint: name }, 'udp datagram dropped: no router', now);
      return;
    }
    const session = new UdpSession(owner, rinfo.address, rinfo.port, route.pick(), datagram, now);
    if (session.isClosed) return;
    let byPort = sessions.get(rinfo.address);
    if (byPort === undefined) sessions.set(rinfo.address, (byPort = new Map()));
    byPort.set(rinfo.port, session);
    count++;
    counters.sessionsOpened++;
    log.debug({ entryPoint: name, client: rinfo.address, clientPort: rinfo.port, router: route.router, server: session.server.address }, 'udp session opened');
  };

  socket.on('message', (datagram: Buffer, rinfo: RemoteInfo) => {
    counters.datagramsIn++;
    counters.bytesIn += datagram.length;
    const now = Date.now();
    const session = sessions.get(rinfo.address)?.get(rinfo.port);
    if (session !== undefined) session.send(datagram, now);
    else open(rinfo, datagram, now);
  });
  // Send errors (a client address that cannot be reached) come here: one client's problem, not the entry point's.
  socket.on('error', (err: NodeJS.ErrnoException) => log.debug({ entryPoint: name, code: err.code, reason: err.message }, 'udp socket error'));

  /** Ends the sessions idle for `timeout`: run every tenth of it (Traefik's ticker), so one ends within 1.1 timeouts. */
  const sweep = (): void => {
    const deadline = Date.now() - settings.timeoutMs;
    for (const byPort of sessions.values()) for (const s of byPort.values()) if (s.last <= deadline) s.close();
  };
  let sweeper = startSweeper(sweep, settings.timeoutMs);

  const bound = boundOf(socket);
  log.debug({ entryPoint: name, maxSessions: settings.maxSessions, timeoutMs: settings.timeoutMs }, 'udp entry point settings');
  let closing: Promise<void> | undefined;
  return {
    name,
    address: () => bound,
    connections: () => count,
    counters: () => counters,
    reconfigure(next) {
      if (next.timeoutMs !== settings.timeoutMs) {
        clearInterval(sweeper);
        sweeper = startSweeper(sweep, next.timeoutMs);
      }
      settings = next;
    },
    close(graceMs) {
      closing ??= (async () => {
        accepting = false;
        const deadline = Date.now() + graceMs;
        // Sessions end by themselves once idle (a DNS answer on its way still arrives); past the grace they are cut.
        while (count > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, Math.min(50, settings.timeoutMs)));
        clearInterval(sweeper);
        for (const byPort of [...sessions.values()]) for (const s of [...byPort.values()]) s.close();
        await new Promise<void>((resolve) => socket.close(() => resolve()));
      })();
      return closing;
    },
  };
}

/** dgram's `lookup` for addresses that are already IP literals. */
function literalLookup(address: string, _options: unknown, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  callback(null, address, isIP(address));
}

function startSweeper(sweep: () => void, timeoutMs: number): NodeJS.Timeout {
  return setInterval(sweep, Math.max(10, Math.min(1000, Math.floor(timeoutMs / 10)))).unref();
}

/** The bound address; `protocol` tells `gatehouse health` (through the control socket) not to try a TCP connection. */
function boundOf(socket: Socket): { address: string; port: number; protocol: 'udp' } {
  const a = socket.address();
  return { address: a.address, port: a.port, protocol: 'udp' };
}

/**
 * Bind the entry point's socket: an IPv4 host on an IPv4 socket, an IPv6 one on IPv6, a name on what it resolves to,
 * and no host on `::` (dual stack) or, where the host has no IPv6, `0.0.0.0`. `exclusive`: this process alone owns
 * the socket (with node:cluster, the worker that binds it, never a handle shared through the primary).
 */
async function bindUdp(address: ListenAddress, name: string, text: string): Promise<Socket> {
  const fail = (err: NodeJS.ErrnoException): GatehouseError =>
    new GatehouseError('LISTEN_FAILED', `entry point "${name}" cannot listen on ${text}: ${err.code ?? ''} ${err.message}`.trim(), {
      cause: err,
      location: { path: `/entryPoints/${name}/address` },
    });
  let host = address.host;
  if (host !== undefined && isIP(host) === 0) {
    host = await new Promise<string>((resolve, reject) => lookup(host!, (err, a) => (err ? reject(fail(err)) : resolve(a))));
  }
  const attempt = (type: 'udp4' | 'udp6', bindHost: string): Promise<Socket> =>
    new Promise((resolve, reject) => {
      // Replies go to rinfo's address, always an IP literal: a lookup that answers at once spares dns.lookup and a
      // nextTick per reply (Node's send resolves every address it is given).
      const socket = createSocket({ type, lookup: literalLookup });
      const onError = (err: NodeJS.ErrnoException): void => {
        socket.close();
        reject(err);
      };
      socket.once('error', onError);
      socket.bind({ address: bindHost, port: address.port, exclusive: true }, () => {
        socket.off('error', onError);
        // Room for a burst while the event loop is busy elsewhere (every client shares this one socket): the default
        // (net.core.rmem_default, 208 KiB) holds ~250 small datagrams. The kernel caps it at net.core.rmem_max.
        try {
          socket.setRecvBufferSize(RECV_BUFFER_BYTES);
        } catch {
          // Refused: the default stays.
        }
        resolve(socket);
      });
    });
  try {
    if (host !== undefined) return await attempt(isIP(host) === 6 ? 'udp6' : 'udp4', host);
    try {
      return await attempt('udp6', '::');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL') throw err;
      return await attempt('udp4', '0.0.0.0');
    }
  } catch (err) {
    throw err instanceof GatehouseError ? err : fail(err as NodeJS.ErrnoException);
  }
}
