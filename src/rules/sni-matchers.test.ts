import { describe, expect, it } from 'vitest';
import { GatehouseError } from '../errors.js';
import { compileSniRule, type SniMatchInput } from './sni-matchers.js';

function hello(over: Partial<SniMatchInput> = {}): SniMatchInput {
  return { sni: 'a.example', alpn: [], clientIp: '127.0.0.1', ...over };
}

type Row = [description: string, rule: string, input: Partial<SniMatchInput>, expected: boolean];

function check(rule: string, over: Partial<SniMatchInput>, expected: boolean): void {
  expect(compileSniRule(rule)(hello(over))).toBe(expected);
}

describe('HostSNI', () => {
  it.each<Row>([
    ['exact', 'HostSNI(`a.example`)', { sni: 'a.example' }, true],
    ['other name', 'HostSNI(`a.example`)', { sni: 'b.example' }, false],
    ['rule in upper case', 'HostSNI(`A.EXAMPLE`)', { sni: 'a.example' }, true],
    ['matcher name lower case', 'hostsni(`a.example`)', { sni: 'a.example' }, true],
    ['not a suffix match', 'HostSNI(`example`)', { sni: 'a.example' }, false],
    ['not a prefix match', 'HostSNI(`a.example`)', { sni: 'a.example.org' }, false],
    ['no SNI never matches a name', 'HostSNI(`a.example`)', { sni: '' }, false],
    ['several names: second', 'HostSNI(`a.example`, `b.example`)', { sni: 'b.example' }, true],
    ['several names: neither', 'HostSNI(`a.example`, `b.example`)', { sni: 'c.example' }, false],
    ['wildcard: one label', 'HostSNI(`*.test.example.com`)', { sni: 'app.test.example.com' }, true],
    ['wildcard: upper-case rule', 'HostSNI(`*.TEST.example.com`)', { sni: 'app.test.example.com' }, true],
    ['wildcard: not the apex', 'HostSNI(`*.test.example.com`)', { sni: 'test.example.com' }, false],
    ['wildcard: not two labels', 'HostSNI(`*.test.example.com`)', { sni: 'a.b.test.example.com' }, false],
    ['wildcard: suffix must be a whole label', 'HostSNI(`*.test.example.com`)', { sni: 'xtest.example.com' }, false],
    ['wildcard: not a longer parent', 'HostSNI(`*.test.example.com`)', { sni: 'a.test.example.com.evil' }, false],
    ['wildcard: no SNI', 'HostSNI(`*.test.example.com`)', { sni: '' }, false],
    ['catch-all: any name', 'HostSNI(`*`)', { sni: 'anything.example' }, true],
    ['catch-all: no SNI, as in Traefik', 'HostSNI(`*`)', { sni: '' }, true],
    ['catch-all among names', 'HostSNI(`a.example`, `*`)', { sni: '' }, true],
    ['exact or wildcard', 'HostSNI(`test.example.com`, `*.test.example.com`)', { sni: 'test.example.com' }, true],
    ['IPv6 literal, as the SNI carries it (no brackets)', 'HostSNI(`10::10`)', { sni: '10::10' }, true],
    ['IPv6 literal, other address', 'HostSNI(`10::10`)', { sni: '10::11' }, false],
    ['IPv4 literal', 'HostSNI(`127.0.0.1`)', { sni: '127.0.0.1' }, true],
    ['underscore in a label', 'HostSNI(`foo_bar.example.com`)', { sni: 'foo_bar.example.com' }, true],
    ['fully qualified rule name', 'HostSNI(`example.com.`)', { sni: 'example.com' }, true],
  ])('%s', (_d, rule, input, expected) => check(rule, input, expected));
});

describe('HostSNIRegexp', () => {
  it.each<Row>([
    ['anchored match', 'HostSNIRegexp(`^[a-z]+\\.example$`)', { sni: 'api.example' }, true],
    ['anchored miss', 'HostSNIRegexp(`^[a-z]+\\.example$`)', { sni: 'a.b.example' }, false],
    ['as written: upper case misses the lower-cased SNI', 'HostSNIRegexp(`^API\\.example$`)', { sni: 'api.example' }, false],
    ['(?i) ignores case', 'HostSNIRegexp(`(?i)^API\\.example$`)', { sni: 'api.example' }, true],
    ['several labels on purpose', 'HostSNIRegexp(`^.+\\.test\\.example$`)', { sni: 'a.b.test.example' }, true],
    ['no SNI against a pattern that needs one', 'HostSNIRegexp(`^.+$`)', { sni: '' }, false],
  ])('%s', (_d, rule, input, expected) => check(rule, input, expected));
});

