// Tables for the non-auth middlewares, each on a real server (test/helpers/middleware-server.ts).
import { gunzipSync, brotliDecompressSync } from 'node:zlib';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { httpRequest } from '../../test/helpers/raw-http.js';
import { closeMiddlewareServers, startMiddlewareServer } from '../../test/helpers/middleware-server.js';
import { buildMiddlewares } from '../http/middlewares.js';
import type { Config } from '../config/index.js';
import { GatehouseError } from '../errors.js';
import { createBuffering } from './buffering.js';
import { compileClientIpStrategy } from './client-ip-strategy.js';
import { createCompress, negotiateEncoding } from './compress.js';
import { createHeaders } from './headers.js';
import { createIpAllowList } from './ip-allow-list.js';
import { createAddPrefix, createReplacePath, createReplacePathRegex, createStripPrefix, createStripPrefixRegex } from './path-rewrites.js';
import { TokenBuckets } from './rate-limit.js';
import { createRedirectRegex, createRedirectScheme } from './redirects.js';
import type { RequestContext } from '../http/context.js';

afterAll(closeMiddlewareServers);
const P = '/http/middlewares/m';

describe('client IP strategy', () => {
  const ctx = (trusted: boolean, xff?: string) =>
    ({ trustForwarded: trusted, clientIp: '::ffff:127.0.0.1', headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }) as unknown as RequestContext;
  it.each([
    ['no strategy: the socket peer, unmapped', undefined, ctx(true, '1.1.1.1'), '127.0.0.1'],
    ['depth 1 from a trusted proxy: the rightmost', { depth: 1 }, ctx(true, '1.1.1.1, 2.2.2.2'), '2.2.2.2'],
    ['depth 2 from a trusted proxy', { depth: 2 }, ctx(true, '1.1.1.1, 2.2.2.2'), '1.1.1.1'],
    ['depth past the list: none', { depth: 3 }, ctx(true, '1.1.1.1, 2.2.2.2'), ''],
    ['depth from an untrusted client: the header is ignored', { depth: 1 }, ctx(false, '10.0.0.1'), '127.0.0.1'],
    ['excludedIPs skips our proxies from the right', { excludedIPs: ['2.2.2.0/24'] }, ctx(true, '1.1.1.1, 2.2.2.2, 2.2.2.3'), '1.1.1.1'],
    ['excludedIPs from an untrusted client', { excludedIPs: ['2.2.2.0/24'] }, ctx(false, '1.1.1.1'), '127.0.0.1'],
  ])('%s', (_d, strategy, c, expected) => {
    expect(compileClientIpStrategy(strategy, P)(c)).toBe(expected);
  });
});

describe('ipAllowList', () => {
  it.each([
    ['loopback allowed', ['127.0.0.0/8'], {}, false, 200],
    ['not in range', ['10.0.0.0/8'], {}, false, 403],
    ['IPv6 range does not admit an IPv4 peer', ['fd00::/8'], {}, false, 403],
    ['spoofed X-Forwarded-For from an untrusted client is ignored', ['10.0.0.0/8'], { 'x-forwarded-for': '10.1.1.1' }, false, 403],
    ['X-Forwarded-For from a trusted proxy counts', ['10.0.0.0/8'], { 'x-forwarded-for': '10.1.1.1' }, true, 200],
  ])('%s → %i', async (_d, sourceRange, headers, trusted, status) => {
    const srv = await startMiddlewareServer(createIpAllowList({ sourceRange, ipStrategy: { depth: trusted ? 1 : 0 } }, P), undefined, { trusted });
    expect((await httpRequest(srv.port, { headers })).status).toBe(status);
  });

  it.each([
    ['a word', ['localhost'], `${P}/sourceRange/0`],
    ['a prefix too long', ['10.0.0.0/33'], `${P}/sourceRange/0`],
    ['a bad second entry', ['10.0.0.0/8', '::1/129'], `${P}/sourceRange/1`],
  ])('refuses %s at load', (_d, sourceRange, path) => {
    try {
      createIpAllowList({ sourceRange }, P);
      expect.unreachable();
    } catch (err) {
      expect((err as GatehouseError).code).toBe('MIDDLEWARE_CONFIG');
      expect((err as GatehouseError).location.path).toBe(path);
    }
  });
});

