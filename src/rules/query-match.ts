/**
 * Query parameters, read as Traefik reads them by default: its entry points pass every request through Go's
 * http.AllowQuerySemicolons (pkg/server/server_entrypoint_tcp.go, unless `encodeQuerySemicolons` is set), which
 * turns each `;` of the raw query into `&`, and the matchers then call url.Values via req.URL.Query(), i.e.
 * url.ParseQuery: pairs split on `&`, key and value split at the first `=`, `+` is a space, `%XX` escapes are
 * decoded, and a pair holding a malformed escape is dropped. The query is parsed only when a Query matcher
 * actually runs, and the last parse is kept: all Query matchers of all routes tried for one request then share
 * one parse. Matching is synchronous, so the single-entry cache cannot be seen half-written by another request.
 */

/** Decoded parameters: key → every value given for it, in order. */
export type QueryValues = ReadonlyMap<string, readonly string[]>;

const EMPTY: QueryValues = new Map();
let lastQuery = '';
let lastValues: QueryValues = EMPTY;

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 70) return code - 55;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

/** Go's url.QueryUnescape: `+` → space, `%XX` → byte; undefined for a malformed escape (Go returns an error). */
function unescape(s: string): string | undefined {
  if (!s.includes('%') && !s.includes('+')) return s;
  const bytes: number[] = [];
  const raw = Buffer.from(s, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    if (b === 0x2b) bytes.push(0x20);
    else if (b === 0x25) {
      const hi = i + 2 < raw.length ? hexValue(raw[i + 1]!) : -1;
      const lo = hi === -1 ? -1 : hexValue(raw[i + 2]!);
      if (lo === -1) return undefined;
      bytes.push(hi * 16 + lo);
      i += 2;
    } else bytes.push(b);
  }
  return Buffer.from(bytes).toString('utf8');
}

/** The decoded parameters of a raw query (without `?`); the same string gets the same (shared) map. */
export function queryValues(query: string): QueryValues {
  if (query === lastQuery) return lastValues;
  const map = new Map<string, string[]>();
  for (const pair of query.replaceAll(';', '&').split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = unescape(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : unescape(pair.slice(eq + 1));
    if (key === undefined || value === undefined) continue;
    const list = map.get(key);
    if (list) list.push(value);
    else map.set(key, [value]);
  }
  lastQuery = query;
  lastValues = map;
  return map;
}

/**
 * The test for `Query(key, value)`: some value of `key` equals `value`. `Query(key)` is `Query(key, '')`: Traefik
 * fills the missing value with "" (pkg/muxer/http/matcher.go query), so `?key` and `?key=` match and `?key=1` does not.
 */
export function queryEquals(key: string, value: string): (query: string) => boolean {
  return (query) => {
    if (query === '') return false;
    const values = queryValues(query).get(key);
    return values !== undefined && values.includes(value);
  };
}

/** The test for `QueryRegexp(key, re)`: some value of `key` matches `re`. */
export function queryMatches(key: string, re: RegExp): (query: string) => boolean {
  return (query) => {
    if (query === '') return false;
    const values = queryValues(query).get(key);
    if (values === undefined) return false;
    for (let i = 0; i < values.length; i++) if (re.test(values[i]!)) return true;
    return false;
  };
}
