/**
 * The request explain reasons about: a URL and options turned into the router's HttpMatchInput (host without port,
 * raw path and query as a client would send them), and the entry points that would receive it.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import type { Config } from '../config/index.js';
import { listenProtocol, parseListenAddress } from '../edge/address.js';
import { splitHost } from '../http/context.js';
import { DEFAULT_ENCODED_CHARACTERS, normalizePath } from '../http/request-path.js';
import type { HttpMatchInput } from '../rules/index.js';
import { suggestClosest } from '../suggest.js';

/** What the command line says about the request. */
export interface RequestOptions {
  readonly url: string;
  readonly method?: string;
  /** `Name: value` lines, as curl's -H takes them. */
  readonly headers?: readonly string[];
  readonly clientIp?: string;
  readonly entryPoint?: string;
}

/** The request as the router sees it, plus what the connection carries. */
export interface ExplainRequest extends HttpMatchInput {
  readonly scheme: 'http' | 'https';
  /** Port the client connects to (from the URL, else 80/443). */
  readonly port: number;
  /** The server name a client puts in its ClientHello: the URL's host, none for an IP address (RFC 6066 §3). */
  readonly sni: string | undefined;
  /** Host header as sent, with its port. */
  readonly rawHost: string;
}

/** Default client address when --client-ip is not given (documented in docs/explain.md). */
export const DEFAULT_CLIENT_IP = '127.0.0.1';

/** A request or option that cannot be explained (bad URL, unknown entry point): the command line's fault, exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

function usage(message: string): UsageError {
  return new UsageError(message);
}

/** Builds the request; throws UsageError for a URL or header that cannot be a request. */
export function buildRequest(options: RequestOptions): ExplainRequest {
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(options.url) ? options.url : `http://${options.url}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw usage(`${JSON.stringify(options.url)} is not a URL (expected e.g. https://app.example/path)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usage(`the URL must be http:// or https://, got ${url.protocol}//`);
  const scheme = url.protocol === 'https:' ? 'https' : 'http';
  // The request target as a client sends it (not WHATWG-normalised), then normalized as gatehouse does for every
  // request (src/http/request-path.ts), so the routers are tried on the path they would see.
  const target = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*([^#]*)/i.exec(text)?.[1] ?? '/';
  const q = target.indexOf('?');
  const normalized = normalizePath((q === -1 ? target : target.slice(0, q)) || '/', DEFAULT_ENCODED_CHARACTERS, { routing: undefined, wire: undefined, refusal: undefined });
  if (normalized.routing === undefined) throw usage(`gatehouse answers this request 400 before any router: ${normalized.refusal ?? 'bad path'}`);
  const path = normalized.routing;
  const query = q === -1 ? '' : target.slice(q + 1);
  const port = url.port === '' ? (scheme === 'https' ? 443 : 80) : Number(url.port);
  const headers: IncomingHttpHeaders = { host: url.host };
  for (const line of options.headers ?? []) {
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim().toLowerCase() : '';
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name)) throw usage(`--header ${JSON.stringify(line)} is not "Name: value"`);
    const value = line.slice(colon + 1).trim();
    const had = headers[name];
    headers[name] = had === undefined || name === 'host' ? value : `${String(had)}, ${value}`;
  }
  const rawHost = String(headers.host ?? '');
  const clientIp = options.clientIp ?? DEFAULT_CLIENT_IP;
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return {
    scheme,
    port,
    sni: isIP(hostname) === 0 ? hostname.toLowerCase() : undefined,
    rawHost,
    host: splitHost(rawHost).host,
    path,
    query,
    method: (options.method ?? 'GET').toUpperCase(),
    headers,
    clientIp,
  };
}

/** The entry points a request (or handshake) would arrive on, and why they were chosen. */
export interface EntryPointChoice {
  readonly names: readonly string[];
  readonly reason: string;
}

/**
 * `--entry-point` when given (it must exist, and be a TLS one for `tls`); else the entry points of the right kind
 * (TLS for https and SNI) listening on `port`; else, when none listens there (a container maps 80 → 8080), every
 * entry point of that kind.
 */
export function chooseEntryPoints(config: Config, tls: boolean, port: number | undefined, given: string | undefined): EntryPointChoice {
  const all = Object.keys(config.entryPoints);
  if (given !== undefined) {
    if (config.entryPoints[given] === undefined) {
      const near = suggestClosest(given, all);
      throw usage(`entry point "${given}" does not exist${near ? `; did you mean "${near}"?` : ` (defined: ${all.join(', ')})`}`);
    }
    return { names: [given], reason: '--entry-point' };
  }
  // UDP entry points carry no HTTP and no TLS (explain --udp explains them).
  const kind = all.filter((n) => (config.entryPoints[n]!.tls !== undefined) === tls && listenProtocol(config.entryPoints[n]!.address) !== 'udp');
  const label = tls ? 'TLS' : 'plain HTTP';
  if (kind.length === 0) throw usage(`the config has no ${label} entry point`);
  if (port !== undefined) {
    const onPort = kind.filter((n) => listenPort(config, n) === port);
    if (onPort.length > 0) return { names: onPort, reason: `${label} entry point listening on port ${port}` };
    return { names: kind, reason: `no ${label} entry point listens on port ${port}: every ${label} entry point` };
  }
  return { names: kind, reason: `every ${label} entry point` };
}

/** The port an entry point's address names (0 for "any free port"), or undefined for one that does not parse. */
export function listenPort(config: Config, name: string): number | undefined {
  try {
    return parseListenAddress(config.entryPoints[name]!.address, name).port;
  } catch {
    return undefined;
  }
}
