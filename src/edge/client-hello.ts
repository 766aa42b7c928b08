/**
 * A pure, incremental parser for the first flight of a TLS connection: is it a ClientHello, and if so which name
 * (SNI) and which application protocols (ALPN) it asks for. The edge needs both before choosing between passthrough,
 * termination and the tls-alpn-01 responder, and Node's `SNICallback` never sees ALPN. Nothing here touches a socket.
 *
 * The walk is strict where a sloppy parser could be steered: every length must fit inside the one that encloses it
 * (record → handshake → extensions block → extension → list), so a ClientHello that a TLS stack would reject with
 * decode_error is 'malformed' here too, and no name is ever read from bytes another length claims.
 */

/** What the edge needs from a ClientHello. `sni` lower-cased (RFC 6066 §3 host_name), undefined when absent. */
export interface ClientHello {
  readonly sni: string | undefined;
  /** ALPN protocol names in the client's order of preference (RFC 7301 §3.1), empty when the extension is absent. */
  readonly alpn: readonly string[];
  /** Highest version offered: the largest non-GREASE supported_versions entry, else legacy_version (0x0303 = TLS 1.2). */
  readonly version: number;
}

/** Why a connection's first bytes did not yield a ClientHello; the last two come from the socket reader only. */
export type PeekFailure = 'not-tls' | 'sslv2' | 'http' | 'malformed' | 'too-large' | 'timeout' | 'closed';

/** The parser's verdict on what has arrived so far. `needBytes` (≤ maxBytes) is the least total length worth re-parsing at. */
export type ClientHelloParse =
  | { status: 'complete'; hello: ClientHello }
  | { status: 'incomplete'; needBytes: number }
  | { status: 'invalid'; reason: PeekFailure };

const RECORD_HEADER = 5;
const HANDSHAKE_HEADER = 4;
const CONTENT_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
/** RFC 8446 §5.1: a record's plaintext length MUST NOT exceed 2^14. */
const MAX_RECORD = 16384;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const EXT_SUPPORTED_VERSIONS = 43;
/** RFC 1035 §2.3.4 caps a name at 255 octets; OpenSSL refuses longer host_names with decode_error. */
const MAX_HOST_NAME = 255;
/** Request methods that start a plain HTTP/1.x request (or the HTTP/2 prior-knowledge preface, `PRI * HTTP/2.0`). */
const HTTP_METHODS = ['GET ', 'POST ', 'HEAD ', 'PUT ', 'DELETE ', 'OPTIONS ', 'PATCH ', 'CONNECT ', 'TRACE ', 'PRI '].map((m) =>
  Buffer.from(m, 'latin1'),
);

/** Big-endian uint16 at `at`; callers have checked `at + 2 <= length`. Inlined by V8, unlike readUInt16BE's checks. */
const u16 = (b: Buffer, at: number): number => (b[at]! << 8) | b[at + 1]!;

const invalid = (reason: PeekFailure): ClientHelloParse => ({ status: 'invalid', reason });

/**
 * Parse what has arrived so far (one or more TLS records). Never throws; 'incomplete' only while the ClientHello
 * could still fit in `maxBytes`, so a caller that re-parses once `needBytes` are in hand is bounded in bytes.
 * Bytes after the ClientHello's last record (TLS 1.3 early data) are ignored.
 */
export function parseClientHello(data: Buffer, maxBytes: number): ClientHelloParse {
  if (data.length === 0) return { status: 'incomplete', needBytes: Math.min(RECORD_HEADER, maxBytes) };
  const first = data[0]!;
  if (first !== CONTENT_HANDSHAKE) return classifyNonTls(data, maxBytes);
  return reassemble(data, maxBytes);
}

/** Name what a non-handshake first byte starts: an SSLv2-framed hello, a plain HTTP request, or anything else. */
function classifyNonTls(data: Buffer, maxBytes: number): ClientHelloParse {
  const first = data[0]!;
  // SSLv2 CLIENT-HELLO: a 2-byte length with the high bit set, then msg_type 1 (draft-hickman-netscape-ssl-00 §2.2).
  // Old clients wrap TLS offers in it (RFC 5246 Appendix E.2); no stack we terminate with accepts it.
  if (first & 0x80) {
    if (data.length < 3) return needMore(3, maxBytes);
    return invalid(data[2] === 1 ? 'sslv2' : 'not-tls');
  }
  for (const method of HTTP_METHODS) {
    const n = Math.min(method.length, data.length);
    if (data.compare(method, 0, n, 0, n) !== 0) continue;
    if (n === method.length) return invalid('http');
    return needMore(method.length, maxBytes);
  }
  return invalid('not-tls');
}

