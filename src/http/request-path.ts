/**
 * The request path, made one: the path the routers match is the path the backend receives. A request may spell one
 * path many ways (`/%61dmin`, `/x/../admin`, `//admin`, `/./admin`); matched raw, each would skip a
 * `PathPrefix(`/admin`)` router that carries auth or an allow list and reach the same backend through a catch-all,
 * where the backend decodes it to `/admin`. So, as Traefik's entry points do (pkg/server/server_entrypoint_tcp.go
 * normalizePath + sanitizePath, pkg/muxer/http/mux.go withRoutingPath):
 *
 * - percent-encoded unreserved characters are decoded (RFC 3986 §2.3, §6.2.2.2), other encodings upper-cased
 *   (§6.2.2.1), and characters a path may not hold raw (`"`, `{`, `|`, …) percent-encoded;
 * - dot segments are resolved and duplicate slashes collapsed as Go's path.Clean does (§6.2.2.3; a trailing slash
 *   stays, `..` never climbs above the root);
 * - that path is what is forwarded (`req.url` is rewritten when it differs);
 * - the routers (and the middlewares after them) see it with every remaining non-reserved encoding decoded
 *   (`/caf%C3%A9` → `/café`, `/a%20b` → `/a b`), while reserved ones (`%2F`, `%3F`, `%25`, … RFC 3986 §2.2) stay encoded,
 *   because decoding them would change what the path means.
 *
 * What stays ambiguous is refused with 400: an encoded `/` (`%2F`: a backend may or may not split on it), an encoded
 * `\` or NUL, a raw `\` (some servers treat it as `/`), a fragment, a malformed percent-encoding, and bytes that are
 * not UTF-8 once decoded. `entryPoints.NAME.http.encodedCharacters` allows the encoded ones per entry point, with
 * Traefik's option names; Traefik allows all of them by default, gatehouse refuses `/`, `\` and NUL by default.
 */

/** Which percent-encoded characters an entry point lets into a path (Traefik's encodedCharacters options). */
export interface EncodedCharacterPolicy {
  readonly allowEncodedSlash: boolean;
  readonly allowEncodedBackSlash: boolean;
  readonly allowEncodedNullCharacter: boolean;
  readonly allowEncodedSemicolon: boolean;
  readonly allowEncodedPercent: boolean;
  readonly allowEncodedQuestionMark: boolean;
  readonly allowEncodedHash: boolean;
}

/** gatehouse's defaults: the three encodings that backends disagree on are refused, the rest allowed (as Traefik). */
export const DEFAULT_ENCODED_CHARACTERS: EncodedCharacterPolicy = Object.freeze({
  allowEncodedSlash: false,
  allowEncodedBackSlash: false,
  allowEncodedNullCharacter: false,
  allowEncodedSemicolon: true,
  allowEncodedPercent: true,
  allowEncodedQuestionMark: true,
  allowEncodedHash: true,
});

/** The outcome of `normalizePath`: the path to route on and, when it differs from the request's, the one to send. */
export interface NormalizedPath {
  /** What the routers and middlewares see (non-reserved encodings decoded); undefined when the path is refused. */
  routing: string | undefined;
  /** The path to forward, when it differs from the one received; undefined when unchanged. */
  wire: string | undefined;
  /** Why the path is refused (for the 400 and its log line). */
  refusal: string | undefined;
}

// Character classes of ASCII, by code.
const UNRESERVED = 1; // A-Z a-z 0-9 - . _ ~ (RFC 3986 §2.3)
const SUB_DELIM = 2; // ! $ & ' ( ) * + , ; = (§2.2), and : @ (pchar, §3.3)
const CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z0-9\-._~]/.test(ch)) CLASS[c] = UNRESERVED;
  else if ("!$&'()*+,;=:@".includes(ch)) CLASS[c] = SUB_DELIM;
}
/** Reserved characters by byte (RFC 3986 §2.2, and `%`): kept encoded in the routing path, as Traefik does. */
const RESERVED_BYTE = new Uint8Array(256);
for (const ch of ":/?#[]@!$&'()*+,;=%") RESERVED_BYTE[ch.charCodeAt(0)] = 1;

