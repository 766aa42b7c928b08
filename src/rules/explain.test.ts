import { describe, expect, it } from 'vitest';
import { compileRule } from './compile.js';
import { describeHttpInput, describeSniInput, explainRule, failedParts, matchedParts, ruleText } from './explain.js';
import { HTTP_MATCHERS, type HttpMatchInput } from './http-matchers.js';
import { parseRule } from './parse.js';
import { SNI_MATCHERS, type SniMatchInput } from './sni-matchers.js';

const request: HttpMatchInput = {
  host: 'app.example',
  path: '/api/users',
  query: 'page=2&q=x',
  method: 'GET',
  headers: { 'x-env': 'prod', accept: 'text/html' },
  clientIp: '10.1.2.3',
};

const explainHttp = (rule: string) => explainRule(parseRule(rule), HTTP_MATCHERS, request, describeHttpInput);

describe('explainRule over HTTP matchers: one row per matcher kind and operator', () => {
  it.each<[string, string, boolean, string[]]>([
    ['Host matches', 'Host(`app.example`)', true, ['Host(`app.example`): host "app.example"']],
    ['Host misses', 'Host(`other.example`)', false, ['Host(`other.example`): host "app.example"']],
    ['HostRegexp', 'HostRegexp(`^app\\.`)', true, ['HostRegexp(`^app\\.`): host "app.example"']],
    ['Path misses', 'Path(`/api`)', false, ['Path(`/api`): path "/api/users"']],
    ['PathPrefix', 'PathPrefix(`/api`)', true, ['PathPrefix(`/api`): path "/api/users"']],
    ['PathRegexp misses', 'PathRegexp(`^/v[0-9]+/`)', false, ['PathRegexp(`^/v[0-9]+/`): path "/api/users"']],
    ['Method misses', 'Method(`POST`)', false, ['Method(`POST`): method GET']],
    ['Header', 'Header(`X-Env`, `prod`)', true, ['Header(`X-Env`, `prod`): X-Env "prod"']],
    ['Header absent', 'Header(`X-Team`, `a`)', false, ['Header(`X-Team`, `a`): no X-Team header']],
    ['HeaderRegexp', 'HeaderRegexp(`Accept`, `html`)', true, ['HeaderRegexp(`Accept`, `html`): Accept "text/html"']],
    ['Query misses', 'Query(`page`, `3`)', false, ['Query(`page`, `3`): query "page=2&q=x"']],
    ['QueryRegexp', 'QueryRegexp(`q`, `^x$`)', true, ['QueryRegexp(`q`, `^x$`): query "page=2&q=x"']],
    ['ClientIP misses', 'ClientIP(`192.168.0.0/16`)', false, ['ClientIP(`192.168.0.0/16`): client IP 10.1.2.3']],
    ['ClientIP matches', 'ClientIP(`10.0.0.0/8`)', true, ['ClientIP(`10.0.0.0/8`): client IP 10.1.2.3']],
    // The failing side of an && is named, not the side that held.
    ['&& names the failing part', 'Host(`app.example`) && Path(`/api`)', false, ['Path(`/api`): path "/api/users"']],
    ['&& lists every part that held', 'Host(`app.example`) && PathPrefix(`/api`)', true, ['Host(`app.example`): host "app.example"', 'PathPrefix(`/api`): path "/api/users"']],
    ['&& with two failures lists both', 'Host(`b.example`) && Method(`PUT`) && PathPrefix(`/`)', false, ['Host(`b.example`): host "app.example"', 'Method(`PUT`): method GET']],
    ['|| names the alternative that held', 'Path(`/x`) || PathPrefix(`/api`)', true, ['PathPrefix(`/api`): path "/api/users"']],
    ['|| that fails names every alternative', 'Path(`/x`) || Host(`b.example`)', false, ['Path(`/x`): path "/api/users"', 'Host(`b.example`): host "app.example"']],
    ['! that holds', '!Method(`POST`)', true, ['!Method(`POST`): the negated part did not match (Method(`POST`): method GET)']],
    ['! that fails', '!PathPrefix(`/api`)', false, ['!PathPrefix(`/api`): the negated part matched (PathPrefix(`/api`): path "/api/users")']],
    [
      'parentheses: the group that failed is named by its parts',
      'Host(`app.example`) && (Path(`/a`) || Path(`/b`))',
      false,
      ['Path(`/a`): path "/api/users"', 'Path(`/b`): path "/api/users"'],
    ],
    [
      'parentheses under !',
      '!(Host(`app.example`) && Method(`GET`))',
      false,
      ['!(Host(`app.example`) && Method(`GET`)): the negated part matched (Host(`app.example`): host "app.example"; Method(`GET`): method GET)'],
    ],
  ])('%s', (_description, rule, matched, parts) => {
    const trace = explainHttp(rule);
    // The explanation agrees with the router's own compiled predicate, whatever it says about the parts.
    expect(trace.matched).toBe(compileRule(rule, HTTP_MATCHERS)(request));
    expect(trace.matched).toBe(matched);
    expect(matched ? matchedParts(trace) : failedParts(trace)).toEqual(parts);
    expect(matched ? failedParts(trace) : matchedParts(trace)).toEqual([]);
  });

  it('keeps each part of a flattened chain with its own result and column', () => {
    const trace = explainHttp('Host(`app.example`) && Path(`/api`) && Method(`GET`)');
    expect(trace.type).toBe('and');
    if (trace.type !== 'and') return;
    expect(trace.parts.map((p) => [p.text, p.matched])).toEqual([
      ['Host(`app.example`)', true],
      ['Path(`/api`)', false],
      ['Method(`GET`)', true],
    ]);
    expect(trace.parts[1]).toMatchObject({ type: 'call', column: 24 });
  });

  it('throws what compiling throws, for a rule the router would have disabled', () => {
    expect(() => explainHttp('Hots(`a`)')).toThrow(/did you mean "Host"/);
  });
});

