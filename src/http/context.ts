/**
 * The per-request context: one object per request, filled once from the request line and socket, read by the
 * router's matchers (it is their HttpMatchInput), the handlers, the forwarder (its ForwardInfo) and the access log.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log.js';
import type { HttpMatchInput } from '../rules/index.js';
import type { ForwardInfo } from '../upstream/index.js';
import { DEFAULT_ENCODED_CHARACTERS, normalizePath, type EncodedCharacterPolicy, type NormalizedPath } from './request-path.js';

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
  /** The matched router's service; undefined for an inline respond or redirect (and before a router matched). */
  service: string | undefined;
  /** `performance.now()` when the request arrived. */
  readonly start: number;
  /** Set for an Upgrade request (WebSocket): the raw socket and the bytes read past the head. */
  upgrade: { readonly socket: Duplex; readonly head: Buffer } | undefined;
  /**
   * Why the request target is refused (400) before any router: an ambiguous path (src/http/request-path.ts) or an
   * absolute-form target gatehouse does not take. `path` is then the raw path, for the log only.
   */
  readonly refusal: string | undefined;
}

/** Facts about an entry point that every request on it shares. */
export interface EntryPointInfo {
  readonly name: string;
  readonly scheme: 'http' | 'https';
  /** Whether X-Forwarded-* from this client may be kept and appended to. */
  readonly trusts: (clientIp: string) => boolean;
  /** Which percent-encoded characters a path may hold (`http.encodedCharacters`); gatehouse's defaults if absent. */
  readonly encodedCharacters?: EncodedCharacterPolicy;
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

/** Reused by every request: normalizePath fills it synchronously and createContext reads it at once. */
const SCRATCH: NormalizedPath = { routing: undefined, wire: undefined, refusal: undefined };

/**
 * Build the context of one request. Allocates the context object and, only when needed, two substrings. The path
 * is normalized (src/http/request-path.ts): `ctx.path` is what the routers match, and `req.url` is rewritten to the
 * same path when the request spelled it another way, so the backend acts on the path the router saw. An
 * absolute-form target (`GET http://a.example/x`) is routed on its authority and path, which replace the Host header
 * and the target (RFC 9112 §3.2.2).
 */
export function createContext(req: IncomingMessage, entry: EntryPointInfo, log: Logger, start: number): RequestContext {
  let url = req.url ?? '/';
  let rawHost = hostHeader(req.headers);
  let refusal: string | undefined;
  if (url.charCodeAt(0) !== 47 /* / */ && url !== '*') {
    const target = absoluteTarget(url);
    if (typeof target === 'string') refusal = target;
    else {
      url = target.path;
      rawHost = target.authority;
      req.url = url;
      replaceHost(req, rawHost);
    }
  }
  const q = url.indexOf('?');
  const rawPath = q === -1 ? url : url.slice(0, q);
  let path = rawPath;
  if (refusal === undefined && url !== '*') {
    const n = normalizePath(rawPath, entry.encodedCharacters ?? DEFAULT_ENCODED_CHARACTERS, SCRATCH);
    if (n.routing === undefined) refusal = n.refusal;
    else {
      path = n.routing;
      if (n.wire !== undefined) req.url = q === -1 ? n.wire : n.wire + url.slice(q);
    }
  }
  const { host, port } = splitHost(rawHost);
  const socket = req.socket;
  const clientIp = (socket as AddressedSocket)[CLIENT_ADDRESS]?.address ?? socket.remoteAddress ?? '';
  return {
    entryPoint: entry.name,
    scheme: entry.scheme,
    host,
    rawHost,
    hostPort: port,
    path,
    query: q === -1 ? '' : url.slice(q + 1),
    method: req.method ?? 'GET',
    headers: req.headers,
    clientIp,
    trustForwarded: entry.trusts(clientIp),
    upstream: undefined,
    upstreamStatus: undefined,
    upstreamMs: undefined,
    router: undefined,
    service: undefined,
    log,
    start,
    upgrade: undefined,
    refusal,
  };
}

/**
 * An absolute-form target split into its authority and origin-form path (`/` when empty), or why it is refused:
 * only http and https URLs, no userinfo (RFC 9110 §4.2.4), a non-empty authority.
 */
function absoluteTarget(url: string): { authority: string; path: string } | string {
  const m = /^(https?):\/\/([^/?#]*)(.*)$/i.exec(url);
  if (m === null) return 'the request target is neither a path nor an http(s) URL';
  const authority = m[2]!;
  if (authority === '') return 'the request target has no host';
  if (authority.includes('@')) return 'the request target carries user information';
  const rest = m[3]!;
  return { authority, path: rest === '' ? '/' : rest.charCodeAt(0) === 63 /* ? */ ? `/${rest}` : rest };
}

/** Makes `authority` the request's Host, for the routers (req.headers) and the upstream (req.rawHeaders). */
function replaceHost(req: IncomingMessage, authority: string): void {
  const raw = req.rawHeaders;
  let w = 0;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'host') continue;
    raw[w++] = raw[i]!;
    raw[w++] = raw[i + 1]!;
  }
  raw.length = w;
  raw.push('Host', authority);
  req.headers.host = authority;
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
