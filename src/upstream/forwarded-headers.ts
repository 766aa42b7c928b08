/**
 * Header hygiene between client and upstream: hop-by-hop headers removed both ways (RFC 9110 §7.6.1) and the
 * de-facto X-Forwarded-* headers set. Works on Node's flat `rawHeaders` arrays so case, order and duplicates
 * (several Set-Cookie lines) survive, and so no header object is built per request.
 */

/**
 * Hop-by-hop headers: they describe one connection, so a proxy must not relay them (RFC 9110 §7.6.1).
 * Proxy-Authorization and Proxy-Authenticate are here too: RFC 9110 §11.7.1-2 scopes them to the next proxy,
 * which is gatehouse itself; it consumes no proxy credentials, and relaying them would hand a client's proxy
 * password to the backend. Go's ReverseProxy, Caddy and Traefik strip them for the same reason.
 * Expect is dropped because Node's server already answered `100-continue` (and undici rejects the header).
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
  'expect',
]);

/** The same list minus what an Upgrade request needs to reach the upstream (RFC 9110 §7.8). */
export const HOP_BY_HOP_UPGRADE: ReadonlySet<string> = new Set([...HOP_BY_HOP].filter((h) => h !== 'connection' && h !== 'upgrade'));

/**
 * The lengths of the HOP_BY_HOP names as bits (all are shorter than 32): a name of any other length is not
 * hop-by-hop, so most headers (Content-Type, Content-Length, Date, Accept, ...) skip the Set lookup, which would
 * hash a string made fresh for this request (bench/README.md, "Targets (issue 3)").
 */
const HOP_BY_HOP_LENGTHS = [...HOP_BY_HOP].reduce((bits, name) => bits | (1 << name.length), 0);

/** Whether the header `name` (any case) is in `dropped`, a subset of HOP_BY_HOP. */
function isDropped(name: string, dropped: ReadonlySet<string>): boolean {
  return name.length < 32 && ((HOP_BY_HOP_LENGTHS >>> name.length) & 1) === 1 && dropped.has(lowerName(name));
}

/** `name` in lower case: the same string when it has no ASCII upper-case letter (no call into V8's case mapping). */
function lowerName(name: string): string {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 65 && c <= 90) return name.toLowerCase();
  }
  return name;
}

/** Incoming headers about earlier hops: kept only from trusted clients, otherwise stripped and replaced. */
function isForwardedHeader(lower: string): boolean {
  const c = lower.charCodeAt(0);
  if (c !== 120 /* x */ && c !== 102 /* f */) return false;
  return lower.startsWith('x-forwarded-') || lower === 'x-real-ip' || lower === 'forwarded';
}

/** The client side of a request, as far as the forwarded headers need it. */
export interface ForwardedFrom {
  clientIp: string;
  scheme: 'http' | 'https';
  trustForwarded: boolean;
}

/** `::ffff:1.2.3.4` (an IPv4 client on a dual-stack socket) → `1.2.3.4`; other addresses unchanged. */
export function displayIp(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

/**
 * Names listed in Connection headers (RFC 9110 §7.6.1: they are hop-by-hop too). Returns undefined in the usual
 * case (`keep-alive`, `close`, `upgrade` or no Connection header) so the common request allocates nothing.
 */
function connectionListed(raw: readonly string[]): Set<string> | undefined {
  let listed: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length !== 10 || lowerName(name) !== 'connection') continue;
    const value = raw[i + 1] as string;
    // The usual values list nothing: no split, no token strings.
    if (value === 'keep-alive' || value === 'close') continue;
    for (const token of value.split(',')) {
      const t = token.trim().toLowerCase();
      if (t === '' || t === 'close' || t === 'keep-alive' || t === 'upgrade') continue;
      (listed ??= new Set()).add(t);
    }
  }
  return listed;
}

/**
 * Request headers for the upstream, as a flat `[name, value, …]` array: hop-by-hop removed (`dropped` is
 * HOP_BY_HOP, HOP_BY_HOP_UPGRADE or another subset of HOP_BY_HOP), Host replaced when `host` is given,
 * X-Forwarded-For/Proto/Host/Port set. From a trusted client, incoming X-Forwarded-* are kept (For is appended
 * to); from anyone else, replaced. `teTrailers`: a TE that lists `trailers` goes on as `te: trailers` (for HTTP/2
 * upstreams, see teTrailers).
 */
