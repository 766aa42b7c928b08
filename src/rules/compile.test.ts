import { describe, expect, it } from 'vitest';
import { GatehouseError } from '../errors.js';
import { compileRule, matcherError, type MatcherTable } from './compile.js';
import { compileHttpRule } from './http-matchers.js';
import { suggestClosest } from '../suggest.js';

function errorOf(fn: () => unknown): GatehouseError {
  try {
    fn();
  } catch (err) {
    if (err instanceof GatehouseError) return err;
    throw err;
  }
  throw new Error('expected a GatehouseError, nothing was thrown');
}

// A second table over the same parser, shaped like the SNI matchers a TCP router will use.
interface Hello {
  sni: string;
  alpn: readonly string[];
}
const SNI_TABLE: MatcherTable<Hello> = {
  HostSNI: { minArgs: 1, maxArgs: 1, build: ([name]) => (hello) => hello.sni === name },
  ALPN: {
    minArgs: 1,
    maxArgs: 1,
    build: ([proto], site) => {
      if (proto!.trim() === '') throw matcherError(`${site.name} expects a protocol (column ${site.column})`, site);
      return (hello) => hello.alpn.includes(proto!);
    },
  },
};

describe('compileRule over another table', () => {
  it.each<[string, string, Hello, boolean]>([
    ['call matches', 'HostSNI(`a`)', { sni: 'a', alpn: [] }, true],
    ['call misses', 'HostSNI(`a`)', { sni: 'b', alpn: [] }, false],
    ['and of both', 'HostSNI(`a`) && ALPN(`h2`)', { sni: 'a', alpn: ['h2'] }, true],
    ['and, one fails', 'HostSNI(`a`) && ALPN(`h2`)', { sni: 'a', alpn: ['http/1.1'] }, false],
    ['or, second holds', 'HostSNI(`x`) || ALPN(`h2`)', { sni: 'a', alpn: ['h2'] }, true],
    ['not', '!ALPN(`acme-tls/1`)', { sni: 'a', alpn: ['acme-tls/1'] }, false],
  ])('%s', (_description, rule, hello, expected) => {
    expect(compileRule(rule, SNI_TABLE)(hello)).toBe(expected);
  });

  it('reports a builder error at the matcher column', () => {
    const err = errorOf(() => compileRule('HostSNI(`a`) && ALPN(` `)', SNI_TABLE));
    expect(err.code).toBe('RULE_MATCHER');
    expect(err.message).toBe('ALPN expects a protocol (column 17)');
    expect(err.location.column).toBe(17);
  });

  // Traefik's CheckRule (pkg/rules/parser.go) refuses an empty argument to any matcher before its builder runs.
  it.each<[description: string, rule: string, message: string, column: number]>([
    ['only argument', 'ALPN(``)', 'ALPN argument 1 is empty (column 1); Traefik refuses empty arguments', 1],
    ['later in the rule', 'HostSNI(`a`) && ALPN(``)', 'ALPN argument 1 is empty (column 17); Traefik refuses empty arguments', 17],
    ['under a negation', '!HostSNI(``)', 'HostSNI argument 1 is empty (column 2); Traefik refuses empty arguments', 2],
  ])('refuses an empty argument: %s', (_d, rule, message, column) => {
    const err = errorOf(() => compileRule(rule, SNI_TABLE));
    expect(err.code).toBe('RULE_MATCHER');
    expect(err.message).toBe(message);
    expect(err.location.column).toBe(column);
  });

  it('knows only its own table: an HTTP matcher is unknown here', () => {
    expect(errorOf(() => compileRule('Host(`a`)', SNI_TABLE)).message).toBe(
      'unknown matcher "Host" at column 1; known matchers: HostSNI, ALPN',
    );
  });
});

