import sni from 'sni';
import { describe, expect, it } from 'vitest';
import {
  alpnData,
  buildClientHello,
  capturedHellos,
  clientHelloMessage,
  extension,
  handshakeOf,
  records,
  serverNameData,
  versionsData,
} from '../../test/fixtures/client-hello/index.js';
import { parseClientHello, type ClientHelloParse } from './client-hello.js';

const MAX = 16 * 1024;
const captured = capturedHellos();
const sniOf = (b: Buffer) => sni(b)?.toLowerCase() ?? undefined;
const complete = (r: ClientHelloParse) => {
  if (r.status !== 'complete') throw new Error(`expected complete, got ${JSON.stringify(r)}`);
  return r.hello;
};

describe('parseClientHello on captured hellos', () => {
  it('has hellos from node, openssl and curl, TLS 1.2 and 1.3, with and without SNI', () => {
    const names = captured.map((c) => c.name).join(' ');
    for (const client of ['node-', 'openssl-', 'curl-']) expect(names).toContain(client);
    expect(new Set(captured.map((c) => c.version))).toEqual(new Set([0x0303, 0x0304]));
    expect(captured.some((c) => c.sni === undefined) && captured.some((c) => c.sni !== undefined)).toBe(true);
  });

  it.each(captured.map((c) => [c.name, c] as const))('%s: SNI, ALPN and version as the client was told', (_d, c) => {
    expect(complete(parseClientHello(c.bytes, MAX))).toEqual({ sni: c.sni, alpn: c.alpn, version: c.version });
  });

  it.each(captured.map((c) => [c.name, c] as const))('%s: agrees with the sni package', (_d, c) => {
    expect(complete(parseClientHello(c.bytes, MAX)).sni).toBe(sniOf(c.bytes));
    expect(sniOf(c.bytes)).toBe(c.sni);
  });

  it.each(captured.flatMap((c) => [1, 2, 7, 100].map((size) => [`${c.name} in ${size}-byte records`, c, size] as const)))(
    '%s: same hello as the single record, and the sni package on the single record agrees',
    (_d, c, size) => {
      const split = records(handshakeOf(c.bytes), size);
      expect(complete(parseClientHello(split, MAX))).toEqual(complete(parseClientHello(c.bytes, MAX)));
      expect(complete(parseClientHello(split, MAX)).sni).toBe(sniOf(c.bytes));
    },
  );

  it.each(captured.map((c) => [c.name, c] as const))('%s: every proper prefix is incomplete and asks for more', (_d, c) => {
    for (const bytes of [c.bytes, records(handshakeOf(c.bytes), 50)]) {
      for (let n = 0; n < bytes.length; n++) {
        const r = parseClientHello(bytes.subarray(0, n), MAX);
        expect(r.status, `prefix ${n}`).toBe('incomplete');
        if (r.status === 'incomplete') expect(r.needBytes).toBeGreaterThan(n);
      }
    }
  });

  it('ignores TLS 1.3 early data after the last ClientHello record', () => {
    const c = captured[0]!;
    const withEarlyData = Buffer.concat([c.bytes, Buffer.from([23, 3, 3, 0, 4, 1, 2, 3, 4])]);
    expect(complete(parseClientHello(withEarlyData, MAX)).sni).toBe(c.sni);
  });
});

const ext = {
  sni: (...names: string[]) => extension(0, serverNameData(...names)),
  alpn: (...p: string[]) => extension(16, alpnData(...p)),
  versions: (...v: number[]) => extension(43, versionsData(...v)),
};