function needMore(total: number, maxBytes: number): ClientHelloParse {
  return total > maxBytes ? invalid('too-large') : { status: 'incomplete', needBytes: total };
}

/**
 * Walk the records, gathering handshake fragments until the ClientHello's length is covered. RFC 8446 §5.1: a
 * handshake message may be split over records, records of other types MUST NOT interleave, and zero-length
 * handshake fragments MUST NOT be sent. A single record (the common case) is parsed in place without copying.
 */
function reassemble(data: Buffer, maxBytes: number): ClientHelloParse {
  let pos = 0;
  let gathered = 0; // handshake bytes in complete records so far
  let headerBytes = 0; // how many of the 4 handshake header bytes have been read
  let bodyLength = 0;
  let firstStart = -1;
  let more: Buffer[] | undefined;
  while (true) {
    if (pos + RECORD_HEADER > data.length) return needMore(pos + RECORD_HEADER, maxBytes);
    if (data[pos] !== CONTENT_HANDSHAKE) return invalid(pos === 0 ? 'not-tls' : 'malformed');
    // legacy_record_version is 0x0300..0x0304 in practice; a major other than 3 is not TLS at all.
    if (data[pos + 1] !== 3) return invalid(pos === 0 ? 'not-tls' : 'malformed');
    const length = u16(data, pos + 3);
    if (length === 0 || length > MAX_RECORD) return invalid('malformed');
    const end = pos + RECORD_HEADER + length;
    if (end > maxBytes) return invalid('too-large');
    if (end > data.length) return needMore(end, maxBytes);
    // The handshake header itself may straddle records (one byte per record is legal, if perverse).
    for (let i = pos + RECORD_HEADER; i < end && headerBytes < HANDSHAKE_HEADER; i++, headerBytes++) {
      if (headerBytes === 0 && data[i] !== HANDSHAKE_CLIENT_HELLO) return invalid('malformed');
      if (headerBytes > 0) bodyLength = (bodyLength << 8) | data[i]!;
    }
    // Views are made only once a second record shows the message is fragmented.
    if (firstStart < 0) firstStart = pos + RECORD_HEADER;
    else (more ??= [data.subarray(firstStart, firstStart + gathered)]).push(data.subarray(pos + RECORD_HEADER, end));
    gathered += length;
    pos = end;
    if (headerBytes < HANDSHAKE_HEADER) continue;
    const total = HANDSHAKE_HEADER + bodyLength;
    if (gathered >= total) {
      // The ClientHello is the client's only handshake message before the server speaks: a record that carries
      // bytes past it contradicts the handshake length.
      if (gathered > total) return invalid('malformed');
      if (more === undefined) return parseBody(data, firstStart + HANDSHAKE_HEADER, firstStart + total);
      return parseBody(Buffer.concat(more, gathered), HANDSHAKE_HEADER, total);
    }
    // What is missing needs at least one more record header; refuse now rather than after reading it all.
    if (pos + RECORD_HEADER + (total - gathered) > maxBytes) return invalid('too-large');
  }
}

/** RFC 8446 §4.1.2 ClientHello body: version, random, session id, suites, compression, then the extensions. */
function parseBody(body: Buffer, start: number, end: number): ClientHelloParse {
  if (end - start < 2 + 32 + 1) return invalid('malformed');
  const legacyVersion = u16(body, start);
  let pos = start + 34;
  const sessionId = body[pos]!;
  if (sessionId > 32) return invalid('malformed');
  pos += 1 + sessionId;
  if (pos + 2 > end) return invalid('malformed');
  const suites = u16(body, pos);
  // cipher_suites<2..2^16-2>: two-byte entries, at least one.
  if (suites < 2 || suites % 2 !== 0) return invalid('malformed');
  pos += 2 + suites;
  if (pos + 1 > end) return invalid('malformed');
  const compression = body[pos]!;
  if (compression < 1) return invalid('malformed');
  pos += 1 + compression;
  if (pos > end) return invalid('malformed');
  // RFC 5246 §7.4.1.2: a TLS 1.2 hello may stop here, with no extensions at all.
  if (pos === end) return { status: 'complete', hello: { sni: undefined, alpn: [], version: legacyVersion } };
  if (pos + 2 > end || pos + 2 + u16(body, pos) !== end) return invalid('malformed');
  return parseExtensions(body, pos + 2, end, legacyVersion);
}

