import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { compileHttpRule, type HttpMatchInput } from './http-matchers.js';

function request(over: Partial<HttpMatchInput> = {}): HttpMatchInput {
  return { host: 'a.example', path: '/', query: '', method: 'GET', headers: {}, clientIp: '127.0.0.1', ...over };
}

type Row = [description: string, rule: string, input: Partial<HttpMatchInput>, expected: boolean];

function check(rule: string, over: Partial<HttpMatchInput>, expected: boolean): void {
  expect(compileHttpRule(rule)(request(over))).toBe(expected);
}

describe('Host', () => {
  it.each<Row>([
    ['exact', 'Host(`a.example`)', { host: 'a.example' }, true],
    ['other host', 'Host(`a.example`)', { host: 'b.example' }, false],
    ['rule in upper case', 'Host(`A.Example`)', { host: 'a.example' }, true],
    ['not a suffix match', 'Host(`example`)', { host: 'a.example' }, false],
    ['not a prefix match', 'Host(`a.example`)', { host: 'a.example.org' }, false],
    ['no host', 'Host(`a.example`)', { host: '' }, false],
    ['fully qualified request host', 'Host(`a.example`)', { host: 'a.example.' }, true],
    ['fully qualified rule host', 'Host(`a.example.`)', { host: 'a.example' }, true],
    ['several hosts: first', 'Host(`a.example`, `b.example`)', { host: 'a.example' }, true],
    ['several hosts: second', 'Host(`a.example`, `b.example`)', { host: 'b.example' }, true],
    ['several hosts: neither', 'Host(`a.example`, `b.example`)', { host: 'c.example' }, false],
    ['IPv4 literal', 'Host(`127.0.0.1`)', { host: '127.0.0.1' }, true],
    ['IPv6 literal with brackets', 'Host(`[::1]`)', { host: '[::1]' }, true],
    ['IPv6 literal without brackets', 'Host(`::1`)', { host: '[::1]' }, true],
    ['wildcard: one label', 'Host(`*.lab.example`)', { host: 'x.lab.example' }, true],
    ['wildcard: upper-case rule', 'Host(`*.LAB.example`)', { host: 'x.lab.example' }, true],
    ['wildcard: fully qualified request', 'Host(`*.lab.example`)', { host: 'x.lab.example.' }, true],
    ['wildcard: not the apex', 'Host(`*.lab.example`)', { host: 'lab.example' }, false],
    ['wildcard: not two labels', 'Host(`*.lab.example`)', { host: 'a.b.lab.example' }, false],
    ['wildcard: not an empty label', 'Host(`*.lab.example`)', { host: '.lab.example' }, false],
    ['wildcard: suffix must be a whole label', 'Host(`*.lab.example`)', { host: 'xlab.example' }, false],
    ['wildcard: not a longer parent', 'Host(`*.lab.example`)', { host: 'x.lab.example.org' }, false],
    ['wildcard: not the trailing dot alone', 'Host(`*.lab.example`)', { host: 'lab.example.' }, false],
    ['wildcard or exact', 'Host(`lab.example`, `*.lab.example`)', { host: 'lab.example' }, true],
    ['lower-case matcher name', 'host(`a.example`)', { host: 'a.example' }, true],
    ['bare * matches any host (Traefik >= 3.7)', 'Host(`*`)', { host: 'a.example' }, true],
    ['bare * matches no host at all', 'Host(`*`)', { host: '' }, true],
    ['bare * among names', 'Host(`a.example`, `*`)', { host: 'b.example' }, true],
  ])('%s', (_d, rule, input, expected) => check(rule, input, expected));
});

describe('HostRegexp', () => {
  it.each<Row>([
    ['anchored match', 'HostRegexp(`^[a-z]+\\.example$`)', { host: 'api.example' }, true],
    ['anchored miss', 'HostRegexp(`^[a-z]+\\.example$`)', { host: 'a.b.example' }, false],
    ['unanchored finds a substring', 'HostRegexp(`example`)', { host: 'a.example.org' }, true],
    ['as written: upper case misses the lower-cased host', 'HostRegexp(`^API\\.example$`)', { host: 'api.example' }, false],
    ['Go inline (?i) accepted', 'HostRegexp(`(?i)^api\\.example$`)', { host: 'api.example' }, true],
    ['Go inline (?i) with an upper-case pattern', 'HostRegexp(`(?i)^API\\.example$`)', { host: 'api.example' }, true],
    ['IPv6 host seen without brackets, as Traefik sees it', 'HostRegexp(`^10::10$`)', { host: '[10::10]' }, true],
  ])('%s', (_d, rule, input, expected) => check(rule, input, expected));
});

