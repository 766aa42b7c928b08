/**
 * The admin entry point (issue 9) in-process on real sockets: metrics after real requests (counters by router and
 * status class, the latency histogram), passthrough bytes, a file certificate's expiry, challenge decisions,
 * reloads, basic auth, escaping of hostile names, and that nothing listens when the section is absent.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect as h2Connect } from 'node:http2';
import { connect as tlsConnect } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { checkConfig, createGatehouse, type Gatehouse } from '../../src/api.js';
import { createLogger } from '../../src/log.js';
import { httpRequest, tryConnect } from '../helpers/raw-http.js';
import { closeAllTlsBackends, startTlsBackend, BACKEND_CA } from '../helpers/tls-backend.js';
import { closeAllUpstreams, startEchoUpstream, startHttpUpstream } from '../helpers/upstreams.js';

const FIXTURES = new URL('../fixtures/', import.meta.url);
const running: Gatehouse[] = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((g) => g.stop({ graceMs: 500 })));
  await closeAllUpstreams();
  await closeAllTlsBackends();
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'gatehouse-admin-'));
  dirs.push(d);
  return d;
}

/** Start a gatehouse from a config file (reloadable) in a fresh state directory; returns it and its admin port. */
async function start(config: Record<string, unknown>): Promise<{ gh: Gatehouse; admin: number; file: string }> {
  const dir = await tempDir();
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ stateDir: join(dir, 'state'), log: { level: 'silent' }, ...config }));
  const gh = createGatehouse({ config: file, logger: createLogger({ level: 'silent' }), env: {} });
  running.push(gh);
  await gh.start();
  return { gh, admin: gh.status().admin?.port ?? 0, file };
}

