// `gatehouse import-traefik` end to end: real-world shaped Traefik configs (test/fixtures/traefik) converted by the
// real CLI, the output accepted by `gatehouse check`, then served by a real gatehouse process whose converted routers
// send live requests to real upstreams. The only edits to the converted JSON are what a test machine needs: loopback
// port-0 addresses, the upstreams' addresses, and no public ACME CA.
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runGatehouseCli, startGatehouse, stopAllGatehouses, type CliResult } from '../helpers/gatehouse-process.js';
import { httpRequest } from '../helpers/raw-http.js';
import { closeAllUpstreams, startHttpUpstream, type HttpUpstream } from '../helpers/upstreams.js';
import { BACKEND_FINGERPRINT, closeAllTlsBackends, startTlsBackend } from '../helpers/tls-backend.js';
import type { Config } from '../../src/config/index.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/traefik/', import.meta.url));
const dirs: string[] = [];


afterEach(async () => {
  await stopAllGatehouses();
  await closeAllUpstreams();
  await closeAllTlsBackends();
});
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** A fresh copy of a fixture directory, so relative paths (certificates, provider files) resolve as they would. */
async function fixture(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `gatehouse-traefik-${name}-`));
  dirs.push(dir);
  await cp(join(FIXTURES, name), dir, { recursive: true });
  return dir;
}

async function importTraefik(args: string[]): Promise<CliResult> {
  return runGatehouseCli(['import-traefik', ...args]);
}

/** Converts, checks the exit code and the listed drops, runs `gatehouse check` on the output, returns the JSON. */
async function convertAndCheck(dir: string, staticFile: string, expectDropped: string[]): Promise<Config> {
  const out = join(dir, 'gatehouse.json');
  const res = await importTraefik([join(dir, staticFile), '--out', out]);
  const dropped = res.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('note: ') && !l.startsWith('gatehouse: '));
  expect(dropped.map((l) => l.slice(0, l.indexOf(': ')))).toEqual(expectDropped);
  expect(res.code, res.stderr).toBe(expectDropped.length > 0 ? 2 : 0);
  // An imported dns-01 resolver reads lego's variables (the fixture's Cloudflare token).
  const check = await runGatehouseCli(['check', '--config', out], { env: { CF_DNS_API_TOKEN: 'imported-token' } });
  expect(check.code, check.stderr).toBe(0);
  return JSON.parse(await readFile(out, 'utf8')) as Config;
}

/** An upstream that answers with its service's name and what it saw. */
async function namedUpstream(name: string): Promise<HttpUpstream> {
  return startHttpUpstream((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ service: name, url: req.url, host: req.headers.host }));
  });
}

/**
 * The test machine's edits: every entry point on 127.0.0.1:0, every HTTP service's servers → one real upstream
 * per service, no ACME (no public CA from tests), state and certificate directories in the fixture copy.
 */
async function localize(config: Config, dir: string): Promise<Config> {
  for (const ep of Object.values(config.entryPoints)) ep.address = '127.0.0.1:0';
  for (const [name, svc] of Object.entries(config.http?.services ?? {})) {
    if (svc.loadBalancer) {
      svc.loadBalancer.servers = [{ url: (await namedUpstream(name)).url }];
      delete svc.loadBalancer.healthCheck;
    }
  }
  delete config.certificateResolvers;
  for (const router of Object.values(config.http?.routers ?? {})) if (router.tls) router.tls = {};
  // The harness waits for info lines ("gatehouse started", the ports); a fixture may set a quieter level.
  config.log = { ...config.log, level: 'info' };
  config.stateDir = join(dir, 'state');
  config.tls ??= {};
  config.tls.certsDir = join(dir, 'certs-dir');
  await mkdir(join(dir, 'certs-dir'), { recursive: true });
  for (const pair of config.tls.certificates ?? []) {
    pair.certFile = join(dir, pair.certFile);
    pair.keyFile = join(dir, pair.keyFile);
  }
  return config;
}

interface HttpsResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  subject: string;
}