describe('Path, PathPrefix, PathRegexp', () => {
  it.each<Row>([
    ['Path exact', 'Path(`/api`)', { path: '/api' }, true],
    ['Path not a prefix', 'Path(`/api`)', { path: '/api/v1' }, false],
    ['Path trailing slash differs', 'Path(`/api`)', { path: '/api/' }, false],
    ['Path case-sensitive', 'Path(`/api`)', { path: '/API' }, false],
    ['Path not decoded', 'Path(`/a b`)', { path: '/a%20b' }, false],
    ['Path encoded form', 'Path(`/a%20b`)', { path: '/a%20b' }, true],
    ['Path several', 'Path(`/a`, `/b`)', { path: '/b' }, true],
    ['PathPrefix itself', 'PathPrefix(`/api`)', { path: '/api' }, true],
    ['PathPrefix below', 'PathPrefix(`/api/`)', { path: '/api/v1' }, true],
    ['PathPrefix is a string prefix, as in Traefik', 'PathPrefix(`/api`)', { path: '/apiv2' }, true],
    ['PathPrefix miss', 'PathPrefix(`/api`)', { path: '/ap' }, false],
    ['PathPrefix root matches all', 'PathPrefix(`/`)', { path: '/anything' }, true],
    ['PathPrefix several', 'PathPrefix(`/a/`, `/b/`)', { path: '/b/c' }, true],
    ['PathRegexp anchored', 'PathRegexp(`^/users/[0-9]+$`)', { path: '/users/42' }, true],
    ['PathRegexp anchored miss', 'PathRegexp(`^/users/[0-9]+$`)', { path: '/users/42/x' }, false],
    ['PathRegexp unanchored', 'PathRegexp(`\\.json`)', { path: '/a/b.json' }, true],
    ['PathRegexp case-sensitive', 'PathRegexp(`^/API`)', { path: '/api' }, false],
    ['PathRegexp (?i)', 'PathRegexp(`(?i)^/API`)', { path: '/api' }, true],
  ])('%s', (_d, rule, input, expected) => check(rule, input, expected));
});

describe('Method', () => {
  it.each<Row>([
    ['same', 'Method(`GET`)', { method: 'GET' }, true],
    ['other', 'Method(`GET`)', { method: 'POST' }, false],
    ['rule in lower case', 'Method(`post`)', { method: 'POST' }, true],
    ['request in lower case: methods are case-sensitive', 'Method(`POST`)', { method: 'post' }, false],
    ['rule in lower case, request in lower case', 'Method(`post`)', { method: 'post' }, false],
    ['several', 'Method(`GET`, `HEAD`)', { method: 'HEAD' }, true],
    ['no prefix match', 'Method(`GET`)', { method: 'GETX' }, false],
  ])('%s', (_d, rule, input, expected) => check(rule, input, expected));
});