const SLASH = 47;
const DOT = 46;
const PERCENT = 37;
const HEX = '0123456789ABCDEF';

/**
 * Normalizes the path part (no query) of an origin-form request target. Allocation-free for the common path: one
 * that has no percent sign, no dot segment, no double slash and only characters a path may hold raw is returned as
 * is (`routing` is the same string, `wire` undefined). `out` is filled and returned (the caller reuses one object).
 */
export function normalizePath(raw: string, policy: EncodedCharacterPolicy, out: NormalizedPath): NormalizedPath {
  out.wire = undefined;
  out.refusal = undefined;
  if (isPlain(raw)) {
    out.routing = raw;
    return out;
  }
  const wire = encodedForm(raw, policy, out);
  if (wire === undefined) {
    out.routing = undefined;
    return out;
  }
  const clean = cleanSegments(wire);
  const routing = routingForm(clean);
  if (routing === undefined) {
    out.routing = undefined;
    out.refusal = 'the path is not UTF-8 once decoded';
    return out;
  }
  out.routing = routing;
  out.wire = clean === raw ? undefined : clean;
  return out;
}

/** True when `raw` needs no work: a leading slash, pchars only, no `%`, no `//`, no `.` or `..` segment. */
function isPlain(raw: string): boolean {
  if (raw.charCodeAt(0) !== SLASH) return false;
  let prev = SLASH;
  for (let i = 1; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === SLASH) {
      if (prev === SLASH) return false;
    } else if (c === DOT) {
      // Only a segment that is exactly `.` or `..` needs work; `/.well-known` and `/.env` do not.
      if (prev === SLASH && isDotSegment(raw, i)) return false;
    } else if (c >= 128 || CLASS[c] === 0) return false;
    prev = c;
  }
  return true;
}

/** Whether the segment starting at `i` (a dot right after a slash) is `.` or `..`. */
function isDotSegment(raw: string, i: number): boolean {
  const next = i + 1 < raw.length ? raw.charCodeAt(i + 1) : SLASH;
  if (next === SLASH) return true;
  if (next !== DOT) return false;
  return i + 2 >= raw.length || raw.charCodeAt(i + 2) === SLASH;
}

/**
 * The path with unreserved encodings decoded, the others upper-cased and raw characters a path may not hold encoded;
 * undefined (with `out.refusal`) for what is refused.
 */
function encodedForm(raw: string, policy: EncodedCharacterPolicy, out: NormalizedPath): string | undefined {
  if (raw.charCodeAt(0) !== SLASH) {
    out.refusal = 'the path does not start with /';
    return undefined;
  }
  let s = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === PERCENT) {
      const byte = hexByte(raw, i + 1);
      if (byte < 0) {
        out.refusal = 'malformed percent-encoding in the path';
        return undefined;
      }
      const denied = deniedEncoding(byte, policy);
      if (denied !== undefined) {
        out.refusal = `encoded ${denied} in the path`;
        return undefined;
      }
      s += byte < 128 && CLASS[byte] === UNRESERVED ? String.fromCharCode(byte) : `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
      i += 2;
    } else if (c === 92 /* \ */) {
      out.refusal = 'a backslash in the path';
      return undefined;
    } else if (c === 35 /* # */) {
      out.refusal = 'a fragment in the request target';
      return undefined;
    } else if (c === SLASH || (c < 128 && CLASS[c] !== 0)) {
      s += raw[i];
    } else if (c < 128) {
      // A character a path may not hold raw that Node's parser let through (`"`, `{`, `|`, `^`, backquote, `<`, `>`).
      s += `%${HEX[c >> 4]}${HEX[c & 15]}`;
    } else {
      // Node refuses raw bytes above 0x7F in a request line; a string built by a caller might still hold them.
      for (const b of Buffer.from(raw[i]!, 'utf8')) s += `%${HEX[b >> 4]}${HEX[b & 15]}`;
    }
  }
  return s;
}

