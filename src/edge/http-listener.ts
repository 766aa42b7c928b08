/**
 * One plain-HTTP entry point: a Node http server with the client-side limits of the config (slowloris header
 * timeout, request timeout, keep-alive idle timeout, max header size → 431), handing requests to a dispatcher.
 */
import { createServer, ServerResponse, type Server, type ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import { BlockList, isIP } from 'node:net';
import type { EntryPointConfig } from '../config/index.js';
import { DEFAULTS, parseDuration } from '../config/index.js';
import { GatehouseError } from '../errors.js';
import type { EntryPointInfo } from '../http/context.js';
import { CountingResponse } from '../http/counting-response.js';
import { createDispatcher, type RouteSource } from '../http/dispatch.js';
import type { Logger } from '../log.js';
import { parseListenAddress } from './address.js';

/** A bound entry point. */
export interface HttpListener {
  readonly name: string;
  readonly server: Server;
  /** The bound address and port (the real port when the config said 0). */
  address(): { address: string; port: number };
  /** Stop accepting; resolves when every connection has closed or `graceMs` has passed (then they are cut). */
  close(graceMs: number): Promise<void>;
}

/** Bind an entry point. Rejects with LISTEN_FAILED (address in use, no permission) naming the entry point. */
export async function listenHttp(
  name: string,
  spec: EntryPointConfig,
  source: RouteSource,
  log: Logger,
  accessLog: boolean,
): Promise<HttpListener> {
  const settings = entryPointSettings(name, spec);
  const addr = settings.address;
  const dispatcher = createDispatcher(settings.entry, source, log, accessLog);
  const server = createServer(settings.serverOptions, dispatcher.onRequest);
  server.on('upgrade', dispatcher.onUpgrade);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => answerClientError(err, socket, log, name));

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(
        new GatehouseError('LISTEN_FAILED', `entry point "${name}" cannot listen on ${spec.address}: ${err.code ?? ''} ${err.message}`.trim(), {
          cause: err,
          location: { path: `/entryPoints/${name}/address` },
        }),
      );
    };
    server.once('error', onError);
    server.listen({ host: addr.host, port: addr.port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => log.error({ err, entryPoint: name }, 'entry point error'));

  return {
    name,
    server,
    address() {
      const a = server.address();
      return typeof a === 'object' && a ? { address: a.address, port: a.port } : { address: String(a), port: 0 };
    },
    close: (graceMs) => drain(server, graceMs),
  };
}

/** What an entry point's config compiles into. Throws CONFIG_SCHEMA for a bad address or CIDR (`check` calls it). */
export function entryPointSettings(name: string, spec: EntryPointConfig) {
  const address = parseListenAddress(spec.address, name);
  const t = spec.timeouts ?? {};
  const headersTimeout = parseDuration(t.headers ?? DEFAULTS.headersTimeout);
  const requestTimeout = parseDuration(t.request ?? DEFAULTS.requestTimeout);
  const entry: EntryPointInfo = { name, scheme: 'http', trusts: trustPolicy(name, spec) };
  const serverOptions: ServerOptions = {
    ServerResponse: CountingResponse as unknown as typeof ServerResponse,
    maxHeaderSize: spec.maxHeaderSize ?? DEFAULTS.maxHeaderSize,
    headersTimeout,
    // Node requires headersTimeout <= requestTimeout when the latter is on.
    requestTimeout: requestTimeout === 0 ? 0 : Math.max(requestTimeout, headersTimeout),
    keepAliveTimeout: parseDuration(t.idle ?? DEFAULTS.idleTimeout),
    // How often Node checks the two timeouts above; its 30 s default would let a slowloris client linger.
    connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor((headersTimeout || 30_000) / 4))),
  };
  return { address, entry, serverOptions };
}

/** Which clients may send X-Forwarded-* that we keep (`forwardedHeaders`), compiled once. */
function trustPolicy(name: string, spec: EntryPointConfig): (ip: string) => boolean {
  const fh = spec.forwardedHeaders;
  if (fh?.insecure) return () => true;
  const list = fh?.trustedIPs ?? [];
  if (list.length === 0) return () => false;
  const block = new BlockList();
  list.forEach((entry, i) => {
    const [ip, bits] = entry.split('/');
    const family = isIP(ip ?? '');
    const prefix = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits);
    if (!family || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32)) {
      throw new GatehouseError('CONFIG_SCHEMA', `entry point "${name}": ${JSON.stringify(entry)} is not an IP address or CIDR`, {
        location: { path: `/entryPoints/${name}/forwardedHeaders/trustedIPs/${i}` },
      });
    }
    block.addSubnet(ip!, prefix, family === 6 ? 'ipv6' : 'ipv4');
  });
  return (ip) => {
    if (ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4) return block.check(ip.slice(7), 'ipv4');
    return block.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4');
  };
}

const CLIENT_ERRORS: Record<string, string> = {
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
};

/** A request Node could not parse or that timed out: answer it if the socket still can, log it, close it. */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket, log: Logger, entryPoint: string): void {
  const status = CLIENT_ERRORS[err.code ?? ''] ?? '400 Bad Request';
  log.info({ entryPoint, code: err.code, clientIp: socket.remoteAddress }, 'client error');
  if (socket.writable && !(socket as Socket & { _httpMessage?: unknown })._httpMessage) {
    const body = `${status.slice(4)}\n`;
    socket.end(`HTTP/1.1 ${status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
  } else {
    socket.destroy();
  }
}

/** Stop accepting, close idle keep-alive connections as they go idle, cut what remains after `graceMs`. */
async function drain(server: Server, graceMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const sweep = setInterval(() => server.closeIdleConnections(), 100);
  const timer = new Promise<'timeout'>((resolve) => setTimeout(resolve, graceMs, 'timeout').unref());
  const result = await Promise.race([closed, timer]);
  clearInterval(sweep);
  if (result === 'timeout') {
    server.closeAllConnections();
    // Upgraded sockets (websockets) are no longer the http server's to close: their owner (the upstream) cuts them
    // when the runtime is disposed, so do not wait on them here.
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 200).unref())]);
  }
}