describe('Header and HeaderRegexp', () => {
  const h = (headers: IncomingHttpHeaders): Partial<HttpMatchInput> => ({ headers });
  it.each<Row>([
    ['exact value', 'Header(`X-Env`, `prod`)', h({ 'x-env': 'prod' }), true],
    ['name case-insensitive', 'Header(`x-ENV`, `prod`)', h({ 'x-env': 'prod' }), true],
    ['value case-sensitive', 'Header(`X-Env`, `prod`)', h({ 'x-env': 'PROD' }), false],
    ['absent', 'Header(`X-Env`, `prod`)', h({}), false],
    ['not a substring', 'Header(`X-Env`, `prod`)', h({ 'x-env': 'production' }), false],
    ['repeated header joined by Node', 'Header(`X-Env`, `prod`)', h({ 'x-env': 'dev, prod' }), true],
    ['joined without spaces', 'Header(`X-Env`, `prod`)', h({ 'x-env': 'dev,prod,qa' }), true],
    ['joined, first element', 'Header(`X-Env`, `dev`)', h({ 'x-env': 'dev , prod' }), true],
    ['joined, no element equal', 'Header(`X-Env`, `pro`)', h({ 'x-env': 'dev, prod, proda' }), false],
    ['value holding a comma, whole', 'Header(`Accept`, `a, b`)', h({ accept: 'a, b' }), true],
    ['array values (set-cookie)', 'Header(`Set-Cookie`, `b=2`)', h({ 'set-cookie': ['a=1', 'b=2'] }), true],
    ['array values, none', 'Header(`Set-Cookie`, `c=3`)', h({ 'set-cookie': ['a=1', 'b=2'] }), false],
    ['regexp matches', 'HeaderRegexp(`User-Agent`, `curl/[0-9.]+`)', h({ 'user-agent': 'curl/8.5.0' }), true],
    ['regexp misses', 'HeaderRegexp(`User-Agent`, `^curl`)', h({ 'user-agent': 'Mozilla/5.0' }), false],
    ['regexp absent header', 'HeaderRegexp(`User-Agent`, `.*`)', h({}), false],
    ['anchored regexp on a joined element', 'HeaderRegexp(`X-Env`, `^prod$`)', h({ 'x-env': 'dev, prod' }), true],
    ['anchored regexp, no element', 'HeaderRegexp(`X-Env`, `^pro$`)', h({ 'x-env': 'dev, prod' }), false],
    ['regexp over array values', 'HeaderRegexp(`Set-Cookie`, `^b=`)', h({ 'set-cookie': ['a=1', 'b=2'] }), true],
  ])('%s', (_d, rule, input, expected) => check(rule, input, expected));
});

describe('Query and QueryRegexp', () => {
  const q = (query: string): Partial<HttpMatchInput> => ({ query });
  it.each<Row>([
    ['one argument: a value is not the empty value', 'Query(`debug`)', q('debug=1'), false],
    ['one argument: bare key', 'Query(`debug`)', q('a=1&debug'), true],
    ['one argument: empty value', 'Query(`debug`)', q('debug='), true],
    ['one argument: one of repeated values is empty', 'Query(`debug`)', q('debug=1&debug'), true],
    ['QueryRegexp with one argument is Query(key)', 'QueryRegexp(`debug`)', q('debug'), true],
    ['QueryRegexp with one argument, a value', 'QueryRegexp(`debug`)', q('debug=1'), false],
    ['; separates pairs, as Traefik allows by default', 'Query(`b`, `2`)', q('a=1;b=2'), true],
    ['; does not stay in the value', 'Query(`a`, `1`)', q('a=1;b=2'), true],
    ['; and & mixed', 'Query(`c`, `3`)', q('a=1;b=2&c=3'), true],
    ['a pair with a malformed escape is dropped, as Go does', 'Query(`q`, `%zz`)', q('q=%zz'), false],
    ['the other pairs still count', 'Query(`a`, `1`)', q('q=%zz&a=1'), true],
    ['empty key with a value', 'Query(`a`, `1`)', q('=x&a=1'), true],
    ['absent', 'Query(`debug`)', q('a=1'), false],
    ['no query at all', 'Query(`debug`)', q(''), false],
    ['key is not a prefix match', 'Query(`debug`)', q('debugger=1'), false],
    ['key and value', 'Query(`env`, `prod`)', q('env=prod'), true],
    ['key and other value', 'Query(`env`, `prod`)', q('env=dev'), false],
    ['repeated key, second value', 'Query(`env`, `prod`)', q('env=dev&env=prod'), true],
    ['plus decodes to a space', 'Query(`q`, `a b`)', q('q=a+b'), true],
    ['percent-decoded value', 'Query(`q`, `a/b é`)', q('q=a%2Fb%20%C3%A9'), true],
    ['percent-decoded key', 'Query(`my key`, `1`)', q('my%20key=1'), true],
    ['regexp on a value', 'QueryRegexp(`id`, `^[0-9]+$`)', q('id=42'), true],
    ['regexp on a decoded value', 'QueryRegexp(`q`, `^a b$`)', q('q=a+b'), true],
    ['regexp misses', 'QueryRegexp(`id`, `^[0-9]+$`)', q('id=x'), false],
    ['regexp any of repeated values', 'QueryRegexp(`id`, `^[0-9]+$`)', q('id=x&id=7'), true],
    ['regexp absent key', 'QueryRegexp(`id`, `.*`)', q('other=1'), false],
  ])('%s', (_d, rule, input, expected) => check(rule, input, expected));

  it('gives the right answer when requests with different queries alternate (shared parse cache)', () => {
    const rule = compileHttpRule('Query(`env`, `prod`) && !Query(`debug`)');
    const seen: boolean[] = [];
    for (const query of ['env=prod', 'env=prod&debug', 'env=dev', 'env=prod', '', 'env=prod&debug']) {
      seen.push(rule(request({ query })));
    }
    expect(seen).toEqual([true, false, false, true, false, false]);
  });
});