/** Walk the extensions block, reading only server_name, ALPN and supported_versions. */
function parseExtensions(body: Buffer, start: number, end: number, legacyVersion: number): ClientHelloParse {
  let sni: string | undefined;
  let alpn: string[] | undefined;
  let version = 0;
  let seen = 0; // bit per extension acted on: 1 server_name, 2 ALPN, 4 supported_versions
  let pos = start;
  while (pos < end) {
    if (pos + 4 > end) return invalid('malformed');
    const type = u16(body, pos);
    const extEnd = pos + 4 + u16(body, pos + 2);
    if (extEnd > end) return invalid('malformed');
    const from = pos + 4;
    pos = extEnd;
    // RFC 8446 §4.2: an extension type MUST NOT appear twice; checked for the ones we act on.
    if (type === EXT_SERVER_NAME) {
      if (seen & 1) return invalid('malformed');
      seen |= 1;
      const name = readServerName(body, from, extEnd);
      if (name === null) return invalid('malformed');
      sni = name;
    } else if (type === EXT_ALPN) {
      if (seen & 2) return invalid('malformed');
      seen |= 2;
      const list = readAlpn(body, from, extEnd);
      if (list === null) return invalid('malformed');
      alpn = list;
    } else if (type === EXT_SUPPORTED_VERSIONS) {
      if (seen & 4) return invalid('malformed');
      seen |= 4;
      version = readHighestVersion(body, from, extEnd);
      if (version < 0) return invalid('malformed');
    }
  }
  return { status: 'complete', hello: { sni, alpn: alpn ?? [], version: version > 0 ? version : legacyVersion } };
}

/**
 * RFC 6066 §3 ServerNameList: the first host_name(0) entry, lower-cased (DNS names compare case-insensitively,
 * RFC 4343). Returns undefined for a list with no host_name, null when malformed: lengths
 * that disagree, an empty or over-long name, or bytes outside printable ASCII (a name with NUL or spaces can only
 * be an attempt to confuse logs or routing).
 */
function readServerName(body: Buffer, from: number, end: number): string | undefined | null {
  if (from + 2 > end || from + 2 + u16(body, from) !== end) return null;
  let pos = from + 2;
  let found: string | undefined;
  while (pos < end) {
    if (pos + 3 > end) return null;
    const nameType = body[pos]!;
    const nameEnd = pos + 3 + u16(body, pos + 1);
    if (nameEnd > end || nameEnd === pos + 3) return null;
    if (nameType === 0 && found === undefined) {
      if (nameEnd - pos - 3 > MAX_HOST_NAME) return null;
      for (let i = pos + 3; i < nameEnd; i++) {
        const c = body[i]!;
        if (c < 0x21 || c > 0x7e) return null;
      }
      found = body.toString('latin1', pos + 3, nameEnd).toLowerCase();
    }
    pos = nameEnd;
  }
  return found;
}

/** RFC 7301 §3.1 ProtocolNameList: non-empty list of non-empty names, lengths exactly filling the extension. */
function readAlpn(body: Buffer, from: number, end: number): string[] | null {
  if (from + 2 > end || from + 2 + u16(body, from) !== end || end === from + 2) return null;
  const names: string[] = [];
  let pos = from + 2;
  while (pos < end) {
    const len = body[pos]!;
    if (len === 0 || pos + 1 + len > end) return null;
    names.push(knownAlpn(body, pos + 1, len) ?? body.toString('latin1', pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  return names;
}

/** The protocol ids nearly every client sends (IANA ALPN registry), shared rather than allocated per connection. */
const KNOWN_ALPN = ['h2', 'http/1.1', 'acme-tls/1', 'http/1.0'].map((id) => ({ id, bytes: Buffer.from(id, 'latin1') }));

function knownAlpn(body: Buffer, at: number, len: number): string | undefined {
  for (const k of KNOWN_ALPN) {
    if (k.bytes.length === len && body.compare(k.bytes, 0, len, at, at + len) === 0) return k.id;
  }
  return undefined;
}

/** RFC 8446 §4.2.1 supported_versions (ClientHello form): the largest entry that is not GREASE (RFC 8701 §2). */
function readHighestVersion(body: Buffer, from: number, end: number): number {
  const len = from < end ? body[from]! : 0;
  if (len < 2 || len % 2 !== 0 || from + 1 + len !== end) return -1;
  let best = 0;
  for (let pos = from + 1; pos < end; pos += 2) {
    const v = u16(body, pos);
    const isGrease = (v & 0x0f0f) === 0x0a0a && v >> 8 === (v & 0xff);
    if (!isGrease && v > best) best = v;
  }
  return best;
}
