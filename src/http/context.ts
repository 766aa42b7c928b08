/**
 * The per-request context: one object per request, filled once from the request line and socket, read by the
 * router's matchers (it is their HttpMatchInput), the handlers, the forwarder (its ForwardInfo) and the access log.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log.js';
import type { HttpMatchInput } from '../rules/index.js';
import type { ForwardInfo } from '../upstream/index.js';

/** What a handler knows of the request beyond `req`: the parsed target, the client, and what the proxy chose. */
export interface RequestContext extends HttpMatchInput, ForwardInfo {
  readonly entryPoint: string;
  readonly scheme: 'http' | 'https';
  /** Host header as sent (with its port), for redirects and X-Forwarded-Host. */
  readonly rawHost: string;
  /** Port of the Host header, or '' when it has none. */
  readonly hostPort: string;
  /** The router that matched; set by the dispatcher before the handler runs. */
  router: string | undefined;
  /** `performance.now()` when the request arrived. */
  readonly start: number;
  /** Set for an Upgrade request (WebSocket): the raw socket and the bytes read past the head. */
  upgrade: { readonly socket: Duplex; readonly head: Buffer } | undefined;
}

/** Facts about an entry point that every request on it shares. */
export interface EntryPointInfo {
  readonly name: string;
  readonly scheme: 'http' | 'https';
  /** Whether X-Forwarded-* from this client may be kept and appended to. */
  readonly trusts: (clientIp: string) => boolean;
}

const CLIENT_ADDRESS = Symbol('gatehouse.clientAddress');

interface AddressedSocket {
  [CLIENT_ADDRESS]?: { address: string; port: number };
}

/** Record the real client of a connection (from a PROXY protocol header); requests on it report this address. */
export function setClientAddress(socket: object, address: string, port: number): void {
  (socket as AddressedSocket)[CLIENT_ADDRESS] = { address, port };
}

/** The real client of a connection: what a PROXY header named, else the socket's peer. */
export function clientAddressOf(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): { address: string; port: number } {
  return (socket as AddressedSocket)[CLIENT_ADDRESS] ?? { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
}

/** Build the context of one request. Allocates the context object and, only when needed, two substrings. */
export function createContext(req: IncomingMessage, entry: EntryPointInfo, log: Logger, start: number): RequestContext {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const rawHost = hostHeader(req.headers);
  const { host, port } = splitHost(rawHost);
  const socket = req.socket;
  const clientIp = (socket as AddressedSocket)[CLIENT_ADDRESS]?.address ?? socket.remoteAddress ?? '';
  return {
    entryPoint: entry.name,
    scheme: entry.scheme,
    host,
    rawHost,
    hostPort: port,
    path: q === -1 ? url : url.slice(0, q),
    query: q === -1 ? '' : url.slice(q + 1),
    method: req.method ?? 'GET',
    headers: req.headers,
    clientIp,
    trustForwarded: entry.trusts(clientIp),
    upstream: undefined,
    router: undefined,
    log,
    start,
    upgrade: undefined,
  };
}

function hostHeader(headers: IncomingHttpHeaders): string {
  // HTTP/2 compatibility requests carry :authority; HTTP/1.1 carries Host (RFC 9110 §7.2).
  const h = headers.host ?? (headers[':authority'] as string | undefined);
  return h ?? '';
}

/** Split `Host` into a lower-cased name without port and the port. `[::1]:8080` keeps its brackets. */
export function splitHost(raw: string): { host: string; port: string } {
  if (raw === '') return { host: '', port: '' };
  let end = raw.length;
  if (raw.charCodeAt(0) === 91 /* [ */) {
    const close = raw.indexOf(']');
    end = close === -1 ? raw.length : close + 1;
  } else {
    const colon = raw.lastIndexOf(':');
    if (colon !== -1) end = colon;
  }
  const name = raw.slice(0, end);
  const port = end < raw.length && raw.charCodeAt(end) === 58 /* : */ ? raw.slice(end + 1) : '';
  return { host: hasUpper(name) ? name.toLowerCase() : name, port };
}

function hasUpper(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) return true;
  }
  return false;
}
