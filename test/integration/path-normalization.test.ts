/**
 * One path for the router and the backend, through a real gatehouse over raw sockets: every way of spelling
 * `/admin` that a backend would decode to `/admin` gets the protected `/admin` router (whose allow list refuses
 * this client: 403), or a 400 for what stays ambiguous, and never the catch-all router that forwards to the same
 * backend. What is forwarded is the normalized path; an absolute-form target is routed on its own authority.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, stopAllGatehouses, type GatehouseProcess } from '../helpers/gatehouse-process.js';
import { rawExchange } from '../helpers/raw-http.js';
import { closeAllUpstreams, startEchoUpstream, type EchoReply, type HttpUpstream } from '../helpers/upstreams.js';

let gh: GatehouseProcess;
let echo: HttpUpstream;

beforeAll(async () => {
  echo = await startEchoUpstream();
  const svc = { loadBalancer: { servers: [{ url: echo.url }] } };
  gh = await startGatehouse({
    log: { accessLog: false },
    entryPoints: {
      web: { address: '127.0.0.1:0' },
      lenient: { address: '127.0.0.1:0', http: { encodedCharacters: { allowEncodedSlash: true } } },
    },
    http: {
      routers: {
        // The protected router: the client (127.0.0.1) is not in its allow list.
        admin: { rule: 'PathPrefix(`/admin`)', service: 'echo', middlewares: ['lanOnly'] },
        secure: { rule: 'Host(`secure.test`) && Path(`/panel`)', service: 'echo', middlewares: ['lanOnly'] },
        spaced: { rule: 'PathPrefix(`/foo bar`)', respond: { body: 'spaced\n' } },
        cafe: { rule: 'Path(`/café`)', respond: { body: 'cafe\n' } },
        strip: { rule: 'PathPrefix(`/strip`)', service: 'echo', middlewares: ['stripIt'] },
        moved: { rule: 'PathPrefix(`/moved`)', redirect: { location: 'https://new.test{uri}', status: 308 } },
        catchAll: { rule: 'PathPrefix(`/`)', service: 'echo', priority: 1 },
      },
      services: { echo: svc },
      middlewares: {
        lanOnly: { ipAllowList: { sourceRange: ['10.0.0.0/8'] } },
        stripIt: { stripPrefix: { prefixes: ['/strip'] } },
      },
    },
  });
});

afterAll(async () => {
  await stopAllGatehouses();
  await closeAllUpstreams();
});

interface Answer {
  status: number | undefined;
  head: string;
  body: string;
}

/** Sends one request with exactly `target` in its request line (no client-side normalization). */
async function send(target: string, opts: { host?: string; entryPoint?: string; method?: string } = {}): Promise<Answer> {
  const head = `${opts.method ?? 'GET'} ${target} HTTP/1.1\r\nHost: ${opts.host ?? 'app.test'}\r\nConnection: close\r\n\r\n`;
  const r = await rawExchange(gh.ports[opts.entryPoint ?? 'web']!, (write) => void write(Buffer.from(head, 'latin1')), 5_000);
  const text = r.data.toString('utf8');
  const split = text.indexOf('\r\n\r\n');
  return { status: r.status, head: text.slice(0, split), body: text.slice(split + 4) };
}

const reachedBackend = (a: Answer): EchoReply | undefined => (a.status === 200 && a.body.startsWith('{') ? (JSON.parse(a.body) as EchoReply) : undefined);

describe('a request that tries to skip the protected router gets it (403) or a 400, never the catch-all', () => {
  it.each([
    ['the plain path', '/admin', 403],
    ['an unreserved character encoded', '/%61dmin', 403],
    ['every character encoded', '/%61%64%6D%69%6E/users', 403],
    ['lower-case hex', '/%61%64%6d%69%6e', 403],
    ['a dot-dot segment', '/x/../admin', 403],
    ['dot-dot beyond the root', '/../admin', 403],
    ['a dot segment', '/./admin', 403],
    ['a duplicate slash', '//admin', 403],
    ['dot segments inside', '/admin/./x/../y', 403],
    ['encoded dot-dot', '/x/%2e%2e/admin', 403],
    ['upper-case encoded dot-dot', '/x/%2E%2E/admin', 403],
    ['half-encoded dot-dot', '/x/.%2e/admin', 403],
    ['an encoded dot segment', '/%2e/admin', 403],
    ['an encoded slash', '/admin%2Fusers', 400],
    ['an encoded slash around dot-dot', '/x%2F..%2Fadmin', 400],
    ['dot-dot then an encoded slash', '/x/..%2fadmin', 400],
    ['a raw backslash', '/x\\..\\admin', 400],
    ['an encoded backslash', '/x%5C..%5Cadmin', 400],
    ['an encoded NUL', '/admin%00', 400],
    ['a fragment', '/admin#x', 400],
    ['a malformed encoding', '/adm%in', 400],
    ['an overlong UTF-8 slash', '/x%C0%AF..%C0%AFadmin', 400],
    ['absolute-form', 'http://app.test/admin', 403],
    ['absolute-form with dot segments', 'http://app.test/x/../admin', 403],
    ['absolute-form, upper-case scheme', 'HTTP://app.test/%61dmin', 403],
  ])('%s: %s → %i', async (_d, target, status) => {
    const a = await send(target);
    expect(a.status, `${a.head}\n${a.body}`).toBe(status);
    expect(reachedBackend(a)).toBeUndefined();
  });

  it.each([
    ['the Host header and the path', '/panel', 'secure.test'],
    ['an encoded path', '/%70anel', 'secure.test'],
    ['absolute-form: its authority, not the Host header', 'http://secure.test/panel', 'elsewhere.test'],
    ['absolute-form with a port', 'http://SECURE.test:8080/./panel', 'elsewhere.test'],
  ])('Host and path together: %s', async (_d, target, host) => {
    const a = await send(target, { host });
    expect(a.status, a.body).toBe(403);
  });

  it('a 400 says why, and the connection closes', async () => {
    const a = await send('/admin%2Fusers');
    expect(a.body).toBe('400 Bad Request: encoded slash (%2F) in the path\n');
    expect(a.head.toLowerCase()).toContain('connection: close');
    await gh.waitForLog((l) => l.msg === 'request target refused' && l['reason'] === 'encoded slash (%2F) in the path');
  });
});

