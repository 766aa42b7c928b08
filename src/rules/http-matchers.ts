/**
 * The HTTP matcher table: what each matcher name means for a request. Every row validates its arguments
 * at compile time and returns a closure that only reads the HttpMatchInput; the common matchers (Host,
 * Path, PathPrefix, Method, Header) allocate nothing per request.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { compileRule, matcherError, type MatcherSite, type MatcherSpec, type MatcherTable } from './compile.js';
import { CLIENT_IP_SPEC } from './client-ip-match.js';
import { headerEquals, headerMatches, isHeaderName } from './header-match.js';
import { compileHostPatterns, hostMatcher } from './host-match.js';
import { queryEquals, queryMatches } from './query-match.js';
import { compileUserRegExp, isAnchored } from './user-regexp.js';

/** What an HTTP matcher reads. The caller fills it once per request. */
export interface HttpMatchInput {
  /** Host header (or :authority), lower-cased, port removed, IPv6 brackets kept; '' if none. */
  host: string;
  /** Path part of the request target, without query, not decoded. */
  path: string;
  /** Raw query without '?', '' if none. */
  query: string;
  /** As received (upper-case in practice). */
  method: string;
  /** Lower-cased names, Node's shape. */
  headers: IncomingHttpHeaders;
  /** Socket peer address as Node gives it (may be '::ffff:127.0.0.1'). */
  clientIp: string;
}

/** A compiled HTTP rule: true when the request matches. Never throws. */
export type HttpMatcher = (input: HttpMatchInput) => boolean;

type Spec = MatcherSpec<HttpMatchInput>;

function paths(args: readonly string[], site: MatcherSite): string[] {
  for (const arg of args) {
    if (!arg.startsWith('/')) {
      throw matcherError(`${site.name} argument "${arg}" must start with "/" (column ${site.column})`, site);
    }
  }
  return [...args];
}

function isUpperCase(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 97 && c <= 122) return false;
  }
  return true;
}

function headerName(arg: string, site: MatcherSite): string {
  if (!isHeaderName(arg)) {
    throw matcherError(`${site.name} expects a header name, got "${arg}" (column ${site.column})`, site);
  }
  return arg.toLowerCase();
}

function queryKey(arg: string, site: MatcherSite): string {
  if (arg === '') throw matcherError(`${site.name} expects a parameter name, got "" (column ${site.column})`, site);
  return arg;
}

const host: Spec = {
  minArgs: 1,
  maxArgs: Infinity,
  build(args, site) {
    const test = hostMatcher(compileHostPatterns(args, site));
    return (input) => test(input.host);
  },
};

const hostRegexp: Spec = {
  minArgs: 1,
  maxArgs: 1,
  build([source], site) {
    const re = compileUserRegExp(source!, site, { ignoreCase: true });
    return (input) => re.test(input.host);
  },
};

const path: Spec = {
  minArgs: 1,
  maxArgs: Infinity,
  build(args, site) {
    const exact = new Set(paths(args, site));
    return (input) => exact.has(input.path);
  },
};

const pathPrefix: Spec = {
  minArgs: 1,
  maxArgs: Infinity,
  build(args, site) {
    const prefixes = paths(args, site);
    return (input) => {
      for (let i = 0; i < prefixes.length; i++) if (input.path.startsWith(prefixes[i]!)) return true;
      return false;
    };
  },
};

const pathRegexp: Spec = {
  minArgs: 1,
  maxArgs: 1,
  build([source], site) {
    const re = compileUserRegExp(source!, site);
    return (input) => re.test(input.path);
  },
};

const method: Spec = {
  minArgs: 1,
  maxArgs: Infinity,
  build(args, site) {
    const methods = new Set<string>();
    for (const arg of args) {
      if (!isHeaderName(arg)) {
        throw matcherError(`${site.name} expects an HTTP method, got "${arg}" (column ${site.column})`, site);
      }
      methods.add(arg.toUpperCase());
    }
    // Clients send upper case; only an odd lower-case method pays for toUpperCase.
    return ({ method: m }) => methods.has(m) || (!isUpperCase(m) && methods.has(m.toUpperCase()));
  },
};

const header: Spec = {
  minArgs: 2,
  maxArgs: 2,
  build([name, value], site) {
    const test = headerEquals(headerName(name!, site), value!);
    return (input) => test(input.headers);
  },
};

const headerRegexp: Spec = {
  minArgs: 2,
  maxArgs: 2,
  build([name, source], site) {
    const re = compileUserRegExp(source!, site);
    const test = headerMatches(headerName(name!, site), re, isAnchored(re));
    return (input) => test(input.headers);
  },
};

const query: Spec = {
  minArgs: 1,
  maxArgs: 2,
  build([key, value], site) {
    const test = queryEquals(queryKey(key!, site), value);
    return (input) => test(input.query);
  },
};

const queryRegexp: Spec = {
  minArgs: 2,
  maxArgs: 2,
  build([key, source], site) {
    const test = queryMatches(queryKey(key!, site), compileUserRegExp(source!, site));
    return (input) => test(input.query);
  },
};

/**
 * Traefik v3's HTTP matchers. Host, Path, PathPrefix, Method and ClientIP also take several arguments,
 * meaning any of them (Traefik v2 allowed that, and imported configs still use it).
 */
export const HTTP_MATCHERS: MatcherTable<HttpMatchInput> = {
  Host: host,
  HostRegexp: hostRegexp,
  Path: path,
  PathPrefix: pathPrefix,
  PathRegexp: pathRegexp,
  Method: method,
  Header: header,
  HeaderRegexp: headerRegexp,
  Query: query,
  QueryRegexp: queryRegexp,
  ClientIP: CLIENT_IP_SPEC,
};

/**
 * Compiles rule text into an HTTP matcher; throws GatehouseError RULE_SYNTAX (with column) or RULE_MATCHER
 * (unknown matcher with a "did you mean" suggestion, wrong number of arguments, invalid regexp, bad CIDR).
 */
export function compileHttpRule(text: string): HttpMatcher {
  return compileRule(text, HTTP_MATCHERS);
}
