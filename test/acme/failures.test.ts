/**
 * What goes wrong before any validation: a CA that cannot be reached at start (nothing listening, or its HTTPS
 * certificate not trusted) never stops serving, is named with its real cause, and is retried with backoff; and
 * what `gatehouse check` refuses (wildcards, unknown resolvers) disables only that certificate.
 */
import { createServer, type Server } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { acmeConfig, freshStateDir, probe, usePebble } from '../helpers/acme-lab.js';
import { runGatehouseCli, startGatehouse } from '../helpers/gatehouse-process.js';

const ADDRESS = '127.0.0.5';
const pebble = usePebble();
let closedPort: number;

beforeAll(async () => {
  // A port that was free a moment ago: connection refused.
  const s: Server = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  closedPort = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
}, 30_000);

describe('a CA that is down at start', () => {
  it.each<[string, (c: any) => void, RegExp]>([
    ['nothing listens at the directory URL', (c) => (c.certificateResolvers.pebble.acme.caServer = `https://127.0.0.1:${closedPort}/dir`), /connection refused \(ECONNREFUSED\)/],
    ['the CA\'s HTTPS certificate is not trusted (no caBundle)', (c) => delete c.certificateResolvers.pebble.acme.caBundle, /not trusted.*caBundle/],
  ])('%s: default certificate served, the real cause logged, retried with backoff', async (_d, edit, cause) => {
    const name = 'down.lab.test';
    await pebble.setA(name, ADDRESS);
    const config = acmeConfig(pebble, ADDRESS, [name], ['http-01']) as any;
    edit(config);
    const gh = await startGatehouse(config, { env: { GATEHOUSE_STATE_DIR: await freshStateDir() } });
    const failed = await gh.waitForLog((l) => l.msg === 'certificate order failed', 10_000);
    expect(failed['code']).toBe('ACME_CA_UNREACHABLE');
    expect(String(failed['reason'])).toMatch(cause);
    const served = await probe(ADDRESS, pebble.tlsPort, name);
    expect(served.error).toBeUndefined();
    expect(served.cert?.subject.CN).toBe('gatehouse default');
    const second = await gh.waitForLog((l) => l.msg === 'certificate order failed' && l['failures'] === 2, 10_000);
    expect(Date.parse(String(second['time']))).toBeGreaterThanOrEqual(Date.parse(String(failed['retryAt'])) - 50);
    expect(pebble.orders()).toBe(0);
  }, 30_000);
});

describe('gatehouse check', () => {
  it.each<[string, (c: any) => void, RegExp]>([
    ['a wildcard Host name', (c) => (c.http.routers.r0.rule = 'Host(`*.lab.test`)'), /\*\.lab\.test is a wildcard.*dns-01.*\[ACME_CONFIG\]/],
    ['a wildcard in tls.domains', (c) => (c.http.routers.r0.tls.domains = [{ main: 'lab.test', sans: ['*.lab.test'] }]), /wildcard.*\[ACME_CONFIG\]/],
    ['an unknown resolver', (c) => (c.http.routers.r0.tls.certResolver = 'nope'), /certResolver "nope", which is not in certificateResolvers \(known: pebble\).*\[ACME_CONFIG\]|at \/http\/routers\/r0\/tls\/certResolver: .*nope/],
    ['no Host in the rule and no domains', (c) => (c.http.routers.r0.rule = 'PathPrefix(`/`)'), /names no Host\(\.\.\.\) and it has no tls\.domains/],
  ])('refuses %s', async (_d, edit, message) => {
    const config = acmeConfig(pebble, ADDRESS, ['ok.lab.test'], ['http-01']) as any;
    edit(config);
    const result = await runGatehouseCli(['check'], { config });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
  });

  it('accepts the same config with literal names', async () => {
    const result = await runGatehouseCli(['check'], { config: acmeConfig(pebble, ADDRESS, ['ok.lab.test', 'www.lab.test'], ['tls-alpn-01', 'http-01']) });
    // The lab binds loopback only: check warns that only this machine reaches those names, and that is all it says.
    expect(result.stderr.split('\n').filter((l) => l !== '' && !l.includes('listens only on loopback'))).toEqual([]);
    expect(result.code).toBe(0);
  });
});
