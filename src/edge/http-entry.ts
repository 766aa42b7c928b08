/**
 * The HTTP side of an entry point: a Node http server with the entry point's limits, handing requests and upgrades
 * to a dispatcher. A plain entry point listens with it directly; a TLS entry point (or one behind a PROXY protocol
 * load balancer) feeds it the connections it has unwrapped.
 */
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { type AccessLogSwitch, createDispatcher, type Dispatcher, type EntryHook, type RouteSource } from '../http/dispatch.js';
import type { Logger } from '../log.js';
import type { EntryPointSettings } from './entry-point.js';
import { limitParsedHeaders, refuseHeaderFloods } from './header-count.js';
import { clientErrorLog, type ClientErrorLog } from './client-error-log.js';

/** Build the http server of an entry point (not listening). */
export function createHttpEntry(settings: EntryPointSettings, source: RouteSource, log: Logger, accessLog: AccessLogSwitch, hook?: EntryHook): Server {
  return createHttpServer(settings, createDispatcher(settings.entry, source, log, accessLog, hook), log);
}

/** The http server of an entry point around a dispatcher it shares with the entry point's HTTP/2 server. */
export function createHttpServer(settings: EntryPointSettings, shared: Dispatcher, log: Logger): Server {
  const dispatcher = refuseHeaderFloods(shared, settings, log);
  const server = createServer(settings.serverOptions, dispatcher.onRequest);
  limitParsedHeaders(server, settings.maxHeaderCount);
  server.on('upgrade', dispatcher.onUpgrade);
  const logError = clientErrorLog(log, settings.name);
  const limits = { maxHeaderCount: settings.maxHeaderCount, maxHeaderSize: settings.serverOptions.maxHeaderSize };
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => answerClientError(err, socket, logError, limits));
  return server;
}

/**
 * Make an http server that another listener feeds (`server.emit('connection', socket)`) enforce its timeouts and
 * track its connections: Node starts both when the server emits 'listening', which a server that never listens
 * itself would not do.
 */
export function startFedServer(server: Server): void {
  server.emit('listening');
}

const CLIENT_ERRORS: Record<string, string> = {
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
};

/**
 * A request Node could not parse or that timed out: answer it if the socket still can, log it, close it. A head over
 * either limit (too large, or on Node 22+ too many lines: limitParsedHeaders) says both in its line and its answer.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket, logError: ClientErrorLog, limits: { maxHeaderCount: number; maxHeaderSize: number | undefined }): void {
  const status = CLIENT_ERRORS[err.code ?? ''] ?? '400 Bad Request';
  const overflow = err.code === 'HPE_HEADER_OVERFLOW';
  logError(err.code ?? 'ERR_UNKNOWN', overflow ? { clientIp: socket.remoteAddress, ...limits } : { clientIp: socket.remoteAddress });
  if (socket.writable && !(socket as Socket & { _httpMessage?: unknown })._httpMessage) {
    const body = overflow ? `${status.slice(4)}: too many header lines or too large a head\n` : `${status.slice(4)}\n`;
    socket.end(`HTTP/1.1 ${status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
  } else {
    socket.destroy();
  }
}