describe('ClientIP', () => {
  const ip = (clientIp: string): Partial<HttpMatchInput> => ({ clientIp });
  it.each<Row>([
    ['IPv4 address', 'ClientIP(`127.0.0.1`)', ip('127.0.0.1'), true],
    ['IPv4 other address', 'ClientIP(`127.0.0.1`)', ip('127.0.0.2'), false],
    ['IPv4 CIDR inside', 'ClientIP(`127.0.0.0/8`)', ip('127.1.2.3'), true],
    ['IPv4 CIDR outside', 'ClientIP(`127.0.0.0/8`)', ip('128.0.0.1'), false],
    ['CIDR with host bits set', 'ClientIP(`127.0.0.1/8`)', ip('127.9.9.9'), true],
    ['/32', 'ClientIP(`10.1.2.3/32`)', ip('10.1.2.3'), true],
    ['/0 matches every IPv4', 'ClientIP(`0.0.0.0/0`)', ip('203.0.113.9'), true],
    ['IPv4-mapped socket address in an IPv4 block', 'ClientIP(`127.0.0.1/8`)', ip('::ffff:127.0.0.1'), true],
    ['IPv4-mapped socket address outside', 'ClientIP(`10.0.0.0/8`)', ip('::ffff:127.0.0.1'), false],
    ['IPv4-mapped exact address', 'ClientIP(`127.0.0.1`)', ip('::ffff:127.0.0.1'), true],
    ['IPv6 loopback', 'ClientIP(`::1`)', ip('::1'), true],
    ['IPv6 loopback in another notation', 'ClientIP(`0:0:0:0:0:0:0:1`)', ip('::1'), true],
    ['IPv6 CIDR inside', 'ClientIP(`fd00::/8`)', ip('fd12:3456::1'), true],
    ['IPv6 CIDR outside', 'ClientIP(`fd00::/8`)', ip('fe80::1'), false],
    ['IPv6 address with a zone id', 'ClientIP(`fe80::/10`)', ip('fe80::1%eth0'), true],
    ['IPv4 rule does not match IPv6 loopback', 'ClientIP(`127.0.0.1`)', ip('::1'), false],
    ['several blocks', 'ClientIP(`10.0.0.0/8`, `::1`)', ip('::1'), true],
    ['empty client address', 'ClientIP(`0.0.0.0/0`)', ip(''), false],
    ['garbage client address', 'ClientIP(`0.0.0.0/0`)', ip('not-an-ip'), false],
  ])('%s', (_d, rule, input, expected) => check(rule, input, expected));
});

describe('operators over real matchers', () => {
  it.each<Row>([
    ['and, both', 'Host(`a.example`) && PathPrefix(`/api`)', { host: 'a.example', path: '/api/x' }, true],
    ['and, one', 'Host(`a.example`) && PathPrefix(`/api`)', { host: 'a.example', path: '/web' }, false],
    ['or, second', 'Host(`b.example`) || PathPrefix(`/api`)', { host: 'a.example', path: '/api' }, true],
    ['not', '!Method(`POST`)', { method: 'GET' }, true],
    ['group with not', 'Host(`a.example`) && !(Path(`/admin`) || Path(`/debug`))', { path: '/debug' }, false],
    ['group with not, allowed path', 'Host(`a.example`) && !(Path(`/admin`) || Path(`/debug`))', { path: '/x' }, true],
    ['precedence: && before ||', 'Host(`b.example`) && Path(`/x`) || Method(`GET`)', { host: 'a.example' }, true],
  ])('%s', (_d, rule, input, expected) => check(rule, input, expected));
});

describe('ClientIP answers stay right across alternating peers (per-matcher last-answer memo)', () => {
  it('re-checks when the address changes', () => {
    const rule = compileHttpRule('ClientIP(`127.0.0.0/8`)');
    const peers = ['127.0.0.1', '127.0.0.1', '::1', '::ffff:127.0.0.5', '10.0.0.1', '10.0.0.1', '127.0.0.1'];
    expect(peers.map((clientIp) => rule(request({ clientIp })))).toEqual([true, true, false, true, false, false, true]);
  });
});
