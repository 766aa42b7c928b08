/**
 * The HTTP matcher table: what each matcher name means for a request. Every row validates its arguments
 * at compile time and returns a closure that only reads the HttpMatchInput; the common matchers (Host,
 * Path, PathPrefix, Method, Header) allocate nothing per request.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { compileRule, matcherError, type MatcherSite, type MatcherSpec, type MatcherTable } from './compile.js';
import { CLIENT_IP_SPEC } from './client-ip-match.js';
import { headerEquals, headerMatches, isHeaderName } from './header-match.js';
import { compileHostPatterns, hostMatcher, isAscii, nonAsciiError } from './host-match.js';
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
  /** As received: compared case-sensitively (RFC 9110 §9.1), so `get` is not `GET`. */
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

function headerName(arg: string, site: MatcherSite): string {
  if (!isHeaderName(arg)) {
    throw matcherError(`${site.name} expects a header name, got "${arg}" (column ${site.column})`, site);
  }
  return arg.toLowerCase();
}

const CATCH_ALL = '*';

const host: Spec = {
  minArgs: 1,
  maxArgs: Infinity,
  build(args, site) {
    // Traefik >= 3.7 reads a bare `*` as "every request", even one without a host, like HostSNI(`*`)
    // (pkg/muxer/http/matcher.go host; docs: "a bare wildcard matches every request").
    if (args.includes(CATCH_ALL)) return () => true;
    const test = hostMatcher(compileHostPatterns(args, site, { ipv6Brackets: true }));
    return (input) => test(input.host);
  },
};

/** The host as Traefik's regexps see it: lower-cased (as `host` already is), an IPv6 literal without brackets. */
function bareHost(host: string): string {
  return host.charCodeAt(0) === 91 && host.charCodeAt(host.length - 1) === 93 ? host.slice(1, -1) : host;
}

const hostRegexp: Spec = {
  minArgs: 1,
  maxArgs: 1,
  build([source], site) {
    if (!isAscii(source!)) throw nonAsciiError(source!, site);
    // As written, case-sensitive: Traefik matches the regexp against the request host it has lower-cased
    // (requestdecorator's types.CanonicalDomain), so `^[A-Z]+\.com$` matches no request; `(?i)` is the way out.
    const re = compileUserRegExp(source!, site);
    return (input) => re.test(bareHost(input.host));
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
    // Traefik upper-cases the rule's method and compares the request's as sent (pkg/muxer/http/matcher.go method):
    // methods are case-sensitive (RFC 9110 §9.1), so a `get` request matches neither Method(`GET`) nor Method(`get`).
    return ({ method: m }) => methods.has(m);
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
  build([key, value]) {
    const test = queryEquals(key!, value ?? '');
    return (input) => test(input.query);
  },
};

/** With one argument it is Query(key), as in Traefik (pkg/muxer/http/matcher.go queryRegexp). */
const queryRegexp: Spec = {
  minArgs: 1,
  maxArgs: 2,
  build([key, source], site) {
    const test = source === undefined ? queryEquals(key!, '') : queryMatches(key!, compileUserRegExp(source, site));
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