export function upstreamRequestHeaders(
  raw: readonly string[],
  from: ForwardedFrom,
  host: string | undefined,
  dropped: ReadonlySet<string>,
  teTrailers = false,
): string[] {
  const out: string[] = [];
  const listed = connectionListed(raw);
  const trust = from.trustForwarded;
  let clientHost: string | undefined;
  let priorFor: string | undefined;
  let hasProto = false;
  let hasHost = false;
  let hasPort = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const lower = lowerName(name);
    if (isDropped(lower, dropped) || (listed !== undefined && listed.has(lower))) {
      // Only reached for hop-by-hop names: requests without them pay nothing for this.
      if (teTrailers && lower === 'te' && listsTrailers(value)) out.push(name, 'trailers');
      continue;
    }
    if (lower === 'host') {
      clientHost ??= value;
      if (host !== undefined) continue;
    } else if (isForwardedHeader(lower)) {
      if (!trust) continue;
      // Several X-Forwarded-For lines are one list (RFC 9110 §5.3): fold them, then append our hop.
      if (lower === 'x-forwarded-for') {
        priorFor = priorFor === undefined ? value : `${priorFor}, ${value}`;
        continue;
      }
      if (lower === 'x-forwarded-proto') hasProto = true;
      else if (lower === 'x-forwarded-host') hasHost = true;
      else if (lower === 'x-forwarded-port') hasPort = true;
    }
    out.push(name, value);
  }
  if (host !== undefined) out.push('host', host);
  const ip = displayIp(from.clientIp);
  out.push('x-forwarded-for', priorFor === undefined ? ip : `${priorFor}, ${ip}`);
  if (!hasProto) out.push('x-forwarded-proto', from.scheme);
  if (!hasHost && clientHost !== undefined) out.push('x-forwarded-host', clientHost);
  // The port the client addressed (its Host header), not the one we listen on: behind a port mapping (80→8080) only
  // the former builds a URL that works for the client. As Traefik does; without a port, the scheme's default.
  if (!hasPort) out.push('x-forwarded-port', hostPort(clientHost) ?? (from.scheme === 'https' ? '443' : '80'));
  return out;
}

/**
 * Whether a TE value lists `trailers` (RFC 9110 §10.1.4: a list of transfer codings and `trailers`). TE is
 * hop-by-hop, but gRPC servers may require `te: trailers` to tell a proxy that would drop trailers, and RFC 9113
 * §8.2.2 lets HTTP/2 carry TE with that value alone; so toward an HTTP/2 upstream it goes on as `te: trailers`
 * (Go's ReverseProxy, which Traefik uses, does the same for every upstream).
 */
function listsTrailers(value: string): boolean {
  if (value === 'trailers') return true;
  for (const token of value.split(',')) {
    const semi = token.indexOf(';');
    if ((semi < 0 ? token : token.slice(0, semi)).trim().toLowerCase() === 'trailers') return true;
  }
  return false;
}

/** The port of a Host header value (`a.test:8443` → `8443`, `[::1]:80` → `80`), or undefined when it has none. */
function hostPort(host: string | undefined): string | undefined {
  if (host === undefined) return undefined;
  // The last ':' not followed by a ']' (String#lastIndexOf is a call into the runtime; this is a short loop).
  for (let i = host.length - 1; i >= 0; i--) {
    const c = host.charCodeAt(i);
    if (c === 93 /* ] */) return undefined;
    if (c === 58 /* : */) return i === host.length - 1 ? undefined : host.slice(i + 1);
  }
  return undefined;
}

/**
 * Response headers for the client from undici's raw (Buffer) pairs, as a flat `[name, value, …]` array with
 * hop-by-hop headers removed. Set-Cookie and other repeated headers stay separate lines, in order.
 */
export function clientResponseHeaders(raw: readonly Buffer[]): string[] {
  const out: string[] = [];
  let listed: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as Buffer).toString('latin1');
    const value = (raw[i + 1] as Buffer).toString('latin1');
    out.push(name, value);
  }
  // A second pass only when a Connection header lists extra names; usual responses skip the Set.
  for (let i = 0; i < out.length; i += 2) {
    if ((out[i] as string).length === 10 && lowerName(out[i] as string) === 'connection') {
      listed = connectionListed(out);
      break;
    }
  }
  let w = 0;
  for (let i = 0; i < out.length; i += 2) {
    const name = out[i] as string;
    if (isDropped(name, HOP_BY_HOP) || (listed !== undefined && listed.has(lowerName(name)))) continue;
    out[w++] = name;
    out[w++] = out[i + 1] as string;
  }
  out.length = w;
  return out;
}

/**
 * An upstream's trailers as undici hands them over: raw pairs from HTTP/1.1 (Buffers, typed as strings by undici),
 * Node's header object from HTTP/2.
 */
export type UpstreamTrailers = readonly (Buffer | string)[] | Readonly<Record<string, string | string[] | undefined>>;

/**
 * Trailer fields for the client as `[name, value]` pairs (what ServerResponse.addTrailers takes), hop-by-hop fields
 * and HTTP/2's HTTP2-Settings left out (RFC 9110 §6.5.1: a trailer must not carry framing or routing fields, and
 * Node's HTTP/2 stream throws on connection-specific ones); undefined when none remain.
 */
export function clientResponseTrailers(trailers: UpstreamTrailers): [string, string][] | undefined {
  let out: [string, string][] | undefined;
  const keep = (name: string, value: string): void => {
    if (isDropped(name, HOP_BY_HOP) || name.charCodeAt(0) === 58 /* : */ || lowerName(name) === 'http2-settings') return;
    (out ??= []).push([name, value]);
  };
  if (Array.isArray(trailers)) {
    const raw = trailers as readonly (Buffer | string)[];
    const text = (b: Buffer | string): string => (typeof b === 'string' ? b : b.toString('latin1'));
    for (let i = 0; i < raw.length; i += 2) keep(text(raw[i] as Buffer | string), text(raw[i + 1] as Buffer | string));
  } else {
    // Object.keys leaves out Node's sensitiveHeaders symbol; repeated fields come as arrays.
    for (const name of Object.keys(trailers)) {
      const value = (trailers as Record<string, string | string[] | undefined>)[name];
      if (typeof value === 'string') keep(name, value);
      else if (value !== undefined) for (const v of value) keep(name, v);
    }
  }
  return out;
}
