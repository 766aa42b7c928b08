// `gatehouse explain` runs the matched router's middlewares that decide on the request alone, through the real CLI:
// an allow list that refuses the client, a missing login, a redirect with its Location, path rewrites and the path
// the backend receives, headers set; forwardAuth named as the one that decides.
import { afterAll, describe, expect, it } from 'vitest';
import { runGatehouseCli, stopAllGatehouses } from '../helpers/gatehouse-process.js';
import type { MiddlewareOutcome } from '../../src/explain/middlewares.js';

afterAll(async () => {
  await stopAllGatehouses();
});

const CONFIG = {
  entryPoints: { web: { address: '127.0.0.1:0' } },
  http: {
    routers: {
      admin: { rule: 'PathPrefix(`/admin`)', service: 'app', middlewares: ['lan', 'auth', 'strip', 'hdr'] },
      proxied: { rule: 'PathPrefix(`/behind`)', service: 'app', middlewares: ['lanViaProxy'] },
      old: { rule: 'Host(`old.test`)', service: 'app', middlewares: ['toHttps'] },
      sso: { rule: 'Host(`sso.test`)', service: 'app', middlewares: ['fwd', 'strip'] },
      chained: { rule: 'Host(`chain.test`)', service: 'app', middlewares: ['both'] },
      plain: { rule: 'Host(`plain.test`)', service: 'app' },
    },
    services: { app: { loadBalancer: { servers: [{ url: 'http://127.0.0.1:3000' }] } } },
    middlewares: {
      lan: { ipAllowList: { sourceRange: ['10.0.0.0/8', '127.0.0.1/32'] } },
      lanViaProxy: { ipAllowList: { sourceRange: ['10.0.0.0/8'], ipStrategy: { depth: 1 } } },
      auth: { basicAuth: { users: ['bob:$2y$05$GK5b7cKHbXWv0B3W5o3tI.TnWbCgg2yG1xQXxRxQJ1zvvSeJz0eLi'] } },
      strip: { stripPrefix: { prefixes: ['/admin'] } },
      hdr: { headers: { customRequestHeaders: { 'X-Env': 'prod' } } },
      toHttps: { redirectScheme: { scheme: 'https', permanent: true } },
      fwd: { forwardAuth: { address: 'http://127.0.0.1:9091/verify' } },
      rewrite: { replacePathRegex: { regex: '^/chain/(.*)', replacement: '/v2/$1' } },
      both: { chain: { middlewares: ['lan', 'rewrite'] } },
    },
  },
};

interface Explained {
  entryPoints: { explained: { outcome: string; match?: { name: string; evaluation?: MiddlewareOutcome } }[] };
}

async function explain(...args: string[]): Promise<{ code: number | null; e: Explained }> {
  const r = await runGatehouseCli(['explain', ...args, '--json'], { config: CONFIG });
  expect(r.stderr).toBe('');
  return { code: r.code, e: JSON.parse(r.stdout) as Explained };
}

describe('explain runs the middlewares that decide on the request', () => {
  it.each([
    ['a client outside the allow list: 403 from the ipAllowList', ['http://app.test/admin/x', '--client-ip', '8.8.8.8'], 'lan', 403],
    ['a client inside it but without credentials: 401 from basicAuth', ['http://app.test/admin/x'], 'auth', 401],
    ['ipStrategy depth 1 reads X-Forwarded-For', ['http://app.test/behind', '-H', 'X-Forwarded-For: 8.8.8.8'], 'lanViaProxy', 403],
    ['a redirect, with its Location', ['http://old.test/p?q=1'], 'toHttps', 301],
    ['a chain is run member by member', ['http://chain.test/chain/a', '--client-ip', '192.0.2.1'], 'lan', 403],
  ])('%s', async (_d, args, by, status) => {
    const { code, e } = await explain(...args);
    expect(code).toBe(0);
    const ev = e.entryPoints.explained[0]!.match!.evaluation!;
    expect(ev.stoppedBy).toMatchObject({ name: by, effect: 'answered', status });
    expect(e.entryPoints.explained[0]!.outcome).toContain(`stopped by middleware "${by}"`);
    expect(e.entryPoints.explained[0]!.outcome).toContain('is not reached');
  });

  it('the redirect names its Location', async () => {
    const { e } = await explain('http://old.test/p?q=1');
    expect(e.entryPoints.explained[0]!.match!.evaluation!.stoppedBy!.location).toBe('https://old.test/p?q=1');
  });

  it('a request that passes: the path the backend receives and the headers set', async () => {
    const { e } = await explain('http://app.test/admin/caf%C3%A9', '-H', 'Authorization: Basic Ym9iOng=');
    const ev = e.entryPoints.explained[0]!.match!.evaluation!;
    expect(ev.stoppedBy).toBeUndefined();
    expect(ev.steps.map((s) => [s.name, s.effect])).toEqual([
      ['lan', 'passed'],
      ['auth', 'passed'],
      ['strip', 'passed'],
      ['hdr', 'passed'],
    ]);
    expect(ev.forwardedUri).toBe('/caf%C3%A9');
    expect(ev.headersSet).toEqual({ 'x-forwarded-prefix': '/admin', 'x-env': 'prod' });
    expect(e.entryPoints.explained[0]!.outcome).toContain('with /caf%C3%A9');
  });

  it('a chain: its members rewrite the path', async () => {
    const { e } = await explain('http://chain.test/chain/a?x=1');
    expect(e.entryPoints.explained[0]!.match!.evaluation!.forwardedUri).toBe('/v2/a?x=1');
  });

  it('forwardAuth: explain names it as the one that decides, and goes no further', async () => {
    const { e } = await explain('http://sso.test/');
    const ev = e.entryPoints.explained[0]!.match!.evaluation!;
    expect(ev.stoppedBy).toMatchObject({ name: 'fwd', effect: 'stops' });
    expect(ev.steps).toHaveLength(1);
    expect(e.entryPoints.explained[0]!.outcome).toContain('http://127.0.0.1:9091/verify');
  });

  it('the text form shows each middleware and the outcome', async () => {
    const r = await runGatehouseCli(['explain', 'http://app.test/admin/x', '--client-ip', '8.8.8.8'], { config: CONFIG });
    expect(r.stdout).toContain('✗ lan (ipAllowList): client 8.8.8.8 (as its ipStrategy reads it) is not in its sourceRange: 403');
    expect(r.stdout).toContain('→ router "admin", stopped by middleware "lan" (ipAllowList): 403');
  });

  it('a router without middlewares has no evaluation', async () => {
    const { e } = await explain('http://plain.test/');
    expect(e.entryPoints.explained[0]!.match!.evaluation).toBeUndefined();
  });
});