describe('compileHttpRule: matcher errors', () => {
  it.each<[string, string, string, number]>([
    ['unknown matcher with a suggestion', 'Hots(`a`)', 'unknown matcher "Hots" at column 1; did you mean "Host"?', 1],
    ['Traefik v2 plural name', 'Headers(`a`, `b`)', 'unknown matcher "Headers" at column 1; did you mean "Header"?', 1],
    ['Traefik v1 name', 'PathPrefixStrip(`/a`)', 'unknown matcher "PathPrefixStrip" at column 1; did you mean "PathPrefix"?', 1],
    ['suggestion at a later column', 'Host(`a`) && Methd(`GET`)', 'unknown matcher "Methd" at column 14; did you mean "Method"?', 14],
    ['odd case suggests the canonical name', 'pathPREFIX(`/`)', 'unknown matcher "pathPREFIX" at column 1; did you mean "PathPrefix"?', 1],
    [
      'nothing close: lists the matchers',
      'HostSNI(`a`)',
      'unknown matcher "HostSNI" at column 1; known matchers: Host, HostRegexp, Path, PathPrefix, PathRegexp, Method, Header, HeaderRegexp, Query, QueryRegexp, ClientIP',
      1,
    ],
    ['too few (open range)', 'Path()', 'Path expects at least 1 argument, got 0 (column 1)', 1],
    ['exact count', 'Header(`X-A`)', 'Header expects 2 arguments, got 1 (column 1)', 1],
    ['exact count, too many', 'HostRegexp(`a`, `b`)', 'HostRegexp expects 1 argument, got 2 (column 1)', 1],
    ['range, too many', 'Query(`a`, `b`, `c`)', 'Query expects at most 2 arguments, got 3 (column 1)', 1],
    ['range, too few', 'Query()', 'Query expects at least 1 argument, got 0 (column 1)', 1],
    ['Path not starting with /', 'Path(`api`)', 'Path argument "api" must start with "/" (column 1)', 1],
    ['PathPrefix not starting with /', 'Host(`a`) && PathPrefix(`/ok`, `x`)', 'PathPrefix argument "x" must start with "/" (column 14)', 14],
    [
      'invalid regexp',
      'PathRegexp(`(`)',
      'invalid regular expression in PathRegexp at column 1: Invalid regular expression: /(/: Unterminated group',
      1,
    ],
    [
      'Traefik v2 placeholder',
      'HostRegexp(`{sub:[a-z]+}.example`)',
      'invalid regular expression in HostRegexp at column 1: "{name:pattern}" placeholders are Traefik v2 syntax; write the pattern alone, e.g. {sub:[a-z]+} becomes [a-z]+',
      1,
    ],
    ['empty host', 'Host(``)', 'Host argument 1 is empty (column 1); Traefik refuses empty arguments', 1],
    ['empty HostRegexp', 'HostRegexp(``)', 'HostRegexp argument 1 is empty (column 1); Traefik refuses empty arguments', 1],
    ['empty Path', 'Path(``)', 'Path argument 1 is empty (column 1); Traefik refuses empty arguments', 1],
    ['empty PathPrefix', 'PathPrefix(``)', 'PathPrefix argument 1 is empty (column 1); Traefik refuses empty arguments', 1],
    ['empty PathRegexp', 'PathRegexp(``)', 'PathRegexp argument 1 is empty (column 1); Traefik refuses empty arguments', 1],
    ['empty Method', 'Method(``)', 'Method argument 1 is empty (column 1); Traefik refuses empty arguments', 1],
    ['empty header value', 'Header(`X`, ``)', 'Header argument 2 is empty (column 1); Traefik refuses empty arguments', 1],
    ['empty header name', 'Header(``, `v`)', 'Header argument 1 is empty (column 1); Traefik refuses empty arguments', 1],
    ['empty HeaderRegexp value', 'HeaderRegexp(`X`, ``)', 'HeaderRegexp argument 2 is empty (column 1); Traefik refuses empty arguments', 1],
    ['empty query value', 'Query(`q`, ``)', 'Query argument 2 is empty (column 1); Traefik refuses empty arguments', 1],
    ['empty QueryRegexp', 'QueryRegexp(``)', 'QueryRegexp argument 1 is empty (column 1); Traefik refuses empty arguments', 1],
    ['empty ClientIP', 'ClientIP(``)', 'ClientIP argument 1 is empty (column 1); Traefik refuses empty arguments', 1],
    ['empty second of several', 'Host(`a`, ``)', 'Host argument 2 is empty (column 1); Traefik refuses empty arguments', 1],
    ['non-ASCII host', 'Host(`🦭.com`)', 'Host does not take non-ASCII characters, got "🦭.com" (column 1); write the name in punycode (xn--…), as clients send it', 1],
    ['non-ASCII HostRegexp', 'HostRegexp(`🦭.com`)', 'HostRegexp does not take non-ASCII characters, got "🦭.com" (column 1); write the name in punycode (xn--…), as clients send it', 1],
    ['host with a port', 'Host(`a.example:8080`)', 'Host takes a host without a port, got "a.example:8080" (column 1)', 1],
    ['wildcard not first', 'Host(`a.*.example`)', 'Host allows "*" only as a whole first label, like "*.example.com", got "a.*.example" (column 1)', 1],
    ['partial wildcard label', 'Host(`a*.example`)', 'Host allows "*" only as a whole first label, like "*.example.com", got "a*.example" (column 1)', 1],
    ['two wildcards', 'Host(`*.*.example`)', 'Host allows "*" only as a whole first label, like "*.example.com", got "*.*.example" (column 1)', 1],
    ['bad method', 'Method(`GE T`)', 'Method expects an HTTP method, got "GE T" (column 1)', 1],
    ['bad header name', 'Header(`X A`, `v`)', 'Header expects a header name, got "X A" (column 1)', 1],
    ['empty query key', 'Query(``)', 'Query argument 1 is empty (column 1); Traefik refuses empty arguments', 1],
    ['not an IP', 'ClientIP(`localhost`)', 'ClientIP expects an IP address or CIDR block, got "localhost" (column 1)', 1],
    ['IPv4 prefix too long', 'ClientIP(`10.0.0.0/33`)', 'ClientIP CIDR "10.0.0.0/33" needs a prefix length from 0 to 32 (column 1)', 1],
    ['IPv6 prefix too long', 'ClientIP(`::1/129`)', 'ClientIP CIDR "::1/129" needs a prefix length from 0 to 128 (column 1)', 1],
    ['prefix not a number', 'ClientIP(`10.0.0.0/x`)', 'ClientIP CIDR "10.0.0.0/x" needs a prefix length from 0 to 32 (column 1)', 1],
    ['empty prefix', 'ClientIP(`10.0.0.0/`)', 'ClientIP CIDR "10.0.0.0/" needs a prefix length from 0 to 32 (column 1)', 1],
  ])('%s', (_description, rule, message, column) => {
    const err = errorOf(() => compileHttpRule(rule));
    expect(err.code).toBe('RULE_MATCHER');
    expect(err.message).toBe(message);
    expect(err.location.column).toBe(column);
  });

  it('passes syntax errors through as RULE_SYNTAX', () => {
    const err = errorOf(() => compileHttpRule('Host(`a`'));
    expect(err.code).toBe('RULE_SYNTAX');
    expect(err.location.column).toBe(9);
  });

  it.each([['Host'], ['host'], ['HOST'], ['pathprefix'], ['PATHPREFIX'], ['Pathprefix'], ['clientip']])(
    'accepts the spellings Traefik accepts: %s',
    (name) => {
      const arg = /path/i.test(name) ? '/' : /client/i.test(name) ? '127.0.0.1' : 'a';
      expect(() => compileHttpRule(`${name}(\`${arg}\`)`)).not.toThrow();
    },
  );
});

describe('matcher name suggestions', () => {
  it.each<[string, string, string | undefined]>([
    ['close typo', 'Pth', 'Path'],
    ['case only', 'HOSTREGEXP', 'HostRegexp'],
    ['missing letter at the end', 'HostRegex', 'HostRegexp'],
    ['too far', 'Banana', undefined],
  ])('%s', (_description, word, expected) => {
    expect(suggestClosest(word, ['Host', 'HostRegexp', 'Path', 'PathPrefix'])).toBe(expected);
  });
});