describe('parseClientHello on hand-made hellos', () => {
  it.each([
    ['no extensions at all (TLS 1.2)', {}, { sni: undefined, alpn: [], version: 0x0303 }],
    ['empty extensions block', { extensions: [] }, { sni: undefined, alpn: [], version: 0x0303 }],
    ['SNI lower-cased', { extensions: [ext.sni('WWW.Example.Test')] }, { sni: 'www.example.test', alpn: [], version: 0x0303 }],
    ['ALPN order kept', { extensions: [ext.alpn('acme-tls/1', 'h2')] }, { sni: undefined, alpn: ['acme-tls/1', 'h2'], version: 0x0303 }],
    ['highest supported version', { extensions: [ext.versions(0x0303, 0x0304)] }, { sni: undefined, alpn: [], version: 0x0304 }],
    ['GREASE versions ignored (RFC 8701)', { extensions: [ext.versions(0x7a7a, 0x0303)] }, { sni: undefined, alpn: [], version: 0x0303 }],
    ['only GREASE: legacy_version', { legacyVersion: 0x0302, extensions: [ext.versions(0xfafa)] }, { sni: undefined, alpn: [], version: 0x0302 }],
    ['unknown extensions skipped', { extensions: [extension(0xff01, Buffer.from([0])), ext.sni('a.test'), extension(21, Buffer.alloc(300))] }, { sni: 'a.test', alpn: [], version: 0x0303 }],
    ['first host_name of a list taken', { extensions: [ext.sni('first.test', 'second.test')] }, { sni: 'first.test', alpn: [], version: 0x0303 }],
    ['wildcard-looking name passed through', { extensions: [ext.sni('*.test')] }, { sni: '*.test', alpn: [], version: 0x0303 }],
    ['empty session id', { sessionId: Buffer.alloc(0), extensions: [ext.sni('s.test')] }, { sni: 's.test', alpn: [], version: 0x0303 }],
  ])('%s', (_d, parts, expected) => {
    expect(complete(parseClientHello(buildClientHello(parts), MAX))).toEqual(expected);
  });

  it('takes a host_name that follows an entry of another name_type', () => {
    const list = Buffer.from([0, 10, 7, 0, 1, 0x41, 0, 0, 3, 0x61, 0x2e, 0x62]);
    expect(complete(parseClientHello(buildClientHello({ extensions: [extension(0, list)] }), MAX)).sni).toBe('a.b');
  });
});

const raw = (s: string) => Buffer.from(s, 'latin1');
const hello = (extensions: Buffer[]) => buildClientHello({ extensions });
/** A valid hello with one byte replaced. */
const patched = (bytes: Buffer, at: number, value: number) => {
  const copy = Buffer.from(bytes);
  copy[at] = value;
  return copy;
};
const base = hello([ext.sni('a.test')]);
// Offsets in `base`: record header 0-4, handshake header 5-8, version 9-10, random 11-42, session id length 43.
const SESSION_ID_LENGTH = 43;
const SUITES_LENGTH = 43 + 1 + 32;
// In a bare message (no record header) with the builder's 4-byte suites: 4 + 2 + 32 + 1 + 32 + 2 + 4 + 1 + 1.
const EXTENSIONS_LENGTH = 79;