describe('rate limit buckets', () => {
  it.each([
    ['burst passes at once', 10, 1000, 3, [0, 0, 0], [true, true, true]],
    ['past the burst, refused', 10, 1000, 2, [0, 0, 0], [true, true, false]],
    ['refills at average/period', 10, 1000, 1, [0, 0, 100], [true, false, true]],
    ['never refills past the burst', 1, 1000, 2, [0, 10_000, 10_000, 10_000], [true, true, true, false]],
  ])('%s', (_d, average, periodMs, burst, times, granted) => {
    const b = new TokenBuckets(average, periodMs, burst);
    expect(times.map((t) => b.take('k', t) === 0)).toEqual(granted);
  });

  it('says how long until the next token', () => {
    const b = new TokenBuckets(1, 2000, 1);
    b.take('k', 0);
    expect(b.take('k', 500)).toBeCloseTo(1500);
  });

  it('keeps at most maxBuckets clients, dropping the least recently seen', () => {
    const b = new TokenBuckets(1, 1000, 1, 3);
    for (const k of ['a', 'b', 'c']) b.take(k, 0);
    b.take('a', 1); // a is recent again
    b.take('d', 2); // evicts b
    expect(b.size).toBe(3);
    expect(b.take('a', 3)).toBeGreaterThan(0); // a kept its empty bucket
    expect(b.take('b', 3)).toBe(0); // b starts afresh
  });
});

describe('headers', () => {
  const upstream = (_req: unknown, res: import('node:http').ServerResponse) => {
    res.writeHead(200, ['X-Powered-By', 'php', 'X-Keep', 'yes', 'Content-Type', 'text/plain']);
    res.end('ok');
  };
  it.each([
    ['custom response header set over the upstream', { customResponseHeaders: { 'X-Keep': 'ours' } }, 'http', 'x-keep', 'ours'],
    ['empty value removes', { customResponseHeaders: { 'X-Powered-By': '' } }, 'http', 'x-powered-by', undefined],
    ['frameDeny', { frameDeny: true }, 'http', 'x-frame-options', 'DENY'],
    ['nosniff', { contentTypeNosniff: true }, 'http', 'x-content-type-options', 'nosniff'],
    ['HSTS on https', { stsSeconds: 63072000, stsIncludeSubdomains: true, stsPreload: true }, 'https', 'strict-transport-security', 'max-age=63072000; includeSubDomains; preload'],
    ['no HSTS on plain http', { stsSeconds: 60 }, 'http', 'strict-transport-security', undefined],
    ['forceSTSHeader on plain http', { stsSeconds: 60, forceSTSHeader: true }, 'http', 'strict-transport-security', 'max-age=60'],
    ['CSP', { contentSecurityPolicy: "default-src 'self'" }, 'http', 'content-security-policy', "default-src 'self'"],
  ] as const)('%s', async (_d, spec, scheme, name, value) => {
    const srv = await startMiddlewareServer(createHeaders(spec, P), upstream, { scheme });
    const res = await httpRequest(srv.port);
    expect(res.headers[name]).toBe(value);
  });

  it('sets and removes request headers', async () => {
    const srv = await startMiddlewareServer(createHeaders({ customRequestHeaders: { 'X-Env': 'lab', 'X-Drop': '' } }, P));
    const seen = JSON.parse((await httpRequest(srv.port, { headers: { 'x-env': 'client', 'x-drop': 'x' } })).text);
    expect(seen.headers['x-env']).toBe('lab');
    expect(seen.headers['x-drop']).toBeUndefined();
    expect(seen.rawHeaders.filter((h: string) => h.toLowerCase() === 'x-env')).toHaveLength(1);
  });

  const cors = { accessControlAllowOriginList: ['https://app.test'], accessControlAllowMethods: ['GET', 'PUT'], accessControlAllowHeaders: ['X-Token'], accessControlMaxAge: 600 };
  it.each([
    ['preflight from an allowed origin is answered here', 'OPTIONS', 'https://app.test', { 'access-control-request-method': 'PUT' }, 200, 'https://app.test', 'GET, PUT'],
    ['actual request from an allowed origin', 'GET', 'https://app.test', {}, 200, 'https://app.test', undefined],
    ['other origin gets no CORS headers', 'GET', 'https://evil.test', {}, 200, undefined, undefined],
  ])('CORS: %s', async (_d, method, origin, extra, status, allowOrigin, allowMethods) => {
    const srv = await startMiddlewareServer(createHeaders(cors, P));
    const res = await httpRequest(srv.port, { method, headers: { origin, ...extra } });
    expect(res.status).toBe(status);
    expect(res.headers['access-control-allow-origin']).toBe(allowOrigin);
    expect(res.headers['access-control-allow-methods']).toBe(allowMethods);
    if (method === 'OPTIONS') {
      expect(res.text).toBe(''); // not the echo handler's JSON: the preflight never went upstream
      expect(res.headers['access-control-max-age']).toBe('600');
    }
  });
});

