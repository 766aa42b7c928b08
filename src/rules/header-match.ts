/**
 * Header values as Node hands them over: a string for one header, a comma-joined string when a client sent
 * the same header twice (Node joins most repeats with ", "), or a string[] (set-cookie). Traefik matches
 * against each value Go kept separate; we cannot tell a joined repeat from a value that holds commas, so a
 * rule value matches the whole header value or any one comma-separated element of it (RFC 9110 §5.3).
 */
import type { IncomingHttpHeaders } from 'node:http';

const COMMA = 44;
const SPACE = 32;
const TAB = 9;

function isOws(code: number): boolean {
  return code === SPACE || code === TAB;
}

/** Whether `list` equals `value` or has it as one comma-separated element; scans in place, allocating nothing. */
export function listContains(list: string, value: string): boolean {
  if (list === value) return true;
  let from = 0;
  while (from <= list.length) {
    const at = list.indexOf(value, from);
    if (at === -1) return false;
    let before = at - 1;
    while (before >= 0 && isOws(list.charCodeAt(before))) before--;
    let after = at + value.length;
    while (after < list.length && isOws(list.charCodeAt(after))) after++;
    if ((before < 0 || list.charCodeAt(before) === COMMA) && (after === list.length || list.charCodeAt(after) === COMMA)) {
      return true;
    }
    from = at + 1;
  }
  return false;
}

/** The test for `Header(name, value)`: any value of the (lower-cased) header, as above. */
export function headerEquals(name: string, value: string): (headers: IncomingHttpHeaders) => boolean {
  return (headers) => {
    const got = headers[name];
    if (got === undefined) return false;
    if (typeof got === 'string') return listContains(got, value);
    for (let i = 0; i < got.length; i++) if (listContains(got[i]!, value)) return true;
    return false;
  };
}

function regexpMatchesValue(re: RegExp, anchored: boolean, value: string): boolean {
  if (re.test(value)) return true;
  // Splitting allocates, so only anchored patterns (which a joined value can defeat) pay for it.
  if (!anchored || !value.includes(',')) return false;
  for (const part of value.split(',')) if (re.test(part.trim())) return true;
  return false;
}

/** The test for `HeaderRegexp(name, re)`: `re` matches any value or element of the header. */
export function headerMatches(name: string, re: RegExp, anchored: boolean): (headers: IncomingHttpHeaders) => boolean {
  return (headers) => {
    const got = headers[name];
    if (got === undefined) return false;
    if (typeof got === 'string') return regexpMatchesValue(re, anchored, got);
    for (let i = 0; i < got.length; i++) if (regexpMatchesValue(re, anchored, got[i]!)) return true;
    return false;
  };
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Whether `name` is a valid header field name (an RFC 9110 §5.1 token). */
export function isHeaderName(name: string): boolean {
  return TOKEN.test(name);
}
