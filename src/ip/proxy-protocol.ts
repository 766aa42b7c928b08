/**
 * The PROXY protocol (HAProxy, proxy-protocol.txt, versions 1 and 2): announce a client's address to a backend
 * behind a passthrough route, and read the address a trusted load balancer announces on an entry point.
 * Encoding and address decoding go through `proxy-protocol-js`; the framing (where a header ends, how much may be
 * read, what is refused) is ours, because that package reads whatever it is given and trusts its length fields.
 */
import { isIPv4, isIPv6, type Socket } from 'node:net';
import {
  Command,
  INETProtocol,
  IPv4Address,
  IPv4ProxyAddress,
  IPv6Address,
  IPv6ProxyAddress,
  Peer,
  TransportProtocol,
  V1ProxyProtocol,
  V2ProxyProtocol,
  type IPv6AddressTuple,
} from 'proxy-protocol-js';
import { readPrefix } from './read-prefix.js';

/** A TCP endpoint as Node reports it (`remoteAddress`/`remotePort`). */
export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

/** Why no client address was read: no PROXY header at all, a broken one, one past the cap, or the peer went quiet or away. */
export type ProxyHeaderFailure = 'not-proxy' | 'malformed' | 'too-large' | 'timeout' | 'closed';

/** What a header announced: the client (undefined for LOCAL, UNKNOWN, UNIX or UDP: use the socket's) and the header's length. */
export type ProxyHeaderParse =
  | { status: 'complete'; source: Endpoint | undefined; length: number }
  | { status: 'incomplete'; needBytes: number }
  | { status: 'invalid'; reason: ProxyHeaderFailure };

/** §2.2: the 12-byte v2 signature, chosen so that it can never start a valid HTTP request or TLS record. */
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_HEADER = 16;
const V1_SIGNATURE = Buffer.from('PROXY ', 'latin1');
/** §2.1: a v1 line is at most 107 bytes including its CRLF ("PROXY UNKNOWN" with two full IPv6 addresses). */
const V1_MAX = 107;
/** v2 allows 16 + 65535 bytes of TLVs; nothing a load balancer sends us needs more than this. */
export const PROXY_HEADER_MAX_BYTES = 4096;
/** §2.2 family/transport byte: the two we take an address from (TCP over IPv4, TCP over IPv6). */
const TCP4 = 0x11;
const TCP6 = 0x21;
const PORT = /^(0|[1-9][0-9]{0,4})$/;

/** RFC 4291 §2.5.5.2 IPv4-mapped IPv6 (`::ffff:1.2.3.4`), as Node reports IPv4 peers on a dual-stack socket. */
const unmapped = (address: string): string =>
  address.toLowerCase().startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;

/**
 * Encode a v1 or v2 header announcing the client's address to a backend (TCP4/TCP6 as the addresses are).
 * IPv4-mapped addresses count as IPv4; an IPv4/IPv6 pair is sent as TCP6 with the IPv4 side mapped. Throws a
 * TypeError for a string that is not an IP address or a port out of range (socket addresses never are).
 */
