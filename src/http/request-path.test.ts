import { describe, expect, it } from 'vitest';
import { DEFAULT_ENCODED_CHARACTERS, normalizePath, pathToWire, type EncodedCharacterPolicy, type NormalizedPath } from './request-path.js';

const run = (raw: string, policy: EncodedCharacterPolicy = DEFAULT_ENCODED_CHARACTERS): NormalizedPath =>
  normalizePath(raw, policy, { routing: undefined, wire: undefined, refusal: undefined });

describe('normalizePath', () => {
  it.each([
    // description, raw, routing (what routers match), wire (forwarded; undefined = unchanged)
    ['a plain path is returned as is', '/api/users', '/api/users', undefined],
    ['the root', '/', '/', undefined],
    ['sub-delims, colon and at stay raw', "/a:b@c!$&'()*+,;=", "/a:b@c!$&'()*+,;=", undefined],
    ['a trailing slash stays', '/a/b/', '/a/b/', undefined],
    ['unreserved encodings are decoded (RFC 3986 §2.3)', '/%61dmin', '/admin', '/admin'],
    ['digits, hyphen, dot, underscore, tilde', '/%30%2D%2E%5F%7E', '/0-._~', '/0-._~'],
    ['other encodings are upper-cased on the wire and decoded for routing', '/a%2fb', undefined, undefined],
    ['a space: %20 on the wire, a space for routing', '/foo%20bar', '/foo bar', undefined],
    ['lower-case hex is upper-cased', '/foo%2a', '/foo%2A', '/foo%2A'],
    ['reserved encodings stay encoded for routing', '/a%3Fb%23c%25d', '/a%3Fb%23c%25d', undefined],
    ['UTF-8 is decoded for routing', '/caf%C3%A9', '/café', undefined],
    ['dot segments are resolved', '/x/../admin', '/admin', '/admin'],
    ['a single dot segment is removed', '/./admin/./panel', '/admin/panel', '/admin/panel'],
    ['duplicate slashes are collapsed', '//admin//panel', '/admin/panel', '/admin/panel'],
    ['.. never climbs above the root', '/../../admin', '/admin', '/admin'],
    ['encoded dots are dot segments once decoded', '/x/%2e%2e/admin', '/admin', '/admin'],
    ['mixed encoded dots', '/x/.%2E/admin', '/admin', '/admin'],
    ['a trailing .. leaves no slash (Go path.Clean)', '/a/b/..', '/a', '/a'],
    ['a trailing double slash keeps one', '/a//', '/a/', '/a/'],
    ['a dot inside a segment is kept', '/.well-known/acme-challenge/abc', '/.well-known/acme-challenge/abc', undefined],
    ['a dotfile', '/.env', '/.env', undefined],
    ['three dots are a name', '/a/.../b', '/a/.../b', undefined],
    ['characters a path may not hold raw are encoded on the wire', '/a"b{c}', '/a"b{c}', '/a%22b%7Bc%7D'],
  ])('%s: %s', (_d, raw, routing, wire) => {
    const out = run(raw);
    if (routing === undefined) {
      expect(out.routing).toBeUndefined();
      return;
    }
    expect(out.refusal).toBeUndefined();
    expect(out.routing).toBe(routing);
    expect(out.wire).toBe(wire);
  });

  it.each([
    ['an encoded slash', '/admin%2Fpanel', 'encoded slash (%2F) in the path'],
    ['an encoded slash, lower case', '/admin%2fpanel', 'encoded slash (%2F) in the path'],
    ['an encoded backslash', '/a%5Cb', 'encoded backslash (%5C) in the path'],
    ['an encoded NUL', '/a%00b', 'encoded NUL (%00) in the path'],
    ['a raw backslash', '/a\\b', 'a backslash in the path'],
    ['a fragment', '/a#b', 'a fragment in the request target'],
    ['a malformed encoding', '/a%zz', 'malformed percent-encoding in the path'],
    ['a truncated encoding', '/a%4', 'malformed percent-encoding in the path'],
    ['a percent sign at the end', '/a%', 'malformed percent-encoding in the path'],
    ['invalid UTF-8', '/a%C3%28', 'the path is not UTF-8 once decoded'],
    ['a lone continuation byte', '/a%80', 'the path is not UTF-8 once decoded'],
    ['an overlong encoding of /', '/a%C0%AFb', 'the path is not UTF-8 once decoded'],
    ['no leading slash', 'admin', 'the path does not start with /'],
  ])('refuses %s: %s', (_d, raw, refusal) => {
    const out = run(raw);
    expect(out.routing).toBeUndefined();
    expect(out.refusal).toBe(refusal);
  });

  it.each([
    ['allowEncodedSlash', '/a%2fb', '/a%2Fb'],
    ['allowEncodedBackSlash', '/a%5cb', '/a\\b'],
    ['allowEncodedNullCharacter', '/a%00b', '/a\u0000b'],
  ])('%s lets it through; %s is routed as %j', (option, raw, routing) => {
    const out = run(raw, { ...DEFAULT_ENCODED_CHARACTERS, [option]: true });
    expect(out.refusal).toBeUndefined();
    expect(out.routing).toBe(routing);
  });

  it('an allowed encoded slash is no separator: dot segments around it stay as they are', () => {
    expect(run('/a%2F..%2Fadmin', { ...DEFAULT_ENCODED_CHARACTERS, allowEncodedSlash: true }).routing).toBe('/a%2F..%2Fadmin');
  });

  it.each([
    ['allowEncodedSemicolon', '/a%3Bb', 'semicolon (%3B)'],
    ['allowEncodedPercent', '/a%25b', 'percent sign (%25)'],
    ['allowEncodedQuestionMark', '/a%3Fb', 'question mark (%3F)'],
    ['allowEncodedHash', '/a%23b', 'hash (%23)'],
  ])('%s: false refuses %s', (option, raw, what) => {
    expect(run(raw, { ...DEFAULT_ENCODED_CHARACTERS, [option]: false }).refusal).toBe(`encoded ${what} in the path`);
    expect(run(raw).refusal).toBeUndefined();
  });

  it('the plain path costs no allocation: the same string comes back', () => {
    const raw = '/api/v1/items/42';
    expect(run(raw).routing).toBe(raw);
  });
});