/** One HTTPS request with SNI `host`, certificate not verified (the default or a fixture certificate), bounded. */
function https(port: number, host: string, path: string, headers: Record<string, string> = {}): Promise<HttpsResult> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, path, servername: host, headers: { host, ...headers }, rejectUnauthorized: false, agent: false, timeout: 10_000 },
      (res) => {
        let body = '';
        const subject = String((res.socket as import('node:tls').TLSSocket).getPeerCertificate().subject?.CN ?? '');
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, subject }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('no response within 10 s')));
    req.on('error', reject);
    req.end();
  });
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('import-traefik: homelab single-file YAML (tlsChallenge resolver, https redirect, basicAuth)', () => {
  it('converts, lists the dashboard it cannot carry over, and serves the basicAuth router', async () => {
    const dir = await fixture('homelab');
    const config = await convertAndCheck(dir, 'traefik.yml', ['api', 'http.routers.dashboard.service']);
    expect(config.certificateResolvers).toEqual({ letsencrypt: { acme: { email: 'admin@home.example', caServer: 'letsencrypt', challenges: ['tls-alpn-01'] } } });
    expect(config.http?.routers?.['homeassistant']?.tls).toEqual({ certResolver: 'letsencrypt' });

    const allowed = await importTraefik([join(dir, 'traefik.yml'), '--allow-dropped']);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(JSON.parse(allowed.stdout)).toEqual(config);

    const gh = await startGatehouse(await localize(config, dir));
    const redirect = await httpRequest(gh.ports['web']!, { host: 'ha.home.example', path: '/lovelace' });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.location).toBe(`https://ha.home.example:${gh.ports['websecure']}/lovelace`);

    const denied = await https(gh.ports['websecure']!, 'ha.home.example', '/');
    expect(denied.status).toBe(401);
    const ok = await https(gh.ports['websecure']!, 'ha.home.example', '/api/states', { authorization: basic('bob', 'bob-secret') });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ service: 'homeassistant', url: '/api/states', host: 'ha.home.example' });
    expect(ok.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    expect(ok.headers['x-frame-options']).toBe('DENY');

    const media = await https(gh.ports['websecure']!, 'media.home.example', '/web/index.html');
    expect(JSON.parse(media.body)).toMatchObject({ service: 'jellyfin', url: '/web/index.html' });
  });
});

describe('import-traefik: TOML, Traefik v2 rules', () => {
  it('converts v2 rules and serves them: several hosts, HostRegexp and path placeholders, Headers, ipWhiteList', async () => {
    const dir = await fixture('toml-v2');
    const config = await convertAndCheck(dir, 'traefik.toml', []);
    expect(config.http?.routers?.['apps']?.rule).toBe('HostRegexp(`^[a-z0-9-]+\\.apps\\.example\\.org$`) && PathRegexp(`^/api/v[0-9]+`)');
    expect(config.log).toEqual({ level: 'warn', accessLog: true });

    const gh = await startGatehouse(await localize(config, dir));
    const port = gh.ports['websecure']!;
    const toHttps = await httpRequest(gh.ports['web']!, { host: 'www.example.org', path: '/post/1' });
    expect(toHttps.status).toBe(301);
    expect(toHttps.headers.location).toBe('https://www.example.org/post/1');

    const blog = await https(port, 'www.example.org', '/post/1');
    expect(JSON.parse(blog.body)).toMatchObject({ service: 'blog', url: '/post/1' });
    expect(blog.headers['set-cookie']?.[0]).toMatch(/^blog_srv=/);

    const app = await https(port, 'billing.apps.example.org', '/api/v2/invoices?id=7');
    expect(app.status).toBe(200);
    expect(JSON.parse(app.body)).toMatchObject({ service: 'apps', url: '/invoices?id=7' });
    const noVersion = await https(port, 'billing.apps.example.org', '/api/latest/invoices');
    expect(noVersion.status).toBe(404);

    const canary = await https(port, 'example.org', '/?debug=on', { 'x-canary': '1' });
    expect(['blog', 'blog-next']).toContain(JSON.parse(canary.body).service);
  });
});

