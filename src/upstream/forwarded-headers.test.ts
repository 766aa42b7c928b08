import { describe, expect, it } from 'vitest';
import { clientResponseHeaders, clientResponseTrailers, displayIp, HOP_BY_HOP, HOP_BY_HOP_UPGRADE, upstreamRequestHeaders, type ForwardedFrom } from './forwarded-headers.js';

const untrusted: ForwardedFrom = { clientIp: '::ffff:10.1.2.3', scheme: 'https', trustForwarded: false };
const trusted: ForwardedFrom = { ...untrusted, trustForwarded: true };

/** Flat pairs → lower-cased multimap, for readable assertions. */
function asMap(flat: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (let i = 0; i < flat.length; i += 2) (out[(flat[i] as string).toLowerCase()] ??= []).push(flat[i + 1] as string);
  return out;
}

describe('upstreamRequestHeaders', () => {
  it.each([
    ['untrusted: X-Forwarded-For replaced by the client IP', untrusted, ['Host', 'a.test', 'X-Forwarded-For', '6.6.6.6'], 'x-forwarded-for', ['10.1.2.3']],
    ['trusted: X-Forwarded-For appended to', trusted, ['Host', 'a.test', 'X-Forwarded-For', '1.1.1.1'], 'x-forwarded-for', ['1.1.1.1, 10.1.2.3']],
    ['trusted: several X-Forwarded-For lines folded', trusted, ['X-Forwarded-For', '1.1.1.1', 'X-Forwarded-For', '2.2.2.2'], 'x-forwarded-for', ['1.1.1.1, 2.2.2.2, 10.1.2.3']],
    ['untrusted: X-Forwarded-Proto set from the scheme', untrusted, ['X-Forwarded-Proto', 'gopher'], 'x-forwarded-proto', ['https']],
    ['trusted: X-Forwarded-Proto kept', trusted, ['X-Forwarded-Proto', 'http'], 'x-forwarded-proto', ['http']],
    ['X-Forwarded-Host is the client Host', untrusted, ['Host', 'a.test:8443'], 'x-forwarded-host', ['a.test:8443']],
    ['untrusted: X-Forwarded-Host replaced', untrusted, ['Host', 'a.test', 'X-Forwarded-Host', 'evil.test'], 'x-forwarded-host', ['a.test']],
    ['X-Forwarded-Port is the Host header port', untrusted, ['Host', 'a.test:8443'], 'x-forwarded-port', ['8443']],
    ['X-Forwarded-Port of an IPv6 Host', untrusted, ['Host', '[::1]:8080'], 'x-forwarded-port', ['8080']],
    ['X-Forwarded-Port defaults to 443 for https', untrusted, ['Host', 'a.test'], 'x-forwarded-port', ['443']],
    ['X-Forwarded-Port defaults to 80 for http', { ...untrusted, scheme: 'http' as const }, ['Host', '[::1]'], 'x-forwarded-port', ['80']],
    ['trusted: X-Forwarded-Port kept', trusted, ['Host', 'a.test:1', 'X-Forwarded-Port', '443'], 'x-forwarded-port', ['443']],
    ['untrusted: X-Real-IP stripped', untrusted, ['X-Real-IP', '6.6.6.6'], 'x-real-ip', undefined],
    ['untrusted: Forwarded stripped', untrusted, ['Forwarded', 'for=6.6.6.6'], 'forwarded', undefined],
    ['plain IPv6 client kept as is', { ...untrusted, clientIp: '::1' }, [], 'x-forwarded-for', ['::1']],
  ])('%s', (_desc, from, raw, name, expected) => {
    expect(asMap(upstreamRequestHeaders(raw, from, undefined, HOP_BY_HOP))[name]).toEqual(expected);
  });

  it.each([
    ['Connection', 'connection'],
    ['Keep-Alive', 'keep-alive'],
    ['Proxy-Connection', 'proxy-connection'],
    ['TE', 'te'],
    ['Trailer', 'trailer'],
    ['Transfer-Encoding', 'transfer-encoding'],
    ['Upgrade', 'upgrade'],
    ['Proxy-Authorization', 'proxy-authorization'],
    ['Expect', 'expect'],
  ])('hop-by-hop %s is removed from requests', (name, lower) => {
    const out = asMap(upstreamRequestHeaders([name, 'x', 'Accept', '*/*'], untrusted, undefined, HOP_BY_HOP));
    expect(out[lower]).toBeUndefined();
    expect(out['accept']).toEqual(['*/*']);
  });

  it('removes the headers a Connection header lists, and keeps the rest', () => {
    const raw = ['Connection', 'keep-alive, X-Secret-Hop', 'X-Secret-Hop', '1', 'Authorization', 'Bearer t'];
    const out = asMap(upstreamRequestHeaders(raw, untrusted, undefined, HOP_BY_HOP));
    expect(out['x-secret-hop']).toBeUndefined();
    expect(out['authorization']).toEqual(['Bearer t']);
  });

  it.each([
    ['passHostHeader: client Host kept', undefined, ['a.test']],
    ['passHostHeader false: server host sent', '127.0.0.1:9000', ['127.0.0.1:9000']],
  ])('%s', (_desc, host, expected) => {
    expect(asMap(upstreamRequestHeaders(['Host', 'a.test'], untrusted, host, HOP_BY_HOP))['host']).toEqual(expected);
  });

  it('keeps Connection and Upgrade on the upgrade path', () => {
    const out = asMap(upstreamRequestHeaders(['Connection', 'Upgrade', 'Upgrade', 'websocket', 'TE', 'x'], untrusted, undefined, HOP_BY_HOP_UPGRADE));
    expect(out['connection']).toEqual(['Upgrade']);
    expect(out['upgrade']).toEqual(['websocket']);
    expect(out['te']).toBeUndefined();
  });
});

