/**
 * The dns-01 solver and its providers against real servers: BIND 9 on loopback for RFC 2136 with TSIG (values added
 * and removed one by one, a CNAME into another zone followed, a wrong key, a zone that does not exist, a value that
 * never appears), the exec provider running nsupdate, and Cloudflare against a local HTTPS stand-in.
 */
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDnsSolver } from '../../src/acme/dns/index.js';
import type { DnsChallengeConfig } from '../../src/config/schema-acme.js';
import { startDnsServer, type DnsLab } from '../helpers/dns-server.js';
import { startPebble, type Pebble } from '../helpers/pebble.js';

let dns: DnsLab;
let dir: string;
beforeAll(async () => {
  dns = await startDnsServer();
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-dns-providers-'));
}, 30_000);
afterAll(async () => {
  await dns?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const rfc2136 = (extra: Partial<DnsChallengeConfig> = {}, secret = dns.keySecret): DnsChallengeConfig => ({
  provider: 'rfc2136',
  resolvers: [dns.server],
  propagation: { nameservers: [dns.server], timeout: '5s', interval: '200ms' },
  rfc2136: { nameserver: dns.server, tsigKey: dns.keyName, tsigSecret: secret },
  ...extra,
});
const never = () => false;
/** locate + present, as the order does. */
const put = async (solver: Awaited<ReturnType<typeof createDnsSolver>>, domain: string, token: string, keyAuth: string, value: string) => {
  const r = await solver.locate(domain, token, keyAuth, value);
  await solver.present(r);
  return r;
};

describe('dns-01 solver, RFC 2136 with TSIG against BIND', () => {
  it('a wildcard and its apex put two values at one name; each is removed alone', async () => {
    const solver = await createDnsSolver(rfc2136(), { configFile: undefined });
    const a = await put(solver, 'home.test', 't1', 'k1', 'value-for-the-wildcard');
    const b = await put(solver, 'home.test', 't2', 'k2', 'value-for-the-apex');
    expect(a).toMatchObject({ fqdn: '_acme-challenge.home.test', zone: 'home.test' });
    expect(await solver.waitVisible(a, never)).toEqual([dns.server]);
    expect((await dns.txt('_acme-challenge.home.test')).sort()).toEqual(['value-for-the-apex', 'value-for-the-wildcard']);
    await solver.cleanup(a);
    expect(await dns.txt('_acme-challenge.home.test')).toEqual(['value-for-the-apex']);
    await solver.cleanup(b);
    await solver.cleanup(b); // again: nothing there, still fine
    expect(await dns.txt('_acme-challenge.home.test')).toEqual([]);
  });

  it('follows a CNAME on _acme-challenge into another zone and writes there', async () => {
    const solver = await createDnsSolver(rfc2136(), { configFile: undefined });
    const r = await put(solver, 'delegated.home.test', 't', 'k', 'delegated-value');
    expect(r).toMatchObject({ fqdn: 'delegated.acme.test', zone: 'acme.test' });
    await solver.waitVisible(r, never);
    expect(await dns.txt('delegated.acme.test')).toEqual(['delegated-value']);
    await solver.cleanup(r);
    expect(await dns.txt('delegated.acme.test')).toEqual([]);
  });

  it('a BIND key file works as tsigSecretFile, its name and algorithm taken from it', async () => {
    const solver = await createDnsSolver({ ...rfc2136(), rfc2136: { nameserver: dns.server, tsigSecretFile: dns.keyFile } }, { configFile: undefined });
    const r = await put(solver, 'keyfile.home.test', 't', 'k', 'from-key-file');
    expect(await dns.txt('_acme-challenge.keyfile.home.test')).toEqual(['from-key-file']);
    await solver.cleanup(r);
  });

  it.each<[string, { secret?: string; keyName?: string }, RegExp]>([
    ['a wrong secret', { secret: Buffer.alloc(32, 7).toString('base64') }, /refused: NOTAUTH, the server answered TSIG BADSIG for key gatehouse-test-key/],
    ['an unknown key name', { keyName: 'nobody-key' }, /refused: NOTAUTH, the server answered TSIG BADKEY for key nobody-key/],
  ])('%s is refused with the TSIG error, and the secret is never in the message', async (_d, bad, message) => {
    const secret = bad.secret ?? dns.keySecret;
    const spec = rfc2136({}, secret);
    if (bad.keyName) spec.rfc2136!.tsigKey = bad.keyName;
    const solver = await createDnsSolver(spec, { configFile: undefined });
    const err = await put(solver, 'badkey.home.test', 't', 'k', 'never').then(() => new Error('resolved') as Error & { code: string }, (e: unknown) => e as Error & { code: string });
    expect(err.code).toBe('ACME_DNS');
    expect(err.message).toMatch(message);
    expect(err.message).toContain(`at ${dns.server}`);
    expect(err.message).not.toContain(secret);
    expect(await dns.txt('_acme-challenge.badkey.home.test')).toEqual([]);
  });

  it('a name in no zone the resolvers know fails naming what they answered', async () => {
    const solver = await createDnsSolver(rfc2136(), { configFile: undefined });
    const err = await put(solver, 'a.nowhere.example', 't', 'k', 'v').then(() => new Error('resolved') as Error & { code: string }, (e: unknown) => e as Error & { code: string });
    expect(err.code).toBe('ACME_DNS');
    expect(err.message).toMatch(/no zone found for _acme-challenge\.a\.nowhere\.example by SOA look-ups .*REFUSED/);
  });

  it('a value that never appears fails after the timeout naming the server and its answer', async () => {
    const noop = join(dir, 'noop.sh');
    await writeFile(noop, '#!/bin/sh\nexit 0\n');
    await chmod(noop, 0o755);
    const solver = await createDnsSolver({ ...rfc2136({ propagation: { nameservers: [dns.server], timeout: '1s', interval: '200ms' } }), provider: 'exec', exec: { path: noop } }, { configFile: undefined });
    const r = await put(solver, 'late.home.test', 't', 'k', 'v');
    const t0 = Date.now();
    const err = await solver.waitVisible(r, never).then(() => new Error('resolved') as Error & { code: string }, (e: unknown) => e as Error & { code: string });
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(err.code).toBe('ACME_DNS');
    expect(err.message).toBe(`dns-01 for late.home.test: TXT _acme-challenge.late.home.test did not show the challenge value within 1 s at ${dns.server} (last answer: no TXT values)`);
  });
});

describe('dns-01 exec provider (lego contract)', () => {
  it('runs the program with present/cleanup <fqdn.> <value>; a script running nsupdate writes and removes the record', async () => {
    const script = join(dir, 'nsupdate.sh');
    await writeFile(
      script,
      `#!/bin/sh
set -e
echo "$@" >> "${join(dir, 'calls.log')}"
case "$1" in present) op=add ;; cleanup) op=delete ;; *) exit 2 ;; esac
printf 'server 127.0.0.1 ${dns.port}\\nupdate %s %s 60 IN TXT "%s"\\nsend\\n' "$op" "$2" "$3" | nsupdate -k "${dns.keyFile}"
`,
    );
    await chmod(script, 0o755);
    const solver = await createDnsSolver({ provider: 'exec', resolvers: [dns.server], propagation: { nameservers: [dns.server], timeout: '5s', interval: '200ms' }, exec: { path: script } }, { configFile: undefined });
    const r = await put(solver, 'exec.home.test', 'tok', 'keyauth', 'exec-value');
    await solver.waitVisible(r, never);
    expect(await dns.txt('_acme-challenge.exec.home.test')).toEqual(['exec-value']);
    await solver.cleanup(r);
    expect(await dns.txt('_acme-challenge.exec.home.test')).toEqual([]);
    expect(execFileSync('cat', [join(dir, 'calls.log')], { encoding: 'utf8' })).toBe('present _acme-challenge.exec.home.test. exec-value\ncleanup _acme-challenge.exec.home.test. exec-value\n');
  });

  it('RAW mode passes -- <domain.> <token> <keyAuthorization>; a failing program is an error with its last output line', async () => {
    const script = join(dir, 'raw.sh');
    await writeFile(script, `#!/bin/sh\necho "args: $*"\necho "no API for $3" >&2\nexit 3\n`);
    await chmod(script, 0o755);
    const solver = await createDnsSolver({ provider: 'exec', resolvers: [dns.server], exec: { path: script, mode: 'RAW' } }, { configFile: undefined });
    const err = await put(solver, 'raw.home.test', 'tok-1', 'tok-1.thumb', 'v').then(() => new Error('resolved') as Error & { code: string }, (e: unknown) => e as Error & { code: string });
    expect(err.code).toBe('ACME_DNS');
    expect(err.message).toBe(`dns-01 for raw.home.test: exec ${script}: ${script} present raw.home.test. exited with 3: args: present -- raw.home.test. tok-1 tok-1.thumb | no API for raw.home.test.`);
  });
});

describe('dns-01 Cloudflare provider against a local HTTPS stand-in of its API (only the endpoints used; the real API is not reachable here)', () => {
  let pebble: Pebble | undefined;
  let api: Server;
  let base = '';
  const records = new Map<string, { id: string; type: string; name: string; content: string; ttl: number }>();
  const seen: string[] = [];
  beforeAll(async () => {
    // Pebble's API certificate is a handy throwaway certificate for 127.0.0.1 and its own CA.
    pebble = await startPebble();
    api = createServer({ cert: pebble.apiCertPem, key: pebble.apiKeyPem }, (req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (c: string) => (body += c));
      req.on('end', () => {
        const url = new URL(req.url!, 'https://x');
        seen.push(`${req.method} ${url.pathname}${url.search}`);
        const send = (status: number, result: unknown, errors: object[] = []) => {
          res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ success: status < 300, errors, messages: [], result }));
        };
        if (req.headers.authorization !== 'Bearer good-token-123') return send(403, null, [{ code: 10000, message: 'Authentication error' }]);
        if (req.method === 'GET' && url.pathname === '/client/v4/zones') return send(200, url.searchParams.get('name') === 'home.test' ? [{ id: 'zone-1', name: 'home.test' }] : []);
        const m = /^\/client\/v4\/zones\/zone-1\/dns_records(?:\/(.+))?$/.exec(url.pathname);
        if (!m) return send(404, null, [{ code: 7003, message: 'No route' }]);
        if (req.method === 'POST') {
          const r = { id: `rec-${records.size + 1}`, ...(JSON.parse(body) as { type: string; name: string; content: string; ttl: number }) };
          records.set(r.id, r);
          return send(200, r);
        }
        if (req.method === 'GET') return send(200, [...records.values()].filter((r) => r.type === url.searchParams.get('type') && r.name === url.searchParams.get('name') && r.content === url.searchParams.get('content')));
        if (req.method === 'DELETE' && m[1] && records.delete(m[1])) return send(200, { id: m[1] });
        return send(404, null, [{ code: 81044, message: 'Record does not exist.' }]);
      });
    });
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', () => r()));
    base = `https://127.0.0.1:${(api.address() as import('node:net').AddressInfo).port}/client/v4`;
  }, 30_000);
  afterAll(async () => {
    await new Promise((r) => api?.close(r));
    await pebble?.stop();
  });
  const cf = (token: string): DnsChallengeConfig => ({ provider: 'cloudflare', resolvers: [dns.server], propagation: { disableChecks: true }, cloudflare: { apiToken: token } });

  it('finds the zone by name, creates the TXT record, deletes it by its value', async () => {
    const solver = await createDnsSolver(cf('good-token-123'), { configFile: undefined, cloudflareApi: { baseUrl: base, ca: pebble!.apiCertPem } });
    const r = await put(solver, 'cf.home.test', 't', 'k', 'cf-value');
    expect([...records.values()]).toEqual([{ id: 'rec-1', type: 'TXT', name: '_acme-challenge.cf.home.test', content: 'cf-value', ttl: 60 }]);
    await solver.cleanup(r);
    expect(records.size).toBe(0);
    expect(seen).toEqual([
      'GET /client/v4/zones?name=home.test',
      'POST /client/v4/zones/zone-1/dns_records',
      'GET /client/v4/zones/zone-1/dns_records?type=TXT&name=_acme-challenge.cf.home.test&content=cf-value',
      'DELETE /client/v4/zones/zone-1/dns_records/rec-1',
    ]);
  });

  it('a token the API refuses gives its error, never the token', async () => {
    const solver = await createDnsSolver(cf('wrong-token-456'), { configFile: undefined, cloudflareApi: { baseUrl: base, ca: pebble!.apiCertPem } });
    const err = await put(solver, 'cf.home.test', 't', 'k', 'v').then(() => new Error('resolved') as Error & { code: string }, (e: unknown) => e as Error & { code: string });
    expect(err.code).toBe('ACME_DNS');
    expect(err.message).toBe('dns-01 for cf.home.test: cloudflare: Cloudflare GET /zones: HTTP 403 10000 Authentication error (the token needs Zone:Read and DNS:Edit on this zone)');
  });
});
