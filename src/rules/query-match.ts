/**
 * Query parameters, decoded as URLSearchParams decodes them (`+` is a space, percent escapes are UTF-8).
 * The query is parsed only when a Query matcher actually runs, and the last parse is kept: all Query
 * matchers of all routes tried for one request then share one parse. Matching is synchronous, so the
 * single-entry cache cannot be seen half-written by another request.
 */

/** Decoded parameters: key → every value given for it, in order. */
export type QueryValues = ReadonlyMap<string, readonly string[]>;

const EMPTY: QueryValues = new Map();
let lastQuery = '';
let lastValues: QueryValues = EMPTY;

/** The decoded parameters of a raw query (without `?`); the same string gets the same (shared) map. */
export function queryValues(query: string): QueryValues {
  if (query === lastQuery) return lastValues;
  const map = new Map<string, string[]>();
  for (const [key, value] of new URLSearchParams(query)) {
    const list = map.get(key);
    if (list) list.push(value);
    else map.set(key, [value]);
  }
  lastQuery = query;
  lastValues = map;
  return map;
}

/** The test for `Query(key)` (present, even empty) and `Query(key, value)` (some value equals). */
export function queryEquals(key: string, value: string | undefined): (query: string) => boolean {
  return (query) => {
    if (query === '') return false;
    const values = queryValues(query).get(key);
    if (values === undefined) return false;
    return value === undefined || values.includes(value);
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