describe('redirects', () => {
  it.each([
    ['http → https, GET, permanent', { scheme: 'https', permanent: true }, 'GET', '/a?b=1', 301, 'https://site.test/a?b=1'],
    ['http → https, POST, permanent', { scheme: 'https', permanent: true }, 'POST', '/a', 308, 'https://site.test/a'],
    ['temporary GET', { scheme: 'https' }, 'GET', '/', 302, 'https://site.test/'],
    ['temporary PUT', { scheme: 'https' }, 'PUT', '/', 307, 'https://site.test/'],
    ['with a port', { scheme: 'https', port: '8443' }, 'GET', '/', 302, 'https://site.test:8443/'],
    ['default port dropped', { scheme: 'https', port: '443' }, 'GET', '/', 302, 'https://site.test/'],
    ['ACME challenge never redirected', { scheme: 'https' }, 'GET', '/.well-known/acme-challenge/tok', 200, undefined],
  ])('redirectScheme: %s', async (_d, spec, method, path, status, location) => {
    const srv = await startMiddlewareServer(createRedirectScheme(spec, P));
    const res = await httpRequest(srv.port, { method, path, host: 'site.test:8080', body: method === 'GET' ? undefined : '' });
    expect(res.status).toBe(status);
    expect(res.headers.location).toBe(location);
  });

  it('redirectScheme lets a request on the target scheme through', async () => {
    const srv = await startMiddlewareServer(createRedirectScheme({ scheme: 'https' }, P), undefined, { scheme: 'https' });
    expect((await httpRequest(srv.port)).status).toBe(200);
  });

  it.each([
    ['groups with Go syntax', { regex: '^http://old\\.test/(.*)', replacement: 'https://new.test/${1}' }, '/x/y', 302, 'https://new.test/x/y'],
    ['named group', { regex: '^http://old\\.test/(?P<rest>.*)', replacement: 'https://new.test/${rest}', permanent: true }, '/z', 301, 'https://new.test/z'],
    ['no match passes', { regex: '^https://', replacement: 'x' }, '/', 200, undefined],
    ['ACME challenge never redirected', { regex: '.*', replacement: 'https://x/' }, '/.well-known/acme-challenge/t', 200, undefined],
  ])('redirectRegex: %s', async (_d, spec, path, status, location) => {
    const srv = await startMiddlewareServer(createRedirectRegex(spec, P));
    const res = await httpRequest(srv.port, { path, host: 'old.test' });
    expect(res.status).toBe(status);
    expect(res.headers.location).toBe(location);
  });

  it('redirectRegex refuses a bad regex at load', () => {
    expect(() => createRedirectRegex({ regex: '(', replacement: '' }, P)).toThrow(GatehouseError);
  });
});