describe('what the backend receives is the path the routers matched', () => {
  it.each([
    ['a plain path, untouched', '/app/items?id=7', '/app/items?id=7'],
    ['unreserved decoded, dot segments and slashes resolved; the query kept as sent', '/app//%69tems/./x/../y?q=%2e%2e', '/app/items/y?q=%2e%2e'],
    ['other encodings upper-cased', '/app/a%2ab', '/app/a%2Ab'],
    ['a space stays encoded', '/app/a%20b', '/app/a%20b'],
    ['characters a path may not hold raw are encoded', '/app/a"b', '/app/a%22b'],
    ['absolute-form becomes origin-form', 'http://app.test/app/x?y=1', '/app/x?y=1'],
    ['absolute-form without a path', 'http://app.test?y=1', '/?y=1'],
  ])('%s: %s → %s', async (_d, target, forwarded) => {
    const a = await send(target);
    const seen = reachedBackend(a);
    expect(seen, a.body).toBeDefined();
    expect(seen!.url).toBe(forwarded);
  });

  it('absolute-form: the backend gets the target\'s authority as its Host, once', async () => {
    const seen = reachedBackend(await send('http://App.Test:81/app', { host: 'other.test' }))!;
    expect(seen.headers.host).toBe('App.Test:81');
    expect(seen.rawHeaders.filter((h) => h.toLowerCase() === 'host')).toHaveLength(1);
  });

  it.each([
    ['absolute-form with user information', 'http://user@app.test/app', 400],
    ['another scheme', 'ftp://app.test/app', 400],
  ])('%s is refused', async (_d, target, status) => {
    expect((await send(target)).status).toBe(status);
  });

  it.each([
    ['a decoded space', '/foo%20bar/x', 'spaced\n'],
    ['UTF-8', '/caf%C3%A9', 'cafe\n'],
    ['UTF-8, lower-case hex', '/caf%c3%a9', 'cafe\n'],
  ])('rules match the decoded path (%s)', async (_d, target, body) => {
    const a = await send(target);
    expect(a.status).toBe(200);
    expect(a.body).toBe(body);
  });

  it('stripPrefix works on the decoded path and forwards it encoded again', async () => {
    const seen = reachedBackend(await send('/strip/caf%C3%A9/a%20b?x=1'))!;
    expect(seen.url).toBe('/caf%C3%A9/a%20b?x=1');
    expect(seen.headers['x-forwarded-prefix']).toBe('/strip');
  });

  it('a redirect carries the path encoded, as it came', async () => {
    const a = await send('/moved/caf%C3%A9/a%20b?x=1');
    expect(a.status).toBe(308);
    expect(a.head).toContain('location: https://new.test/moved/caf%C3%A9/a%20b?x=1');
  });

  it('OPTIONS * is not a path and reaches the routers as it is', async () => {
    const a = await send('*', { method: 'OPTIONS' });
    expect(a.status).not.toBe(400);
  });
});

describe('http.encodedCharacters per entry point', () => {
  it('allowEncodedSlash lets %2F through; it is no separator for routing and reaches the backend encoded', async () => {
    const refused = await send('/app/a%2Fb');
    expect(refused.status).toBe(400);
    const a = await send('/app/a%2fb', { entryPoint: 'lenient' });
    expect(reachedBackend(a)?.url).toBe('/app/a%2Fb');
    // `/admin%2Fx` is not under `/admin/`, yet PathPrefix(`/admin`) is a string prefix: the protected router.
    expect((await send('/admin%2Fx', { entryPoint: 'lenient' })).status).toBe(403);
  });
});
