import { describe, expect, it } from 'vitest';
import { convertHttpRule, convertTcpRule, templateToRegExp } from './traefik-rules.js';

describe('convertHttpRule', () => {
  it.each([
    ['a v3 rule carries over as written', 'Host(`a.example`) && PathPrefix(`/api`)', 'Host(`a.example`) && PathPrefix(`/api`)'],
    ['v3 spacing and quoting are kept when nothing changes', 'Host("a.example")&&!Path(`/x`)', 'Host("a.example")&&!Path(`/x`)'],
    ['v2 Host with several names → one Host each, joined by ||', 'Host(`a.example`, `b.example`)', 'Host(`a.example`) || Host(`b.example`)'],
    ['the || of several names is parenthesised inside &&', 'Host(`a.x`,`b.x`) && Path(`/p`)', '(Host(`a.x`) || Host(`b.x`)) && Path(`/p`)'],
    ['v2 Method with several methods', 'Method(`GET`, `HEAD`)', 'Method(`GET`) || Method(`HEAD`)'],
    ['v2 PathPrefix with several prefixes', 'PathPrefix(`/a`, `/b`)', 'PathPrefix(`/a`) || PathPrefix(`/b`)'],
    ['v2 ClientIP with several ranges', 'ClientIP(`10.0.0.0/8`, `::1`)', 'ClientIP(`10.0.0.0/8`) || ClientIP(`::1`)'],
    ['v2 Headers → Header', 'Headers(`X-Env`, `staging`)', 'Header(`X-Env`, `staging`)'],
    ['v2 HeadersRegexp → HeaderRegexp', 'HeadersRegexp(`X-Env`, `^st`)', 'HeaderRegexp(`X-Env`, `^st`)'],
    ['v2 HostHeader → Host', 'HostHeader(`a.example`)', 'Host(`a.example`)'],
    ['v2 Query key=value → Query(key, value)', 'Query(`debug=on`)', 'Query(`debug`, `on`)'],
    ['v2 Query pairs must all match', 'Query(`a=1`, `b=2`)', 'Query(`a`, `1`) && Query(`b`, `2`)'],
    ['v2 Query with a key only', 'Query(`a=1`, `flag`)', 'Query(`a`, `1`) && Query(`flag`)'],
    ['v2 HostRegexp placeholder with a regexp', 'HostRegexp(`{sub:[a-z]+}.example.com`)', 'HostRegexp(`^[a-z]+\\.example\\.com$`)'],
    ['v2 HostRegexp placeholder without a regexp is one label', 'HostRegexp(`{sub}.example.com`)', 'HostRegexp(`^[^.]+\\.example\\.com$`)'],
    ['v2 HostRegexp nested braces in the regexp', 'HostRegexp(`{n:[a-z]{2,3}}.x`)', 'HostRegexp(`^[a-z]{2,3}\\.x$`)'],
    ['v2 HostRegexp alternation is grouped', 'HostRegexp(`{env:dev|test}.x`)', 'HostRegexp(`^(?:dev|test)\\.x$`)'],
    ['v2 HostRegexp with several templates', 'HostRegexp(`a.x`, `{s}.b.x`)', 'HostRegexp(`^a\\.x$`) || HostRegexp(`^[^.]+\\.b\\.x$`)'],
    ['v2 Path placeholder → anchored PathRegexp', 'Path(`/users/{id:[0-9]+}`)', 'PathRegexp(`^/users/[0-9]+$`)'],
    ['v2 PathPrefix placeholder → PathRegexp anchored at the start', 'PathPrefix(`/api/{v}`)', 'PathRegexp(`^/api/[^/]+`)'],
    ['v3 HostRegexp with a quantifier is not a template', 'HostRegexp(`^[a-z]{3}\\.x$`)', 'HostRegexp(`^[a-z]{3}\\.x$`)'],
    ['ruleSyntax v2 makes a literal HostRegexp a template', 'HostRegexp(`a.example`)', 'HostRegexp(`^a\\.example$`)', 'v2'],
    ['negation of a rewritten call', '!Host(`a.x`, `b.x`)', '!(Host(`a.x`) || Host(`b.x`))'],
  ])('%s', (_d, rule, want, syntax?: string) => {
    expect(convertHttpRule(rule, syntax)).toEqual({ rule: want });
  });

  it.each([
    ['a rule that does not parse', 'Host(`a`', /does not parse/],
    ['an unknown matcher', 'Hots(`a.example`)', /not valid in gatehouse/],
    ['a bad regexp after conversion names what it became', 'Path(`/{id:[0-9}`)', /converted to PathRegexp|cannot be converted/],
  ])('%s is refused with the reason', (_d, rule, reason) => {
    const result = convertHttpRule(rule);
    expect(result).toHaveProperty('error');
    expect((result as { error: string }).error).toMatch(reason);
  });
});

describe('convertTcpRule', () => {
  it.each([
    ['HostSNI carries over', 'HostSNI(`vm.example`)', 'HostSNI(`vm.example`)'],
    ['v2 HostSNI with several names', 'HostSNI(`a.x`, `b.x`)', 'HostSNI(`a.x`) || HostSNI(`b.x`)'],
    ['HostSNIRegexp carries over', 'HostSNIRegexp(`^.+\\.stage\\.example\\.com$`)', 'HostSNIRegexp(`^.+\\.stage\\.example\\.com$`)'],
    ['catch-all', 'HostSNI(`*`)', 'HostSNI(`*`)'],
  ])('%s', (_d, rule, want) => {
    expect(convertTcpRule(rule)).toEqual({ rule: want });
  });

  it('an HTTP matcher is refused in a TCP rule', () => {
    expect(convertTcpRule('Host(`a.example`)')).toHaveProperty('error');
  });
});

describe('templateToRegExp', () => {
  it('escapes literal text and keeps a brace that starts no placeholder', () => {
    expect(templateToRegExp('a.b{3}', '[^.]+')).toBe('a\\.b\\{3\\}');
  });
  it('refuses unbalanced braces', () => {
    expect(() => templateToRegExp('{a:[0-9]', '[^/]+')).toThrow(/unbalanced/);
  });
});