describe('path rewrites', () => {
  it.each([
    ['stripPrefix', createStripPrefix({ prefixes: ['/api', '/v1'] }, P), '/api/users?x=1', '/users?x=1', { 'x-forwarded-prefix': '/api' }],
    ['stripPrefix to the root', createStripPrefix({ prefixes: ['/api'] }, P), '/api', '/', { 'x-forwarded-prefix': '/api' }],
    // Untouched here; the forwarder drops an untrusted client's X-Forwarded-* (the integration test checks it).
    ['stripPrefix no match', createStripPrefix({ prefixes: ['/api'] }, P), '/web/a', '/web/a', { 'x-forwarded-prefix': '/spoofed' }],
    ['stripPrefixRegex', createStripPrefixRegex({ regex: ['/users/[0-9]+'] }, P), '/users/42/profile', '/profile', { 'x-forwarded-prefix': '/users/42' }],
    ['addPrefix', createAddPrefix({ prefix: '/app' }, P), '/a?q', '/app/a?q', {}],
    ['replacePath', createReplacePath({ path: '/health' }, P), '/anything?q=1', '/health?q=1', { 'x-replaced-path': '/anything' }],
    ['replacePathRegex', createReplacePathRegex({ regex: '^/foo/(.*)', replacement: '/bar/$1' }, P), '/foo/x', '/bar/x', { 'x-replaced-path': '/foo/x' }],
  ])('%s', async (_d, wrapper, path, url, headers) => {
    const srv = await startMiddlewareServer(wrapper);
    const seen = JSON.parse((await httpRequest(srv.port, { path, headers: { 'x-forwarded-prefix': '/spoofed' } })).text);
    expect(seen.url).toBe(url);
    expect(seen.path).toBe(url.split('?')[0]);
    for (const [k, v] of Object.entries(headers)) {
      if (v === undefined) expect(seen.headers[k]).toBeUndefined();
      else expect(seen.headers[k]).toBe(v);
    }
  });
});

describe('compress', () => {
  it.each([
    ['gzip only', 'gzip', 'gzip'],
    ['br and gzip: br wins a tie', 'gzip, deflate, br', 'br'],
    ['q-values decide', 'br;q=0.5, gzip;q=0.8', 'gzip'],
    ['refused br', 'br;q=0, gzip', 'gzip'],
    ['star', '*', 'br'],
    ['identity only', 'identity', undefined],
    ['none', undefined, undefined],
  ])('negotiates %s', (_d, header, expected) => {
    expect(negotiateEncoding(header)).toBe(expected);
  });

  const big = 'hello gatehouse '.repeat(500);
  const body = (type: string, text: string, chunked = false) => (_req: unknown, res: import('node:http').ServerResponse) => {
    if (chunked) {
      res.writeHead(200, ['Content-Type', type]);
      res.write(text.slice(0, 100));
      res.end(text.slice(100));
      return;
    }
    res.writeHead(200, ['Content-Type', type, 'Content-Length', String(Buffer.byteLength(text))]);
    res.end(text);
  };
  it.each([
    ['gzip for text', 'gzip', 'text/html; charset=utf-8', big, false, 'gzip'],
    ['br for text', 'br', 'application/json', big, false, 'br'],
    ['chunked upstream body', 'gzip', 'text/plain', big, true, 'gzip'],
    ['small body skipped', 'gzip', 'text/plain', 'tiny', false, undefined],
    ['image skipped', 'gzip', 'image/png', big, false, undefined],
    ['no Accept-Encoding', undefined, 'text/plain', big, false, undefined],
  ])('%s', async (_d, accept, type, text, chunked, encoding) => {
    const srv = await startMiddlewareServer(createCompress({}, P), body(type, text, chunked));
    const res = await httpRequest(srv.port, { headers: accept ? { 'accept-encoding': accept } : {} });
    expect(res.headers['content-encoding']).toBe(encoding);
    const plain = encoding === 'gzip' ? gunzipSync(res.body) : encoding === 'br' ? brotliDecompressSync(res.body) : res.body;
    expect(plain.toString()).toBe(text);
    if (encoding) {
      expect(res.headers['content-length']).toBeUndefined();
      expect(res.headers.vary).toContain('Accept-Encoding');
      expect(res.body.length).toBeLessThan(text.length / 5);
    }
  });
});

