// The built-in middlewares end to end: a real gatehouse process, real upstreams, an htpasswd file made by the real
// `htpasswd` tool when it is installed (else the committed fixture it made), a small forwardAuth server.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, stopAllGatehouses, type GatehouseProcess } from '../helpers/gatehouse-process.js';
import { httpRequest } from '../helpers/raw-http.js';
import { closeAllUpstreams, startEchoUpstream, startHttpUpstream, type EchoReply, type HttpUpstream } from '../helpers/upstreams.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/htpasswd/users.htpasswd', import.meta.url));
const basic = (user: string, pw: string) => `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}`;

/** An htpasswd file from the real tool when present: the format the parser must read is the one it writes today. */
function htpasswdFile(dir: string): string {
  try {
    const file = join(dir, 'users.htpasswd');
    execFileSync('htpasswd', ['-cbB', '-C', '5', file, 'alice', 'alice-secret'], { stdio: 'ignore', timeout: 5_000 });
    execFileSync('htpasswd', ['-bm', file, 'bob', 'bob-secret'], { stdio: 'ignore', timeout: 5_000 });
    return file;
  } catch {
    return FIXTURE;
  }
}

let gh: GatehouseProcess;
let echo: HttpUpstream;
let auth: HttpUpstream;
let big: HttpUpstream;
let dir: string;
const page = 'gatehouse compresses this text. '.repeat(200);
/** 3 MiB that do not compress: zlib's output is as large as its input, so the client's socket fills and drains. */
const noise = randomBytes(3 * 1024 * 1024);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-mw-'));
  echo = await startEchoUpstream();
  big = await startHttpUpstream((req, res) => {
    if (req.url === '/noise') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': noise.length });
      res.end(noise);
      return;
    }
    const text = req.url === '/small' ? 'tiny' : page;
    res.writeHead(200, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
  // An auth service: "let-me-in" passes with a user header; anything else is sent to a login page.
  auth = await startHttpUpstream((req, res) => {
    if (req.headers['x-token'] === 'let-me-in') {
      res.writeHead(204, { 'remote-user': 'alice', 'x-ignored': 'x' });
      res.end();
      return;
    }
    const body = JSON.stringify({ uri: req.headers['x-forwarded-uri'], method: req.headers['x-forwarded-method'], host: req.headers['x-forwarded-host'] });
    res.writeHead(302, { location: 'https://login.test/', 'set-cookie': 'flow=1', 'content-type': 'application/json' });
    res.end(body);
  });
  const svc = (url: string) => ({ loadBalancer: { servers: [{ url }] } });
  gh = await startGatehouse({
    log: { accessLog: false },
    entryPoints: { web: { address: '127.0.0.1:0' } },
    http: {
      routers: {
        basic: { rule: 'Host(`basic.test`)', service: 'echo', middlewares: ['auth'] },
        fwd: { rule: 'Host(`fwd.test`)', service: 'echo', middlewares: ['sso'] },
        allow: { rule: 'Host(`allow.test`)', service: 'echo', middlewares: ['lanOnly'] },
        limited: { rule: 'Host(`limit.test`)', service: 'echo', middlewares: ['limit'] },
        zip: { rule: 'Host(`zip.test`)', service: 'big', middlewares: ['zip'] },
        strip: { rule: 'Host(`strip.test`)', service: 'echo', middlewares: ['api'] },
        broken: { rule: 'Host(`broken.test`)', service: 'echo', middlewares: ['badRange'] },
      },
      services: { echo: svc(echo.url), big: svc(big.url) },
      middlewares: {
        auth: { basicAuth: { usersFile: htpasswdFile(dir), removeHeader: true } },
        sso: { forwardAuth: { address: `${auth.url}/verify`, authResponseHeaders: ['Remote-User'] } },
        lanOnly: { ipAllowList: { sourceRange: ['10.0.0.0/8'], ipStrategy: { depth: 1 } } },
        limit: { rateLimit: { average: 5, period: '1s', burst: 2 } },
        zip: { compress: {} },
        api: { stripPrefix: { prefixes: ['/api'] } },
        badRange: { ipAllowList: { sourceRange: ['10.0.0.0/99'] } },
      },
    },
  });
});
afterAll(async () => {
  await stopAllGatehouses();
  await closeAllUpstreams();
  rmSync(dir, { recursive: true, force: true });
});

const get = (host: string, opts: Parameters<typeof httpRequest>[1] = {}) => httpRequest(gh.ports['web']!, { host, ...opts });