describe('parseClientHello refusals', () => {
  it.each([
    ['plain HTTP GET', 'http', raw('GET / HTTP/1.1\r\nHost: a\r\n\r\n')],
    ['plain HTTP POST', 'http', raw('POST /form HTTP/1.1\r\n')],
    ['HTTP/2 prior knowledge preface', 'http', raw('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')],
    ['SSLv2 CLIENT-HELLO', 'sslv2', Buffer.from([0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15])],
    ['high bit without msg_type 1', 'not-tls', Buffer.from([0x80, 0x2e, 0x04])],
    ['letters that are no method', 'not-tls', raw('GARBAGE IN')],
    ['SSH banner', 'not-tls', raw('SSH-2.0-OpenSSH_9.2\r\n')],
    ['a TLS alert record', 'not-tls', Buffer.from([21, 3, 1, 0, 2, 2, 40])],
    ['handshake content type, record major 2', 'not-tls', Buffer.from([22, 2, 0, 0, 1, 1])],
    ['zero-length record (RFC 8446 §5.1)', 'malformed', Buffer.from([22, 3, 1, 0, 0])],
    ['record longer than 2^14', 'malformed', Buffer.from([22, 3, 1, 0x40, 0x01])],
    ['a ServerHello', 'malformed', records(Buffer.concat([Buffer.from([2]), clientHelloMessage().subarray(1)]))],
    ['session id longer than 32', 'malformed', patched(base, SESSION_ID_LENGTH, 33)],
    ['odd cipher suites length', 'malformed', patched(base, SUITES_LENGTH + 1, 3)],
    ['record carries bytes past the hello', 'malformed', records(Buffer.concat([clientHelloMessage(), Buffer.from([0])]))],
    ['record of another type inside the hello', 'malformed', Buffer.concat([records(clientHelloMessage().subarray(0, 20)), Buffer.from([23, 3, 3, 0, 1, 0])])],
    ['extensions length short of the body', 'malformed', records(patched(clientHelloMessage({ extensions: [ext.sni('a.test')] }), EXTENSIONS_LENGTH + 1, 10))],
    ['extension overruns its block', 'malformed', hello([Buffer.from([0, 21, 0, 9, 0])])],
    ['server_name list length disagrees', 'malformed', hello([extension(0, Buffer.from([0, 9, 0, 0, 1, 0x61]))])],
    ['empty server_name extension', 'malformed', hello([extension(0, Buffer.alloc(0))])],
    ['host_name of length 0', 'malformed', hello([ext.sni('')])],
    ['host_name with a NUL byte', 'malformed', hello([ext.sni('evil.test\u0000.good.test')])],
    ['host_name with a space', 'malformed', hello([ext.sni('a b.test')])],
    ['host_name longer than 255', 'malformed', hello([ext.sni(`${'a'.repeat(252)}.test`)])],
    ['two server_name extensions (RFC 8446 §4.2)', 'malformed', hello([ext.sni('a.test'), ext.sni('b.test')])],
    ['ALPN with an empty name', 'malformed', hello([ext.alpn('h2', '')])],
    ['ALPN empty list', 'malformed', hello([extension(16, Buffer.from([0, 0]))])],
    ['supported_versions odd length', 'malformed', hello([extension(43, Buffer.from([3, 3, 4, 3]))])],
  ])('%s → %s', (_d, reason, bytes) => {
    expect(parseClientHello(bytes, MAX)).toEqual({ status: 'invalid', reason });
  });

  it.each([
    ['a method prefix', raw('PO'), 5],
    ['the first byte of a record header', Buffer.from([22]), 5],
    ['an SSLv2 length', Buffer.from([0x80]), 3],
  ])('waits on %s', (_d, bytes, needBytes) => {
    expect(parseClientHello(bytes, MAX)).toEqual({ status: 'incomplete', needBytes });
  });

  it('refuses a hello whose handshake length cannot fit, from its first record', () => {
    const first = Buffer.concat([Buffer.from([22, 3, 1, 0, 4, 1, 0x01, 0x86, 0xa0])]); // handshake of 100 000 bytes
    expect(parseClientHello(first, MAX)).toEqual({ status: 'invalid', reason: 'too-large' });
  });

  it('refuses a record that ends past maxBytes, before it has arrived', () => {
    const big = hello([ext.sni('a.test'), extension(21, Buffer.alloc(600))]);
    expect(parseClientHello(big.subarray(0, 10), 512)).toEqual({ status: 'invalid', reason: 'too-large' });
    expect(complete(parseClientHello(big, big.length)).sni).toBe('a.test');
  });

  it('counts record headers against maxBytes when a hello is split thin', () => {
    const message = clientHelloMessage({ extensions: [ext.sni('a.test')] });
    const split = records(message, 10);
    expect(complete(parseClientHello(split, split.length)).sni).toBe('a.test');
    expect(parseClientHello(split, split.length - 1)).toEqual({ status: 'invalid', reason: 'too-large' });
  });
});