function hexByte(s: string, at: number): number {
  if (at + 1 >= s.length) return -1;
  const hi = hexDigit(s.charCodeAt(at));
  const lo = hexDigit(s.charCodeAt(at + 1));
  return hi < 0 || lo < 0 ? -1 : (hi << 4) | lo;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

function deniedEncoding(byte: number, p: EncodedCharacterPolicy): string | undefined {
  switch (byte) {
    case 0x2f:
      return p.allowEncodedSlash ? undefined : 'slash (%2F)';
    case 0x5c:
      return p.allowEncodedBackSlash ? undefined : 'backslash (%5C)';
    case 0x00:
      return p.allowEncodedNullCharacter ? undefined : 'NUL (%00)';
    case 0x3b:
      return p.allowEncodedSemicolon ? undefined : 'semicolon (%3B)';
    case 0x25:
      return p.allowEncodedPercent ? undefined : 'percent sign (%25)';
    case 0x3f:
      return p.allowEncodedQuestionMark ? undefined : 'question mark (%3F)';
    case 0x23:
      return p.allowEncodedHash ? undefined : 'hash (%23)';
    default:
      return undefined;
  }
}

/**
 * Go's path.Clean on a path that starts with `/` (what Traefik's sanitizePath applies through URL.JoinPath): `.`
 * segments and empty ones (`//`) removed, `..` removes the segment before it (never climbing above the root), and a
 * trailing slash kept when the path had one. Encoded slashes (`%2F`) are no separators here, as in Go.
 */
function cleanSegments(path: string): string {
  const parts = path.split('/');
  const kept: string[] = [];
  for (let i = 1; i < parts.length; i++) {
    const seg = parts[i]!;
    if (seg === '' || seg === '.') continue;
    if (seg === '..') kept.pop();
    else kept.push(seg);
  }
  let out = `/${kept.join('/')}`;
  // Go keeps a trailing slash only when the last element ended with one: `/a/b/` and `/a//`, not `/a/b/..` or `/a/.`.
  if (out !== '/' && path.charCodeAt(path.length - 1) === SLASH) out += '/';
  return out;
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The routing path: every remaining encoding of a non-reserved byte decoded (as UTF-8); undefined if not UTF-8. */
function routingForm(wire: string): string | undefined {
  if (wire.indexOf('%') === -1) return wire;
  const bytes = Buffer.allocUnsafe(wire.length);
  let n = 0;
  for (let i = 0; i < wire.length; i++) {
    const c = wire.charCodeAt(i);
    if (c === PERCENT) {
      const byte = hexByte(wire, i + 1);
      if (RESERVED_BYTE[byte] === 1) {
        bytes[n++] = PERCENT;
        bytes[n++] = wire.charCodeAt(i + 1);
        bytes[n++] = wire.charCodeAt(i + 2);
      } else bytes[n++] = byte;
      i += 2;
    } else bytes[n++] = c;
  }
  try {
    return STRICT_UTF8.decode(bytes.subarray(0, n));
  } catch {
    return undefined;
  }
}

/**
 * A routing-form path (what `ctx.path` holds, possibly rewritten by a middleware) in the form a request line, a
 * Location or a header may carry: every character a path may not hold raw percent-encoded as UTF-8, `%` left as is
 * (in the routing form it only starts a reserved encoding). Returns `path` itself when nothing needs encoding.
 */
export function pathToWire(path: string): string {
  let i = 0;
  for (; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c >= 128 || (CLASS[c] === 0 && c !== SLASH && c !== PERCENT)) break;
  }
  if (i === path.length) return path;
  let s = path.slice(0, i);
  for (; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c < 128 && (CLASS[c] !== 0 || c === SLASH || c === PERCENT)) s += path[i];
    else {
      const cp = path.codePointAt(i)!;
      for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) s += `%${HEX[b >> 4]}${HEX[b & 15]}`;
      if (cp > 0xffff) i++;
    }
  }
  return s;
}