describe('import-traefik: directory provider with several dynamic files', () => {
  const DROPPED = [
    'providers.docker',
    'http.middlewares.geoblock.plugin',
    'tls.options.modern',
    'http.routers.grafana.middlewares',
    'http.routers.wiki.middlewares',
  ];

  it('exits 2 listing every dropped piece with its reason; --allow-dropped exits 0; the rest serves', async () => {
    const dir = await fixture('directory');
    const res = await importTraefik([join(dir, 'traefik.yml')]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('http.middlewares.geoblock.plugin: plugins are not supported');
    expect(res.stderr).toContain('http.routers.grafana.middlewares: middleware authelia@docker is from the docker provider, which is not imported');
    // dns-01 carries over (issue 18), its token from lego's own variable.
    expect(res.stderr).toContain('note: certificatesResolvers.cloudflare.acme.dnsChallenge.provider: the API token from lego\'s variable CF_DNS_API_TOKEN');
    expect(res.stderr).toContain('note: certificatesResolvers.le.acme.storage: not read');
    expect(res.stderr).toMatch(/5 item\(s\) of the Traefik config did not carry over.*--allow-dropped/);
    expect((await importTraefik([join(dir, 'traefik.yml'), '--allow-dropped'])).code).toBe(0);

    const config = await convertAndCheck(dir, 'traefik.yml', DROPPED);
    expect(Object.keys(config.http?.routers ?? {}).sort()).toEqual(['nextcloud', 'shop']);
    expect(config.entryPoints['websecure']).toEqual({ address: ':443', tls: {}, forwardedHeaders: { trustedIPs: ['10.0.0.1'] }, timeouts: { request: '60s', idle: '180s' } });
    expect(config.tls).toEqual({ options: { minVersion: 'TLSv1.2' }, defaultCertificate: { onUnknownName: 'refuse' } });

    const local = await localize(config, dir);
    // sniStrict: no certificate can be obtained offline, so the default one must serve for the live request.
    delete local.tls?.defaultCertificate;
    const gh = await startGatehouse(local);
    const dav = await https(gh.ports['websecure']!, 'cloud.example.net', '/.well-known/caldav');
    expect(dav.status).toBe(200);
    expect(JSON.parse(dav.body)).toMatchObject({ service: 'nextcloud', url: '/remote.php/dav/' });
    const shop = await https(gh.ports['websecure']!, 'shop.example.net', '/cart');
    expect(JSON.parse(shop.body)).toMatchObject({ service: 'shop', url: '/cart' });
    const grafana = await https(gh.ports['websecure']!, 'grafana.example.net', '/');
    expect(grafana.status).toBe(404);
  });
});

describe("import-traefik: field note 000's production proxy", () => {
  it('serves www with its own certificate, hands *.stage HTTP to the test proxy and passes *.stage TLS through', async () => {
    const dir = await fixture('fieldnote-000');
    const config = await convertAndCheck(dir, 'traefik.yml', []);
    expect(config.tcp).toEqual({
      routers: { 'stage-tls': { rule: 'HostSNIRegexp(`^.+\\.stage\\.example\\.com$`)', entryPoints: ['websecure'], service: 'test-proxy-tls' } },
      services: { 'test-proxy-tls': { loadBalancer: { servers: [{ address: '10.0.0.50:443' }] } } },
    });

    const testProxy = await startTlsBackend((socket) => socket.on('data', (d: Buffer) => socket.write(d)));
    const local = await localize(config, dir);
    local.tcp!.services!['test-proxy-tls']!.loadBalancer!.servers = [{ address: testProxy.address }];
    const gh = await startGatehouse(local);

    const www = await https(gh.ports['websecure']!, 'www.example.com', '/');
    expect(www.subject).toBe('www.example.com');
    expect(JSON.parse(www.body)).toMatchObject({ service: 'www' });
    const wwwPlain = await httpRequest(gh.ports['web']!, { host: 'example.com', path: '/a' });
    expect(wwwPlain.status).toBe(301);

    // The test proxy's own http-01 token goes through to it (field note 000), the Host header kept.
    const token = '/.well-known/acme-challenge/LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0';
    const stageHttp = await httpRequest(gh.ports['web']!, { host: 'app1.stage.example.com', path: token });
    expect(JSON.parse(stageHttp.text)).toMatchObject({ service: 'test-proxy-http', url: token, host: 'app1.stage.example.com' });

    // Passthrough: the client sees the test proxy's own certificate, and its bytes come back through it.
    const echoed = await new Promise<{ fingerprint: string; data: string }>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port: gh.ports['websecure']!, servername: 'app1.stage.example.com', rejectUnauthorized: false, timeout: 5_000 }, () => {
        const fingerprint = s.getPeerCertificate().fingerprint256;
        s.once('data', (d: Buffer) => {
          resolve({ fingerprint, data: d.toString() });
          s.destroy();
        });
        s.write('hello test proxy');
      });
      s.on('timeout', () => s.destroy(new Error('no echo within 5 s')));
      s.on('error', reject);
    });
    expect(echoed).toEqual({ fingerprint: BACKEND_FINGERPRINT, data: 'hello test proxy' });
  });
});

describe('import-traefik: unreadable input', () => {
  it.each([
    ['a YAML syntax error names file and line', 'bad.yml', 'entryPoints:\n  web:\n    address: ":80"\n   bad: [\n', /bad\.yml:4:\d+: YAML: /],
    ['a TOML syntax error names file and line', 'bad.toml', '[entryPoints.web]\naddress = ":80"\naddress = ":81"\n', /bad\.toml:3:\d+: TOML: /],
    ['an unknown extension', 'traefik.json', '{}', /unknown file type/],
  ])('%s (exit 1)', async (_d, name, text, message) => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-traefik-bad-'));
    dirs.push(dir);
    await writeFile(join(dir, name), text);
    const res = await importTraefik([join(dir, name)]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(message);
    expect(res.stdout).toBe('');
  });

  it('a provider directory that does not exist (exit 1)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-traefik-bad-'));
    dirs.push(dir);
    await writeFile(join(dir, 'traefik.yml'), 'entryPoints:\n  web:\n    address: ":80"\nproviders:\n  file:\n    directory: /nonexistent/conf.d\n');
    const res = await importTraefik([join(dir, 'traefik.yml')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/\/nonexistent\/conf\.d: cannot read: ENOENT/);
  });
});