describe('buffering', () => {
  it.each([
    ['Content-Length under the limit', 'x'.repeat(100), false, 200],
    ['Content-Length over the limit: 413 up front', 'x'.repeat(2000), false, 413],
    ['chunked under the limit: forwarded with a length', 'x'.repeat(100), true, 200],
    ['chunked over the limit: 413', 'x'.repeat(5000), true, 413],
  ])('%s', async (_d, text, chunked, status) => {
    const echoBody = async (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
      let got = '';
      for await (const c of req) got += c;
      res.end(JSON.stringify({ got: got.length, length: req.headers['content-length'], te: req.headers['transfer-encoding'] ?? null }));
    };
    const srv = await startMiddlewareServer(createBuffering({ maxRequestBodyBytes: 1000 }, P), echoBody);
    const res = await httpRequest(srv.port, { method: 'POST', body: chunked ? Readable.from([text.slice(0, 50), text.slice(50)]) : text }).catch(
      (err: Error) => ({ status: -1, text: err.message }),
    );
    expect(res.status, res.text).toBe(status);
    if (status === 200) expect(JSON.parse(res.text)).toEqual({ got: text.length, length: String(text.length), te: null });
  });
});

describe('chain', () => {
  const cfg = (middlewares: Record<string, unknown>) => ({ entryPoints: {}, http: { middlewares } }) as unknown as Config;
  it.each([
    ['a chain of two', { c: { chain: { middlewares: ['a', 'b'] } }, a: { addPrefix: { prefix: '/a' } }, b: { addPrefix: { prefix: '/b' } } }, 'c', null],
    ['a cycle', { c: { chain: { middlewares: ['d'] } }, d: { chain: { middlewares: ['c'] } } }, 'c', 'chain cycle'],
    ['itself', { c: { chain: { middlewares: ['c'] } } }, 'c', 'chain cycle'],
    ['a missing member', { c: { chain: { middlewares: ['nope'] } } }, 'c', 'does not exist'],
    ['a broken member', { c: { chain: { middlewares: ['bad'] } }, bad: { ipAllowList: { sourceRange: ['x'] } } }, 'c', 'is broken'],
  ])('%s', (_d, middlewares, name, problem) => {
    const built = buildMiddlewares(cfg(middlewares), {}).wrappers.get(name);
    if (problem === null) expect(typeof built).toBe('function');
    else {
      expect(built).toBeInstanceOf(GatehouseError);
      expect((built as GatehouseError).code).toBe('MIDDLEWARE_CONFIG');
      expect((built as GatehouseError).message).toContain(problem);
    }
  });

  it('applies members in order', async () => {
    const { wrappers } = buildMiddlewares(
      cfg({ c: { chain: { middlewares: ['a', 'b'] } }, a: { addPrefix: { prefix: '/a' } }, b: { addPrefix: { prefix: '/b' } } }),
      {},
    );
    const srv = await startMiddlewareServer(wrappers.get('c') as import('../http/middlewares.js').Wrapper);
    // a runs first, then b puts its prefix before a's result
    expect(JSON.parse((await httpRequest(srv.port, { path: '/x' })).text).url).toBe('/b/a/x');
  });
});