describe('explainRule over SNI matchers', () => {
  const hello: SniMatchInput = { sni: 'vm.lab.example', alpn: ['acme-tls/1'], clientIp: '127.0.0.1' };
  it.each<[string, string, boolean, string[]]>([
    ['HostSNI wildcard', 'HostSNI(`*.lab.example`)', true, ['HostSNI(`*.lab.example`): SNI "vm.lab.example"']],
    ['HostSNIRegexp misses', 'HostSNIRegexp(`^db\\.`)', false, ['HostSNIRegexp(`^db\\.`): SNI "vm.lab.example"']],
    ['ALPN', 'ALPN(`acme-tls/1`)', true, ['ALPN(`acme-tls/1`): ALPN offered: acme-tls/1']],
    ['&& !ALPN fails on the validator', 'HostSNI(`vm.lab.example`) && !ALPN(`acme-tls/1`)', false, ['!ALPN(`acme-tls/1`): the negated part matched (ALPN(`acme-tls/1`): ALPN offered: acme-tls/1)']],
    ['ClientIP', 'ClientIP(`127.0.0.0/8`)', true, ['ClientIP(`127.0.0.0/8`): client IP 127.0.0.1']],
  ])('%s', (_description, rule, matched, parts) => {
    const trace = explainRule(parseRule(rule), SNI_MATCHERS, hello, describeSniInput);
    expect(trace.matched).toBe(matched);
    expect(matched ? matchedParts(trace) : failedParts(trace)).toEqual(parts);
  });

  it('says when the client sent no SNI or no ALPN', () => {
    const none: SniMatchInput = { sni: '', alpn: [], clientIp: '127.0.0.1' };
    const trace = explainRule(parseRule('HostSNI(`a.example`) || ALPN(`h2`)'), SNI_MATCHERS, none, describeSniInput);
    expect(failedParts(trace)).toEqual(['HostSNI(`a.example`): no SNI', 'ALPN(`h2`): no ALPN offered']);
  });
});

describe('ruleText', () => {
  it.each([
    ['Host(`a`) && (Path(`/x`) || Path(`/y`))'],
    ['Host(`a`) || Path(`/x`) && Method(`GET`)'],
    ['!(Host(`a`) || Host(`b`))'],
    ['Header(`X-A`, "has`backtick")'],
  ])('writes %s back as a rule with the same tree', (rule) => {
    expect(stripColumns(parseRule(ruleText(parseRule(rule))))).toEqual(stripColumns(parseRule(rule)));
  });
});

function stripColumns(node: unknown): unknown {
  return JSON.parse(JSON.stringify(node, (key, value: unknown) => (key === 'column' ? undefined : value)));
}