describe('TE toward HTTP/2 upstreams (teTrailers)', () => {
  it.each([
    ['te: trailers kept', ['TE', 'trailers'], true, ['trailers']],
    ['a list with trailers becomes te: trailers alone (RFC 9113 §8.2.2)', ['TE', 'gzip;q=0.5, Trailers'], true, ['trailers']],
    ['a TE without trailers removed', ['TE', 'gzip'], true, undefined],
    ['HTTP/1.1 upstreams: te: trailers removed as hop-by-hop', ['TE', 'trailers'], false, undefined],
    ['listed in Connection: still kept as te: trailers', ['Connection', 'TE', 'TE', 'trailers'], true, ['trailers']],
  ])('%s', (_desc, raw, teTrailers, expected) => {
    expect(asMap(upstreamRequestHeaders(raw, untrusted, undefined, HOP_BY_HOP, teTrailers))['te']).toEqual(expected);
  });
});

describe('clientResponseTrailers', () => {
  it.each([
    ['HTTP/1.1 raw pairs', [Buffer.from('Grpc-Status'), Buffer.from('0'), Buffer.from('X-A'), Buffer.from('1')], [['Grpc-Status', '0'], ['X-A', '1']]],
    ['an HTTP/2 object, repeated fields as arrays', { 'grpc-status': '5', 'x-a': ['1', '2'] }, [['grpc-status', '5'], ['x-a', '1'], ['x-a', '2']]],
    ['hop-by-hop and connection-specific fields dropped', { connection: 'close', 'transfer-encoding': 'chunked', 'http2-settings': 'x', 'x-b': 'y' }, [['x-b', 'y']]],
    ['none left: undefined', [], undefined],
    ['an empty object: undefined', {}, undefined],
  ])('%s', (_desc, trailers, expected) => {
    expect(clientResponseTrailers(trailers)).toEqual(expected);
  });
});

describe('clientResponseHeaders', () => {
  const raw = (pairs: string[]) => pairs.map((s) => Buffer.from(s, 'latin1'));

  it.each([
    ['Transfer-Encoding removed', ['Transfer-Encoding', 'chunked'], 'transfer-encoding', undefined],
    ['Connection removed', ['Connection', 'close'], 'connection', undefined],
    ['Keep-Alive removed', ['Keep-Alive', 'timeout=5'], 'keep-alive', undefined],
    ['Proxy-Authenticate removed', ['Proxy-Authenticate', 'Basic'], 'proxy-authenticate', undefined],
    ['names listed in Connection removed', ['Connection', 'X-Hop', 'X-Hop', '1'], 'x-hop', undefined],
    ['several Set-Cookie kept apart, in order', ['Set-Cookie', 'a=1', 'Set-Cookie', 'b=2; Path=/'], 'set-cookie', ['a=1', 'b=2; Path=/']],
    ['end-to-end headers kept', ['Content-Length', '5', 'Cache-Control', 'no-store'], 'cache-control', ['no-store']],
    ['latin1 bytes survive', ['X-Name', 'caf\u00e9'], 'x-name', ['caf\u00e9']],
  ])('%s', (_desc, pairs, name, expected) => {
    expect(asMap(clientResponseHeaders(raw(pairs)))[name]).toEqual(expected);
  });
});

describe('displayIp', () => {
  it.each([
    ['IPv4-mapped IPv6 shown as IPv4', '::ffff:1.2.3.4', '1.2.3.4'],
    ['plain IPv4 unchanged', '1.2.3.4', '1.2.3.4'],
    ['IPv6 unchanged', '2001:db8::1', '2001:db8::1'],
  ])('%s', (_desc, input, expected) => {
    expect(displayIp(input)).toBe(expected);
  });
});
