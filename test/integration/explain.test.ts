/**
 * `gatehouse explain` as an operator runs it: the built CLI on a real config file, real certificate files from
 * test/fixtures/certs in tls.certificates and in a certsDir, text and JSON output, and its exit codes.
 */
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runGatehouseCli, stopAllGatehouses } from '../helpers/gatehouse-process.js';

const CERTS = fileURLToPath(new URL('../fixtures/certs/', import.meta.url));
/** A real bcrypt line (test/fixtures/htpasswd): basicAuth must build for its router to serve. */
const ALICE = 'alice:$2y$05$ATUfPEA1myHNFpU6vq2aDeKShJJw.xCFt19ByRdXEZQ/OaarwFoIm';
const TOKEN = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-explain-'));
  await mkdir(join(dir, 'certs'));
  // wild.pem covers *.wild.example; it is found by scanning certsDir, not named in the config.
  await copyFile(join(CERTS, 'wild.pem'), join(dir, 'certs', 'wild.pem'));
});

afterAll(async () => {
  await stopAllGatehouses();
  await rm(dir, { recursive: true, force: true });
});

/** The config every test reads; `tls` and `extra` vary it. */
function config(extra: Record<string, unknown> = {}, onUnknownName: 'serve' | 'refuse' = 'serve'): object {
  return {
    stateDir: join(dir, 'state'),
    entryPoints: {
      web: { address: '127.0.0.1:8080', http: { redirections: { entryPoint: { to: 'websecure', port: 8443 } } } },
      internal: { address: '127.0.0.1:8081' },
      websecure: { address: '127.0.0.1:8443', tls: {} },
    },
    tls: {
      certsDir: join(dir, 'certs'),
      // wrong.pem's name says nothing: it holds right.example's certificate and key.
      certificates: [{ certFile: join(CERTS, 'wrong.pem'), keyFile: join(CERTS, 'wrong.pem') }],
      defaultCertificate: { onUnknownName },
    },
    http: {
      routers: {
        api: { rule: 'Host(`app.example`) && Path(`/api`)', priority: 100, service: 'app' },
        app: { rule: 'Host(`app.example`)', service: 'app', middlewares: ['auth', 'limit'] },
        ghost: { rule: 'Host(`app.example`) && PathPrefix(`/`)', priority: 50, service: 'nope' },
        late: { rule: 'Host(`app.example`)', priority: 1, service: 'app', middlewares: ['missing'] },
        other: { rule: 'Host(`other.example`)', priority: 10, service: 'canary' },
        right: { rule: 'Host(`right.example`) || Host(`a.wild.example`)', service: 'app', entryPoints: ['websecure'] },
      },
      middlewares: {
        auth: { basicAuth: { users: [ALICE] } },
        limit: { rateLimit: { average: 10 } },
      },
      services: {
        app: {
          loadBalancer: {
            servers: [{ url: 'http://127.0.0.1:9001' }, { url: 'http://127.0.0.1:9002', weight: 2 }],
            healthCheck: { path: '/health', interval: '10s' },
          },
        },
        v2: { loadBalancer: { servers: [{ url: 'http://127.0.0.1:9003' }] } },
        canary: { weighted: { services: [{ name: 'app', weight: 9 }, { name: 'v2', weight: 1 }] } },
      },
    },
    tcp: {
      routers: { vm: { rule: 'HostSNI(`vm.example`)', service: 'vm' } },
      services: { vm: { loadBalancer: { servers: [{ address: '127.0.0.1:9443' }] } } },
    },
    ...extra,
  };
}

const explain = (args: readonly string[], cfg: object | string = config()) => runGatehouseCli(['explain', ...args], { config: cfg });