describe('ALPN', () => {
  it.each<Row>([
    ['offered first', 'ALPN(`h2`)', { alpn: ['h2', 'http/1.1'] }, true],
    ['offered later', 'ALPN(`http/1.1`)', { alpn: ['h2', 'http/1.1'] }, true],
    ['not offered', 'ALPN(`h2`)', { alpn: ['http/1.1'] }, false],
    ['no ALPN extension', 'ALPN(`h2`)', { alpn: [] }, false],
    ['exact bytes: case matters (RFC 7301 §3.1)', 'ALPN(`H2`)', { alpn: ['h2'] }, false],
    ['several: any', 'ALPN(`h3`, `h2`)', { alpn: ['h2'] }, true],
    ['acme-tls/1 challenge handshake', 'ALPN(`acme-tls/1`)', { alpn: ['acme-tls/1'] }, true],
    ['passthrough except challenges', 'HostSNI(`vm.example`) && !ALPN(`acme-tls/1`)', { sni: 'vm.example', alpn: ['acme-tls/1'] }, false],
    ['passthrough except challenges, normal client', 'HostSNI(`vm.example`) && !ALPN(`acme-tls/1`)', { sni: 'vm.example', alpn: ['h2'] }, true],
  ])('%s', (_d, rule, input, expected) => check(rule, input, expected));
});

describe('ClientIP', () => {
  it.each<Row>([
    ['IPv4 CIDR inside', 'ClientIP(`127.0.0.0/8`)', { clientIp: '127.1.2.3' }, true],
    ['IPv4 CIDR outside', 'ClientIP(`10.0.0.0/8`)', { clientIp: '127.0.0.1' }, false],
    ['IPv4-mapped socket address', 'ClientIP(`127.0.0.1`)', { clientIp: '::ffff:127.0.0.1' }, true],
    ['IPv6 loopback', 'ClientIP(`::1`)', { clientIp: '::1' }, true],
    ['with HostSNI', 'HostSNI(`a.example`) && ClientIP(`127.0.0.1`)', { sni: 'a.example', clientIp: '127.0.0.2' }, false],
  ])('%s', (_d, rule, input, expected) => check(rule, input, expected));
});

function errorOf(rule: string): GatehouseError {
  try {
    compileSniRule(rule);
  } catch (err) {
    if (err instanceof GatehouseError) return err;
    throw err;
  }
  throw new Error(`expected ${rule} to be refused`);
}

describe('refused at compile time', () => {
  it.each<[description: string, rule: string, code: string, message: RegExp]>([
    ['a port in HostSNI', 'HostSNI(`a.example:443`)', 'RULE_MATCHER', /without a port/],
    ['a "*" that is not a first label', 'HostSNI(`a.*.example`)', 'RULE_MATCHER', /expects a host name or an IP address/],
    ['two wildcard labels', 'HostSNI(`*.*.example.com`)', 'RULE_MATCHER', /expects a host name or an IP address/],
    ['IPv6 in brackets', 'HostSNI(`[::1]`)', 'RULE_MATCHER', /without brackets/],
    ['a space', 'HostSNI(`a example`)', 'RULE_MATCHER', /expects a host name or an IP address/],
    ['non-ASCII name', 'HostSNI(`🦭.com`)', 'RULE_MATCHER', /non-ASCII.*punycode/],
    ['non-ASCII regexp', 'HostSNIRegexp(`🦭.com`)', 'RULE_MATCHER', /non-ASCII.*punycode/],
    ['an empty name', 'HostSNI(``)', 'RULE_MATCHER', /argument 1 is empty/],
    ['an empty regexp', 'HostSNIRegexp(``)', 'RULE_MATCHER', /argument 1 is empty/],
    ['an empty ClientIP', 'ClientIP(``)', 'RULE_MATCHER', /argument 1 is empty/],
    ['an HTTP matcher', 'Host(`a.example`)', 'RULE_MATCHER', /known matchers: HostSNI, HostSNIRegexp, ALPN, ClientIP/],
    ['a misspelt matcher', 'HostSIN(`a.example`)', 'RULE_MATCHER', /did you mean "HostSNI"/],
    ['an empty ALPN protocol', 'ALPN(``)', 'RULE_MATCHER', /argument 1 is empty/],
    ['an ALPN protocol over 255 bytes', `ALPN(\`${'a'.repeat(256)}\`)`, 'RULE_MATCHER', /protocol name/],
    ['an invalid regexp', 'HostSNIRegexp(`(`)', 'RULE_MATCHER', /invalid regular expression/],
    ['a bad CIDR', 'ClientIP(`10.0.0.0/33`)', 'RULE_MATCHER', /prefix length/],
    ['no arguments', 'HostSNI()', 'RULE_MATCHER', /at least 1 argument/],
    ['bad syntax', 'HostSNI(`a.example`', 'RULE_SYNTAX', /./],
  ])('%s', (_d, rule, code, message) => {
    const err = errorOf(rule);
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
  });
});