describe('pathToWire', () => {
  it.each([
    ['plain', '/api/users', '/api/users'],
    ['a space', '/foo bar', '/foo%20bar'],
    ['UTF-8', '/café', '/caf%C3%A9'],
    ['an astral character', '/😀', '/%F0%9F%98%80'],
    ['reserved encodings stay as they are', '/a%2Fb%25c', '/a%2Fb%25c'],
    ['quotes and braces', '/a"b{c}', '/a%22b%7Bc%7D'],
  ])('%s', (_d, path, wire) => {
    expect(pathToWire(path)).toBe(wire);
  });

  it.each([['/foo%20bar'], ['/caf%C3%A9'], ['/a%2Fb'], ['/x%7By%7D'], ["/a:b@c!$&'()*+,;="]])('is the inverse of the routing form for the normalized wire %s', (wire) => {
    const out = run(wire, { ...DEFAULT_ENCODED_CHARACTERS, allowEncodedSlash: true });
    expect(pathToWire(out.routing!)).toBe(out.wire ?? wire);
  });
});

describe('normalizePath: dot segments on the fast path', () => {
  it.each([
    ['/.well-known/acme-challenge/x', '/.well-known/acme-challenge/x', undefined],
    ['/a/..b/c', '/a/..b/c', undefined],
    ['/a/.', '/a', '/a'],
    ['/a/..', '/', '/'],
    ['/a/../', '/', '/'],
    ['/a/./b', '/a/b', '/a/b'],
    ['/.', '/', '/'],
  ])('%s', (raw, routing, wire) => {
    const out = run(raw);
    expect(out.routing).toBe(routing);
    expect(out.wire).toBe(wire);
  });
});