/** The samples of `/metrics` as `name{labels}` → value. */
async function scrape(port: number, headers: Record<string, string> = {}): Promise<Map<string, number>> {
  const res = await httpRequest(port, { path: '/metrics', headers });
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  const out = new Map<string, number>();
  for (const line of res.text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

const ADMIN = { address: '127.0.0.1:0' };

describe('admin entry point', () => {
  it('counts requests by router, service and status class, with a latency histogram', async () => {
    const echo = await startEchoUpstream();
    const { gh, admin } = await start({
      admin: ADMIN,
      entryPoints: { web: { address: '127.0.0.1:0' } },
      http: {
        routers: {
          app: { rule: 'Host(`app.test`)', service: 'echo' },
          gone: { rule: 'Host(`gone.test`)', respond: { status: 503 } },
        },
        services: { echo: { loadBalancer: { servers: [{ url: `http://127.0.0.1:${echo.port}` }] } } },
      },
    });
    const web = gh.addresses()['web']!.port;
    for (let i = 0; i < 3; i++) expect((await httpRequest(web, { host: 'app.test' })).status).toBe(200);
    expect((await httpRequest(web, { host: 'gone.test' })).status).toBe(503);
    expect((await httpRequest(web, { host: 'nobody.test' })).status).toBe(404);
    const m = await scrape(admin);
    expect(m.get('gatehouse_http_requests_total{router="app",service="echo",status_class="2xx"}')).toBe(3);
    expect(m.get('gatehouse_http_requests_total{router="gone",service="",status_class="5xx"}')).toBe(1);
    expect(m.get('gatehouse_http_requests_total{router="",service="",status_class="4xx"}')).toBe(1);
    expect(m.get('gatehouse_http_request_duration_seconds_count{router="app",service="echo"}')).toBe(3);
    expect(m.get('gatehouse_http_request_duration_seconds_bucket{router="app",service="echo",le="+Inf"}')).toBe(3);
    expect(m.get('gatehouse_http_request_duration_seconds_sum{router="app",service="echo"}')).toBeGreaterThan(0);
    // Buckets are cumulative: never decreasing with `le`.
    const buckets = [...m].filter(([k]) => k.startsWith('gatehouse_http_request_duration_seconds_bucket') && k.includes('router="app"')).map(([, v]) => v);
    expect(buckets.length).toBeGreaterThan(5);
    expect([...buckets].sort((a, b) => a - b)).toEqual(buckets);
    expect(m.get('gatehouse_upstream_up{service="echo",server="http://127.0.0.1:' + echo.port + '"}')).toBe(1);
    expect(m.get('gatehouse_open_connections{entry_point="web"}')).toBeGreaterThanOrEqual(0);
  });

  it('counts HTTP/2 requests like HTTP/1.1 ones', async () => {
    const dir = await tempDir();
    const cert = new URL('certs/wrong.pem', FIXTURES).pathname;
    const { gh, admin } = await start({
      admin: ADMIN,
      entryPoints: { websecure: { address: '127.0.0.1:0', tls: {} } },
      tls: { certificates: [{ certFile: cert, keyFile: cert }], certsDir: join(dir, 'none') },
      http: { routers: { h2app: { rule: 'Host(`right.example`)', respond: { status: 201, body: 'h2' } } } },
    });
    const port = gh.addresses()['websecure']!.port;
    const session = h2Connect(`https://127.0.0.1:${port}`, { ca: readFileSync(new URL('certs/ca.pem', FIXTURES)), servername: 'right.example' });
    try {
      for (let i = 0; i < 2; i++) {
        const status = await new Promise<number>((resolve, reject) => {
          const req = session.request({ ':path': '/', ':authority': 'right.example' });
          let code = 0;
          req.on('response', (h) => (code = Number(h[':status'])));
          req.on('error', reject);
          req.on('end', () => resolve(code));
          req.resume();
        });
        expect(status).toBe(201);
      }
    } finally {
      session.close();
    }
    let m = new Map<string, number>();
    for (let i = 0; i < 50 && m.get('gatehouse_http_requests_total{router="h2app",service="",status_class="2xx"}') !== 2; i++) {
      m = await scrape(admin);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(m.get('gatehouse_http_requests_total{router="h2app",service="",status_class="2xx"}')).toBe(2);
  });

  it('reports an upstream that fails its health check as down', async () => {
    const sick = await startHttpUpstream((req, res) => res.writeHead(req.url === '/health' ? 500 : 200).end());
    const { admin } = await start({
      admin: ADMIN,
      entryPoints: { web: { address: '127.0.0.1:0' } },
      http: {
        routers: { app: { rule: 'Host(`app.test`)', service: 'sick' } },
        services: { sick: { loadBalancer: { servers: [{ url: `http://127.0.0.1:${sick.port}` }], healthCheck: { path: '/health', interval: '100ms', timeout: '1s' } } } },
      },
    });
    const key = `gatehouse_upstream_up{service="sick",server="http://127.0.0.1:${sick.port}"}`;
    let value: number | undefined;
    for (let i = 0; i < 50 && value !== 0; i++) {
      value = (await scrape(admin)).get(key);
      if (value !== 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(value).toBe(0);
    const status = JSON.parse((await httpRequest(admin, { path: '/api/status' })).text) as { services: { name: string; servers: { up: boolean }[] }[] };
    expect(status.services.find((s) => s.name === 'sick')?.servers[0]?.up).toBe(false);
  });

  it('counts passthrough bytes by route, and shows a file certificate\'s expiry', async () => {
    const reply = Buffer.alloc(50_000, 'd');
    const backend = await startTlsBackend((socket) => {
      socket.once('data', () => socket.end(reply));
    });
    const dir = await tempDir();
    const { gh, admin } = await start({
      admin: ADMIN,
      entryPoints: { websecure: { address: '127.0.0.1:0', tls: {} } },
      tls: { certificates: [{ certFile: new URL('certs/wrong.pem', FIXTURES).pathname, keyFile: new URL('certs/wrong.pem', FIXTURES).pathname }], certsDir: join(dir, 'none') },
      tcp: {
        routers: { vm: { rule: 'HostSNI(`backend.test`)', service: 'vm' } },
        services: { vm: { loadBalancer: { servers: [{ address: backend.address }] } } },
      },
    });
    const port = gh.addresses()['websecure']!.port;
    const received = await new Promise<number>((resolve, reject) => {
      let n = 0;
      const s = tlsConnect({ host: '127.0.0.1', port, servername: 'backend.test', ca: BACKEND_CA }, () => s.write('ping'));
      s.on('data', (c: Buffer) => (n += c.length));
      s.on('end', () => resolve(n));
      s.on('error', reject);
      setTimeout(() => reject(new Error('no end within 5 s')), 5_000);
    });
    expect(received).toBe(reply.length);
    let m = new Map<string, number>();
    for (let i = 0; i < 50 && !m.has('gatehouse_passthrough_connections_total{router="vm",service="vm"}'); i++) {
      m = await scrape(admin);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(m.get('gatehouse_passthrough_connections_total{router="vm",service="vm"}')).toBe(1);
    // Down: the TLS records around the 50 000 bytes; up: the ClientHello, the client's handshake and "ping".
    expect(m.get('gatehouse_passthrough_bytes_total{router="vm",service="vm",direction="down"}')).toBeGreaterThan(reply.length);
    expect(m.get('gatehouse_passthrough_bytes_total{router="vm",service="vm",direction="up"}')).toBeGreaterThan(200);
    const notAfter = Date.parse('2046-11-18T13:20:27Z') / 1000;
    const source = new URL('certs/wrong.pem', FIXTURES).pathname;
    expect(m.get(`gatehouse_certificate_expiry_timestamp_seconds{name="right.example",source="${source}"}`)).toBe(notAfter);
    const status = JSON.parse((await httpRequest(admin, { path: '/api/status' })).text) as { certificates: { names: string[]; daysLeft: number }[]; tcpRouters: { name: string }[] };
    const right = status.certificates.find((c) => c.names.includes('right.example'));
    expect(right?.daysLeft).toBe(Math.floor((notAfter * 1000 - Date.now()) / 86_400_000));
    expect(status.tcpRouters.map((r) => r.name)).toEqual(['vm']);
  });

  it('counts challenge decisions and lists the last ones', async () => {
    const { gh, admin } = await start({ admin: ADMIN, entryPoints: { web: { address: '127.0.0.1:0' } } });
    const web = gh.addresses()['web']!.port;
    const token = 'A'.repeat(43);
    expect((await httpRequest(web, { method: 'POST', host: 'a.test', path: `/.well-known/acme-challenge/${token}` })).status).toBe(405);
    expect((await httpRequest(web, { host: 'a.test', path: `/.well-known/acme-challenge/${token}` })).status).toBe(404);
    expect((await httpRequest(web, { host: 'b.test', path: '/.well-known/acme-challenge/x' })).status).toBe(404);
    const m = await scrape(admin);
    expect(m.get('gatehouse_challenge_requests_total{challenge="http-01",decision="none"}')).toBe(3);
    const status = JSON.parse((await httpRequest(admin, { path: '/api/status' })).text) as { challenges: { name: string; status: number; detail?: string }[] };
    expect(status.challenges.map((c) => [c.name, c.status, c.detail])).toEqual([
      ['b.test', 404, 'not a token'],
      ['a.test', 404, undefined],
      ['a.test', 405, 'method not allowed'],
    ]);
  });

  it('counts reloads by result and times them', async () => {
    const { gh, admin, file } = await start({ admin: ADMIN, entryPoints: { web: { address: '127.0.0.1:0' } } });
    expect((await gh.reload()).ok).toBe(true);
    writeFileSync(file, '{ not json');
    expect((await gh.reload()).ok).toBe(false);
    const m = await scrape(admin);
    expect(m.get('gatehouse_config_reloads_total{result="success"}')).toBe(1);
    expect(m.get('gatehouse_config_reloads_total{result="failure"}')).toBe(1);
    expect(m.get('gatehouse_config_reload_duration_seconds_count{result="success"}')).toBe(1);
    expect(m.get('gatehouse_config_last_reload_success')).toBe(0);
  });

  it('follows reloads: a new address is bound and the old one closed, new users apply, a removed section closes it', async () => {
    const { gh, admin, file } = await start({ admin: ADMIN, entryPoints: { web: { address: '127.0.0.1:0' } } });
    const base = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    const reloadWith = async (adminSection: object | undefined): Promise<void> => {
      const { admin: _, ...rest } = base;
      writeFileSync(file, JSON.stringify({ ...rest, ...(adminSection && { admin: adminSection }) }));
      expect((await gh.reload()).ok).toBe(true);
    };
    const waitFor = async (what: () => boolean): Promise<void> => {
      for (let i = 0; i < 100 && !what(); i++) await new Promise((r) => setTimeout(r, 20));
      expect(what()).toBe(true);
    };
    await reloadWith({ address: '127.0.0.1:0', basicAuth: { users: ['bob:$apr1$oNBGy8oI$8v4b8s6zggo02DLTHiRI71'] } });
    await waitFor(() => gh.status().admin !== undefined && gh.status().admin!.port !== admin);
    const moved = gh.status().admin!.port;
    expect(await tryConnect(admin, 1_000)).toBe('refused');
    expect((await httpRequest(moved, { path: '/metrics' })).status).toBe(401);
    const m = await scrape(moved, { authorization: `Basic ${Buffer.from('bob:bob-secret').toString('base64')}` });
    expect(m.get('gatehouse_config_reloads_total{result="success"}')).toBe(1);
    await reloadWith(undefined);
    await waitFor(() => gh.status().admin === undefined);
    expect(await tryConnect(moved, 1_000)).toBe('refused');
  });

  it('asks for basic auth on every path when configured', async () => {
    const { admin } = await start({
      admin: { ...ADMIN, basicAuth: { users: ['bob:$apr1$oNBGy8oI$8v4b8s6zggo02DLTHiRI71'] } },
      entryPoints: { web: { address: '127.0.0.1:0' } },
    });
    for (const path of ['/', '/metrics', '/api/status']) {
      const refused = await httpRequest(admin, { path });
      expect(refused.status, path).toBe(401);
      expect(refused.headers['www-authenticate']).toBe('Basic realm="gatehouse admin"');
      const wrong = await httpRequest(admin, { path, headers: { authorization: `Basic ${Buffer.from('bob:nope').toString('base64')}` } });
      expect(wrong.status, path).toBe(401);
      const ok = await httpRequest(admin, { path, headers: { authorization: `Basic ${Buffer.from('bob:bob-secret').toString('base64')}` } });
      expect(ok.status, path).toBe(200);
    }
  });

  it.each([
    ['absent: only the entry point listens', undefined, 1],
    ['present: the entry point and the admin listen', ADMIN, 2],
  ])('is off by default (admin %s)', async (_, admin, listeners) => {
    const before = tcpServers();
    const { gh } = await start({ ...(admin && { admin }), entryPoints: { web: { address: '127.0.0.1:0' } } });
    expect(tcpServers() - before).toBe(listeners);
    expect(gh.status().admin === undefined).toBe(admin === undefined);
  });

  it('stays off, never open, when a basicAuth line cannot be used; gatehouse check names the line and a bad address', async () => {
    const before = tcpServers();
    const { gh } = await start({ admin: { ...ADMIN, basicAuth: { users: ['eve:plaintext'] } }, entryPoints: { web: { address: '127.0.0.1:0' } } });
    expect(tcpServers() - before).toBe(1);
    expect(gh.status().admin).toBeUndefined();
    const dir = await tempDir();
    const file = join(dir, 'check.json');
    writeFileSync(file, JSON.stringify({ admin: { address: 'localhost', basicAuth: { users: ['bob:$apr1$oNBGy8oI$8v4b8s6zggo02DLTHiRI71', 'eve:plaintext'] } }, entryPoints: { web: { address: ':0' } } }));
    const problems = checkConfig(file, {}).map((e) => [e.code, e.location.path]);
    expect(problems).toEqual([
      ['CONFIG_SCHEMA', '/admin/address'],
      ['MIDDLEWARE_CONFIG', '/admin/basicAuth/users/1'],
    ]);
  });

  it('escapes hostile router names, rules and errors on the status page', async () => {
    const { admin } = await start({
      admin: ADMIN,
      entryPoints: { web: { address: '127.0.0.1:0' } },
      http: {
        routers: {
          'x.y': { rule: 'Host(`<script>alert(1)</script>`) && Header(`a`, `"><img src=x onerror=alert(2)>`)', service: '<b>missing</b>' },
        },
      },
    });
    const page = await httpRequest(admin, { path: '/' });
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect(page.text).not.toContain('<script>');
    expect(page.text).not.toContain('<img');
    expect(page.text).not.toContain('<b>missing');
    expect(page.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page.text).toContain('&quot;&gt;&lt;img src=x onerror=alert(2)&gt;');
    // The router is disabled (its service does not exist) and the reason, which quotes the name, is escaped too.
    expect(page.text).toMatch(/disabled: [^<]*&lt;b&gt;missing&lt;\/b&gt;/);
  });
});

/** TCP listening sockets of this process (the control socket is a Unix socket, not counted). */
function tcpServers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;
}