describe('gatehouse explain URL', () => {
  it('tries routers by priority: names the Path that failed, the match with its middlewares and servers, a disabled router that would match', async () => {
    const res = await explain(['http://app.example/users', '--entry-point', 'internal']);
    expect(res.code, res.stderr).toBe(0);
    const out = res.stdout;
    // Order: api (100) is tried first and fails on its Path only; ghost (50) is disabled; app matches.
    expect(out.indexOf('1. api  priority 100')).toBeGreaterThan(-1);
    expect(out.indexOf('2. app  priority 19')).toBeGreaterThan(out.indexOf('1. api'));
    expect(out).toContain('✗ Path(`/api`): path "/users"');
    expect(out).not.toContain('✗ Host(`app.example`)');
    expect(out).toContain('✓ Host(`app.example`): host "app.example"');
    expect(out).toMatch(/2\. app .*← match/);
    expect(out).toContain('middlewares: auth (basicAuth) → limit (rateLimit)');
    expect(out).toContain('service: app (loadBalancer, roundRobin)');
    expect(out).toContain('http://127.0.0.1:9001  weight 1');
    expect(out).toContain('http://127.0.0.1:9002  weight 2');
    expect(out).toContain('health check: GET /health every 10s');
    expect(out).toMatch(/disabled \(would take this request\): ghost {2}priority 50: router "ghost" is disabled: service "nope" does not exist.*\[CONFIG_REFERENCE\]/);
    // A disabled router after the match would not take the request even if it were repaired.
    expect(out).toMatch(/disabled \(would match, after the match\): late {2}priority 1: router "late" is disabled: middleware "missing" does not exist/);
    expect(out.indexOf('): late')).toBeGreaterThan(out.indexOf('): ghost'));
    // The router after the match is listed as not tried.
    expect(out).toContain('not tried: other');
    // Its basicAuth is run on the request, which carries no credentials (issue 16: explain evaluates middlewares).
    expect(out).toContain('✗ auth (basicAuth): no Basic credentials (Authorization header): 401');
    expect(out).toContain('→ router "app", stopped by middleware "auth" (basicAuth): 401; service "app" (loadBalancer) is not reached');
  });

  it('lists the children of a weighted service', async () => {
    const res = await explain(['http://other.example/', '--entry-point', 'internal']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('service: canary (weighted)');
    expect(res.stdout).toMatch(/weight 9: app \(loadBalancer, roundRobin\)/);
    expect(res.stdout).toMatch(/weight 1: v2 \(loadBalancer, roundRobin\)/);
  });

  it('answers the ACME challenge path with the responder first: not redirected, the router\'s service without its middlewares', async () => {
    const res = await explain([`http://app.example:8080/.well-known/acme-challenge/${TOKEN}`]);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('entry point "web" (127.0.0.1:8080): plain HTTP entry point listening on port 8080');
    expect(res.stdout).toContain('ACME challenge responder (before the redirection and the routers)');
    expect(res.stdout).toContain('backend: router "app" matches: forwarded to its service "app" without its middlewares');
    expect(res.stdout).toContain('middlewares: skipped for the CA');
    expect(res.stdout).not.toContain('HTTPS redirection');
    expect(res.stdout).not.toMatch(/→ 30\d/);
  });

  it('exits 1 for a challenge nothing here can answer, and for a method a CA never uses', async () => {
    const none = await explain([`http://nobody.example:8080/.well-known/acme-challenge/${TOKEN}`]);
    expect(none.code, none.stdout).toBe(1);
    expect(none.stdout).toContain('backend: no router matches');
    expect(none.stdout).toContain('404 from the ACME challenge responder');
    const post = await explain([`http://app.example:8080/.well-known/acme-challenge/${TOKEN}`, '--method', 'post']);
    expect(post.code).toBe(1);
    expect(post.stdout).toContain('→ 405 from the ACME challenge responder');
  });

  it('shows the entry point redirection before any router, with the status for the method', async () => {
    const get = await explain(['http://app.example:8080/x?y=1']);
    expect(get.code, get.stderr).toBe(0);
    expect(get.stdout).toContain('HTTPS redirection (before the routers)');
    expect(get.stdout).toContain('→ 301 redirect to https://app.example:8443/x?y=1 (entry point redirection; routers are not tried)');
    expect(get.stdout).not.toContain('1. api');
    const post = await explain(['http://app.example:8080/x', '-X', 'POST']);
    expect(post.stdout).toContain('→ 308 redirect to https://app.example:8443/x');
  });

  it.each([
    ['a certificate file named in the config', 'https://right.example:8443/', `certificate: ${join(CERTS, 'wrong.pem')} (covers right.example`],
    ['a wildcard certificate found in certsDir', 'https://a.wild.example:8443/', 'covers *.wild.example'],
    ['no certificate for the name', 'https://app.example:8443/api', 'certificate: the default certificate (generated self-signed certificate in'],
  ])('on a TLS entry point says which certificate is served: %s', async (_description, url, expected) => {
    const res = await explain([url]);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('entry point "websecure" (127.0.0.1:8443): TLS entry point listening on port 8443');
    expect(res.stdout).toContain(expected);
  });

  it('says the handshake is refused when no certificate covers the name and the default is refused (exit 1)', async () => {
    const res = await explain(['https://app.example:8443/api'], config({}, 'refuse'));
    expect(res.code, res.stdout).toBe(1);
    expect(res.stdout).toContain('→ handshake refused: no certificate for app.example');
  });

  it('exits 1 with 404 when no router matches', async () => {
    const res = await explain(['http://nothing.example/', '--entry-point', 'internal']);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain('✗ Host(`app.example`): host "nothing.example"');
    expect(res.stdout).toContain('→ 404: no router matches');
  });

  it('--json carries the same data', async () => {
    const res = await explain(['http://app.example/users', '--entry-point', 'internal', '--header', 'X-Env: prod', '--client-ip', '10.0.0.7', '--json']);
    expect(res.code, res.stderr).toBe(0);
    const json = JSON.parse(res.stdout) as {
      kind: string;
      matched: boolean;
      request: Record<string, unknown>;
      entryPoints: { reason: string; explained: Record<string, unknown>[] };
    };
    expect(json.kind).toBe('http');
    expect(json.matched).toBe(true);
    expect(json.request).toMatchObject({ host: 'app.example', path: '/users', method: 'GET', clientIp: '10.0.0.7', headers: { 'x-env': 'prod' } });
    expect(json.entryPoints.reason).toBe('--entry-point');
    const ep = json.entryPoints.explained[0]!;
    expect(ep).toMatchObject({
      entryPoint: 'internal',
      tls: false,
      matched: true,
      tried: [
        { name: 'api', priority: 100, matched: false, parts: ['Path(`/api`): path "/users"'] },
        { name: 'app', matched: true, parts: ['Host(`app.example`): host "app.example"'] },
      ],
      match: {
        name: 'app',
        middlewares: [
          { name: 'auth', kind: 'basicAuth' },
          { name: 'limit', kind: 'rateLimit' },
        ],
        target: { kind: 'service', service: { name: 'app', kind: 'loadBalancer', servers: [{ url: 'http://127.0.0.1:9001', weight: 1 }, { url: 'http://127.0.0.1:9002', weight: 2 }] } },
      },
      notTried: ['other'],
      disabled: [
        { name: 'ghost', code: 'CONFIG_REFERENCE', wouldMatch: true, beforeMatch: true },
        { name: 'late', code: 'CONFIG_REFERENCE', wouldMatch: true, beforeMatch: false },
      ],
    });
  });
});

describe('gatehouse explain --sni', () => {
  it('names the passthrough route that takes the connection', async () => {
    const res = await explain(['--sni', 'vm.example']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/1\. vm {2}priority 21 {2}HostSNI\(`vm.example`\) +← match/);
    expect(res.stdout).toContain('TCP service: vm → 127.0.0.1:9443');
    expect(res.stdout).toContain('→ passed through to TCP service "vm" (127.0.0.1:9443); the backend terminates TLS');
  });

  it('says TLS is terminated, with which certificate, when no route matches', async () => {
    const res = await explain(['--sni', 'x.wild.example', '--json']);
    expect(res.code, res.stderr).toBe(0);
    const json = JSON.parse(res.stdout) as { kind: string; entryPoints: { explained: Record<string, unknown>[] } };
    expect(json.kind).toBe('sni');
    expect(json.entryPoints.explained[0]).toMatchObject({
      entryPoint: 'websecure',
      tried: [{ name: 'vm', matched: false, parts: ['HostSNI(`vm.example`): SNI "x.wild.example"'] }],
      terminated: { served: 'certificate', coveredBy: '*.wild.example', certificate: { from: 'file', source: join(dir, 'certs', 'wild.pem'), names: ['*.wild.example'] } },
      matched: true,
    });
  });

  it('follows the acme-tls/1 order: own challenge, shared store, passthrough, peers', async () => {
    const refused = await explain(['--sni', 'x.example', '--alpn', 'acme-tls/1']);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('own challenge: no resolver of this config orders x.example with tls-alpn-01');
    expect(refused.stdout).toContain('→ handshake refused: no pending challenge for this name');
    const peers = await explain(['--sni', 'x.example', '--alpn', 'acme-tls/1'], config({ challenges: { peers: { addresses: ['127.0.0.2', '127.0.0.3'], tlsPort: 8443 } } }));
    expect(peers.code, peers.stdout).toBe(0);
    const steps = ['own challenge:', 'shared store:', 'passthrough: no TCP router matches', 'peers: relayed in turn to 127.0.0.2, 127.0.0.3 (port 8443)'];
    const at = steps.map((s) => peers.stdout.indexOf(s));
    expect(at.every((i) => i > -1), peers.stdout).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    const passed = await explain(['--sni', 'vm.example', '--alpn', 'acme-tls/1']);
    expect(passed.code).toBe(0);
    expect(passed.stdout).toContain('passthrough: TCP router "vm" matches; the backend\'s own ACME client answers');
  });
});

describe('gatehouse explain with a certificate resolver', () => {
  /** A resolver ordering left.example by tls-alpn-01, whose certificate is already in the state directory. */
  const acmeConfig = () => {
    const base = config() as { http: { routers: Record<string, unknown> } };
    return {
      ...base,
      stateDir: join(dir, 'acme-state'),
      certificateResolvers: { le: { acme: { caServer: 'https://127.0.0.1:1/dir', email: 'ops@lab.test', challenges: ['tls-alpn-01'] } } },
      http: { ...base.http, routers: { ...base.http.routers, left: { rule: 'Host(`left.example`)', service: 'app', tls: { certResolver: 'le' } } } },
    };
  };

  beforeAll(async () => {
    const stored = join(dir, 'acme-state', 'acme', 'test-ca', 'certificates', 'left.example');
    await mkdir(stored, { recursive: true });
    await copyFile(join(CERTS, 'left-fullchain.pem'), join(stored, 'fullchain.pem'));
    await copyFile(join(CERTS, 'left-key.pem'), join(stored, 'key.pem'));
  });

  it('serves the ACME certificate stored in the state directory', async () => {
    const res = await explain(['https://left.example:8443/'], acmeConfig());
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/certificate: .*acme-state\/acme\/test-ca\/certificates\/left\.example\/fullchain\.pem \(ACME, covers left\.example/);
    expect(res.stdout).toContain('→ router "left" → service "app" (loadBalancer)');
  });

  it('answers a validator for a name it orders with tls-alpn-01 from its own challenge', async () => {
    const res = await explain(['--sni', 'left.example', '--alpn', 'acme-tls/1'], acmeConfig());
    expect(res.code, res.stdout).toBe(0);
    expect(res.stdout).toContain('own challenge: resolver "le" orders left.example with tls-alpn-01');
    expect(res.stdout).toContain('→ answered by the own challenge while an order is pending; refused otherwise');
  });
});

describe('gatehouse explain stays offline', () => {
  it('sends no health check to the upstreams it lists', async () => {
    let connections = 0;
    const upstream = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
      const cfg = {
        entryPoints: { web: { address: '127.0.0.1:8080' } },
        http: {
          routers: { app: { rule: 'Host(`app.example`)', service: 'app' } },
          services: { app: { loadBalancer: { servers: [{ url }], healthCheck: { path: '/health', interval: '100ms' } } } },
        },
      };
      const res = await explain(['http://app.example:8080/'], cfg);
      expect(res.code, res.stderr).toBe(0);
      expect(res.stdout).toContain(`${url}  weight 1`);
      expect(res.stdout).toContain('health check: GET /health every 100ms (health is not known offline)');
      expect(connections).toBe(0);
    } finally {
      await new Promise((resolve) => upstream.close(resolve));
    }
  });
});

describe('gatehouse explain: errors exit 2', () => {
  it.each([
    ['no URL and no --sni', [] as string[], /give a URL or --sni NAME/],
    ['a URL that is not one', ['http://[bad'], /is not a URL/],
    ['an unknown entry point', ['http://a.example/', '--entry-point', 'webb'], /entry point "webb" does not exist; did you mean "web"\?/],
    ['an unknown option', ['http://a.example/', '--nope'], /unknown option '--nope'/i],
    ['a bad client IP', ['http://a.example/', '--client-ip', 'me'], /--client-ip "me" is not an IP address/],
  ])('%s', async (_description, args, message) => {
    const res = await explain(args);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(message);
    // One line that says where the usage is, not the usage itself (src/cli/cli-error.ts).
    expect(res.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(res.stderr).toContain('see gatehouse explain --help');
    expect(res.stdout).toBe('');
  });

  it('an invalid config: the same error lines as gatehouse check', async () => {
    const res = await explain(['http://a.example/'], { entryPoints: { web: { address: '127.0.0.1:8080', bogus: true } } });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^gatehouse: .*gatehouse\.json.*\/entryPoints\/web.*\[CONFIG_SCHEMA\]$/m);
    expect(res.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  });
});