describe('basicAuth', () => {
  it.each([
    ['bcrypt user', basic('alice', 'alice-secret'), 200],
    ['apr1 user', basic('bob', 'bob-secret'), 200],
    ['wrong password', basic('alice', 'nope'), 401],
    ['unknown user', basic('eve', 'alice-secret'), 401],
  ])('%s → %i', async (_d, authorization, status) => {
    const res = await get('basic.test', { headers: { authorization } });
    expect(res.status).toBe(status);
    if (status === 200) expect((JSON.parse(res.text) as EchoReply).headers.authorization).toBeUndefined();
    else expect(res.headers['www-authenticate']).toBe('Basic realm="gatehouse"');
  });

  it('lets a CA fetch an ACME challenge without credentials', async () => {
    // A sane token (base64url, 16+ characters): anything else on that path is answered 404 before any router.
    const path = '/.well-known/acme-challenge/evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA';
    const res = await get('basic.test', { path });
    expect(res.status).toBe(200);
    expect((JSON.parse(res.text) as EchoReply).url).toBe(path);
  });
});

describe('forwardAuth', () => {
  it('passes on 2xx with the configured headers, replacing a spoofed one', async () => {
    const res = await get('fwd.test', { path: '/app', headers: { 'x-token': 'let-me-in', 'remote-user': 'admin' } });
    expect(res.status).toBe(200);
    const seen = JSON.parse(res.text) as EchoReply;
    expect(seen.headers['remote-user']).toBe('alice');
    expect(seen.headers['x-ignored']).toBeUndefined();
  });

  it('returns any other answer to the client as is, and told the auth service about the request', async () => {
    const res = await get('fwd.test', { path: '/app?x=1', method: 'DELETE', headers: { 'x-token': 'wrong' } });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('https://login.test/');
    expect(res.headers['set-cookie']).toEqual(['flow=1']);
    expect(JSON.parse(res.text)).toEqual({ uri: '/app?x=1', method: 'DELETE', host: 'fwd.test' });
    expect(echo.requests.some((r) => r.headers.host === 'fwd.test' && r.method === 'DELETE')).toBe(false);
  });
});

describe('ipAllowList', () => {
  it('ignores a spoofed X-Forwarded-For from an untrusted client', async () => {
    expect((await get('allow.test', { headers: { 'x-forwarded-for': '10.9.9.9' } })).status).toBe(403);
  });
});

describe('rateLimit', () => {
  it('refuses past the burst with Retry-After, and lets the client in again once tokens refill', async () => {
    const statuses: number[] = [];
    let retryAfter: string | undefined;
    for (let i = 0; i < 4; i++) {
      const res = await get('limit.test');
      statuses.push(res.status);
      if (res.status === 429) retryAfter = res.headers['retry-after'] as string;
    }
    expect(statuses.slice(0, 2)).toEqual([200, 200]);
    expect(statuses).toContain(429);
    expect(retryAfter).toBe('1');
    await new Promise((r) => setTimeout(r, 450)); // 5/s: two tokens back after 400 ms
    expect((await get('limit.test')).status).toBe(200);
  });
});

describe('compress', () => {
  it.each([
    ['gzip', 'gzip', '/', 'gzip'],
    ['br preferred on a tie', 'gzip, br', '/', 'br'],
    ['small bodies skipped', 'gzip, br', '/small', undefined],
  ])('%s', async (_d, accept, path, encoding) => {
    const res = await get('zip.test', { path, headers: { 'accept-encoding': accept } });
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBe(encoding);
    const text = (encoding === 'gzip' ? gunzipSync(res.body) : encoding === 'br' ? brotliDecompressSync(res.body) : res.body).toString();
    expect(text).toBe(path === '/small' ? 'tiny' : page);
  });

  // On Node 24 a compressed body larger than the socket's buffer stalled for good: Node ≥ 22 emits a response's
  // 'drain' only when its writableLength is 0, and compress used to add zlib's queue to it.
  it.each([['gzip'], ['br']])('a 3 MiB body that does not compress arrives whole (%s), with backpressure', async (encoding) => {
    const res = await get('zip.test', { path: '/noise', headers: { 'accept-encoding': encoding }, timeoutMs: 15_000 });
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBe(encoding);
    const body = encoding === 'gzip' ? gunzipSync(res.body) : brotliDecompressSync(res.body);
    expect(body.equals(noise)).toBe(true);
  });
});

describe('stripPrefix through the forwarder', () => {
  it('sends the stripped path and our X-Forwarded-Prefix, not the client\'s forged one', async () => {
    const res = await get('strip.test', { path: '/api/users?id=7', headers: { 'x-forwarded-prefix': '/forged', 'x-forwarded-for': '6.6.6.6' } });
    const seen = JSON.parse(res.text) as EchoReply;
    expect(seen.url).toBe('/users?id=7');
    expect(seen.headers['x-forwarded-prefix']).toBe('/api');
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
  });
});

describe('a broken middleware', () => {
  it('disables its router with a MIDDLEWARE_CONFIG message; the others serve', async () => {
    expect((await get('broken.test')).status).toBe(404);
    const line = gh.logs.find((l) => JSON.stringify(l).includes('MIDDLEWARE_CONFIG'));
    expect(line, JSON.stringify(gh.logs.slice(0, 10))).toBeDefined();
    expect(JSON.stringify(line)).toContain('/http/middlewares/badRange/ipAllowList/sourceRange/0');
  });
});
