/**
 * Host names in rules: exact names (case-insensitive) and one-label wildcards (`*.lab.example`). Arguments
 * are normalised once here so the request-time test is a Set lookup or a suffix comparison on the
 * already lower-cased, port-less host the caller gives us.
 */
import { isIPv6 } from 'node:net';
import type { GatehouseError } from '../errors.js';
import { matcherError, type MatcherSite } from './compile.js';

const DOT = 46;

/** A compiled host list: exact names and wildcard suffixes (each suffix keeps its leading dot). */
export interface HostPatterns {
  exact: ReadonlySet<string>;
  suffixes: readonly string[];
}

/** How the caller hands over the name it matches: an HTTP host keeps IPv6 brackets, a ClientHello's SNI has none. */
export interface HostPatternOptions {
  readonly ipv6Brackets: boolean;
}

/** Whether every character is ASCII; Traefik refuses other host values (pkg/muxer/muxer.go IsASCII). */
export function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** The RULE_MATCHER error for a non-ASCII host value, pointing at punycode (RFC 3492) as Traefik's docs do. */
export function nonAsciiError(arg: string, site: MatcherSite): GatehouseError {
  return matcherError(
    `${site.name} does not take non-ASCII characters, got "${arg}" (column ${site.column}); write the name in punycode (xn--…), as clients send it`,
    site,
  );
}

/** Lower-cases and checks each host argument; throws RULE_MATCHER for ports, misplaced `*`, non-ASCII or empties. */
export function compileHostPatterns(args: readonly string[], site: MatcherSite, options: HostPatternOptions): HostPatterns {
  const exact = new Set<string>();
  const suffixes: string[] = [];
  for (const arg of args) {
    if (!isAscii(arg)) throw nonAsciiError(arg, site);
    let host = arg.trim().toLowerCase();
    // A fully qualified name ("a.example.") is the same host; requests may carry either form.
    if (host.endsWith('.') && host.length > 1) host = host.slice(0, -1);
    if (host === '') throw matcherError(`${site.name} expects a host name, got "" (column ${site.column})`, site);
    if (isIPv6(host)) host = options.ipv6Brackets ? `[${host}]` : host; // compare in the form the caller gives
    else if (host.includes(':') && !(host.startsWith('[') && host.endsWith(']'))) {
      throw matcherError(`${site.name} takes a host without a port, got "${arg}" (column ${site.column})`, site);
    }
    if (host.startsWith('*.') && !host.slice(2).includes('*') && host.length > 2) {
      suffixes.push(host.slice(1));
    } else if (host.includes('*')) {
      throw matcherError(
        `${site.name} allows "*" only as a whole first label, like "*.example.com", got "${arg}" (column ${site.column})`,
        site,
      );
    } else {
      exact.add(host);
    }
  }
  return { exact, suffixes };
}

/** Whether `host` ends with `suffix` (".lab.example") right after exactly one non-empty label. */
function matchesWildcard(host: string, end: number, suffix: string): boolean {
  const labelEnd = end - suffix.length;
  return labelEnd > 0 && host.endsWith(suffix, end) && host.lastIndexOf('.', labelEnd - 1) === -1;
}

/** The request-time host test: exact names, then wildcards; a trailing dot on the request is ignored. */
export function hostMatcher(patterns: HostPatterns): (host: string) => boolean {
  const { exact, suffixes } = patterns;
  return (host) => {
    if (exact.has(host)) return true;
    const last = host.length - 1;
    const trailingDot = last > 0 && host.charCodeAt(last) === DOT;
    // Only fully qualified request hosts pay for the slice; ordinary hosts allocate nothing.
    if (trailingDot && exact.size > 0 && exact.has(host.slice(0, last))) return true;
    const end = trailingDot ? last : host.length;
    for (let i = 0; i < suffixes.length; i++) if (matchesWildcard(host, end, suffixes[i]!)) return true;
    return false;
  };
}