export function encodeProxyHeader(version: 1 | 2, src: Endpoint, dst: Endpoint): Buffer {
  let from = unmapped(src.address);
  let to = unmapped(dst.address);
  for (const e of [src, dst]) {
    if (!Number.isInteger(e.port) || e.port < 0 || e.port > 65535) throw new TypeError(`PROXY header: port ${e.port} out of range`);
  }
  for (const a of [from, to]) if (!isIPv4(a) && !isIPv6(a)) throw new TypeError(`PROXY header: ${JSON.stringify(a)} is not an IP address`);
  const v4 = isIPv4(from) && isIPv4(to);
  if (!v4) {
    if (isIPv4(from)) from = `::ffff:${from}`;
    if (isIPv4(to)) to = `::ffff:${to}`;
  }
  if (version === 1) {
    const line = new V1ProxyProtocol(v4 ? INETProtocol.TCP4 : INETProtocol.TCP6, new Peer(from, src.port), new Peer(to, dst.port));
    return Buffer.from(line.build(), 'latin1');
  }
  const addresses = v4
    ? new IPv4ProxyAddress(IPv4Address.createFrom(from.split('.').map(Number)), src.port, IPv4Address.createFrom(to.split('.').map(Number)), dst.port)
    : new IPv6ProxyAddress(new IPv6Address(ipv6Bytes(from)), src.port, new IPv6Address(ipv6Bytes(to)), dst.port);
  const bytes = new V2ProxyProtocol(Command.PROXY, TransportProtocol.STREAM, addresses).build();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The 16 bytes of a valid IPv6 text address (RFC 4291 §2.2: `::` compression, dotted IPv4 tail). */
function ipv6Bytes(text: string): IPv6AddressTuple {
  let groups: string[];
  const [head = '', tail] = text.split('::') as [string, string | undefined];
  const parts = (s: string) => (s === '' ? [] : s.split(':'));
  const expand = (list: string[]) =>
    list.flatMap((g) => (g.includes('.') ? ((n) => [((n[0]! << 8) | n[1]!).toString(16), ((n[2]! << 8) | n[3]!).toString(16)])(g.split('.').map(Number)) : [g]));
  if (tail === undefined) groups = expand(parts(head));
  else {
    const left = expand(parts(head));
    const right = expand(parts(tail));
    groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  }
  return groups.flatMap((g) => {
    const n = parseInt(g, 16);
    return [n >> 8, n & 0xff];
  }) as IPv6AddressTuple;
}

/** 16 bytes to text: IPv4-mapped as dotted IPv4, others in RFC 5952 form (the URL serializer implements it). */
function ipv6Text(bytes: readonly number[]): string {
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return bytes.slice(12).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

/**
 * Parse a PROXY header (v1 or v2) at the start of `data`. Pure and never throws; 'incomplete' only while the
 * header could still fit in `maxBytes` (v1 lines are capped at 107 bytes regardless).
 */
export function parseProxyHeader(data: Buffer, maxBytes = PROXY_HEADER_MAX_BYTES): ProxyHeaderParse {
  if (data.length === 0) return { status: 'incomplete', needBytes: 1 };
  if (data[0] === V2_SIGNATURE[0]) return parseV2(data, maxBytes);
  if (data[0] === V1_SIGNATURE[0]) return parseV1(data);
  return { status: 'invalid', reason: 'not-proxy' };
}

const startsLike = (data: Buffer, signature: Buffer) => {
  const n = Math.min(data.length, signature.length);
  return data.compare(signature, 0, n, 0, n) === 0;
};

/** §2.1: `PROXY TCP4|TCP6 src dst sport dport\r\n`, or `PROXY UNKNOWN ...\r\n` whose rest is ignored. */
function parseV1(data: Buffer): ProxyHeaderParse {
  if (!startsLike(data, V1_SIGNATURE)) return { status: 'invalid', reason: 'not-proxy' };
  const lf = data.subarray(0, V1_MAX).indexOf(0x0a);
  if (lf < 0) return data.length >= V1_MAX ? { status: 'invalid', reason: 'too-large' } : { status: 'incomplete', needBytes: data.length + 1 };
  if (data[lf - 1] !== 0x0d) return { status: 'invalid', reason: 'malformed' };
  const line = data.toString('latin1', 0, lf + 1);
  if (/^PROXY UNKNOWN[ \r]/.test(line)) return { status: 'complete', source: undefined, length: lf + 1 };
  let parsed: V1ProxyProtocol;
  try {
    parsed = V1ProxyProtocol.parse(line);
  } catch {
    return { status: 'invalid', reason: 'malformed' };
  }
  // The package's pattern accepts any non-space run as an address; the spec wants the family's textual form.
  const isFamily = parsed.inetProtocol === INETProtocol.TCP4 ? isIPv4 : isIPv6;
  const { source, destination } = parsed;
  const fields = [source.ipAddress, destination.ipAddress];
  if (parsed.inetProtocol === INETProtocol.UNKNOWN || !fields.every(isFamily) || parsed.data) return { status: 'invalid', reason: 'malformed' };
  const ports = line.slice(0, -2).split(' ').slice(4);
  if (ports.length !== 2 || !ports.every((p) => PORT.test(p) && Number(p) <= 65535)) return { status: 'invalid', reason: 'malformed' };
  return { status: 'complete', source: { address: unmapped(source.ipAddress), port: source.port }, length: lf + 1 };
}

/** §2.2: signature, version/command, family/transport, 16-bit length of what follows, then addresses and TLVs. */
function parseV2(data: Buffer, maxBytes: number): ProxyHeaderParse {
  if (!startsLike(data, V2_SIGNATURE)) return { status: 'invalid', reason: 'not-proxy' };
  if (data.length < V2_HEADER) return { status: 'incomplete', needBytes: V2_HEADER };
  const versionCommand = data[12]!;
  const family = data[13]!;
  // Version 2 only; commands LOCAL (0) and PROXY (1); families 0-3 and transports 0-2 (§2.2 "other values are unspecified").
  if (versionCommand >> 4 !== 2 || (versionCommand & 0x0f) > 1 || family >> 4 > 3 || (family & 0x0f) > 2) {
    return { status: 'invalid', reason: 'malformed' };
  }
  const length = V2_HEADER + data.readUInt16BE(14);
  if (length > maxBytes) return { status: 'invalid', reason: 'too-large' };
  if (data.length < length) return { status: 'incomplete', needBytes: length };
  const local = (versionCommand & 0x0f) === 0;
  // LOCAL (health checks from the balancer itself) and families we do not route on: keep the socket's address,
  // as HAProxy does; the address block is skipped whatever it holds.
  if (local || (family !== TCP4 && family !== TCP6)) return { status: 'complete', source: undefined, length };
  if (length - V2_HEADER < (family === TCP4 ? 12 : 36)) return { status: 'invalid', reason: 'malformed' };
  let addresses: V2ProxyProtocol['proxyAddress'];
  try {
    addresses = V2ProxyProtocol.parse(data.subarray(0, length)).proxyAddress;
  } catch {
    return { status: 'invalid', reason: 'malformed' };
  }
  if (addresses instanceof IPv4ProxyAddress) {
    return { status: 'complete', source: { address: addresses.sourceAddress.address.join('.'), port: addresses.sourcePort }, length };
  }
  if (addresses instanceof IPv6ProxyAddress) {
    return { status: 'complete', source: { address: ipv6Text(addresses.sourceAddress.address), port: addresses.sourcePort }, length };
  }
  return { status: 'invalid', reason: 'malformed' };
}

/** The outcome of reading a PROXY header from a connection; `rest` is what was read past the header (or all of it). */
export type ProxyHeaderRead =
  | { ok: true; source: Endpoint | undefined; rest: Buffer }
  | { ok: false; reason: ProxyHeaderFailure; rest: Buffer };

/**
 * Read a PROXY header (v1 or v2) at the start of a connection from a trusted load balancer: consumes exactly the
 * header; anything read past it is returned in `rest` (to replay with socket.unshift). Bounded in bytes
 * (`maxBytes`, default 4 KiB) and time; never rejects; leaves the socket paused without listeners of its own.
 * LOCAL/UNKNOWN → source undefined (use the socket's); IPv4-mapped sources come back as plain IPv4.
 */
export async function readProxyHeader(socket: Socket, opts: { timeoutMs: number; maxBytes?: number }): Promise<ProxyHeaderRead> {
  const maxBytes = opts.maxBytes ?? PROXY_HEADER_MAX_BYTES;
  const read = await readPrefix<ProxyHeaderParse>(socket, opts.timeoutMs, (data) => {
    const parsed = parseProxyHeader(data, maxBytes);
    return parsed.status === 'incomplete' ? { needBytes: parsed.needBytes } : { value: parsed };
  });
  if (!read.ok) return { ok: false, reason: read.stopped, rest: read.bytes };
  const parsed = read.value;
  if (parsed.status === 'complete') return { ok: true, source: parsed.source, rest: read.bytes.subarray(parsed.length) };
  return { ok: false, reason: parsed.status === 'invalid' ? parsed.reason : 'malformed', rest: read.bytes };
}
