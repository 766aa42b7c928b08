/**
 * http-01 across proxies and instances against a real Pebble (../shared/acme/README.md scenarios (c), (d), (e)):
 * - (d) a backend "VM" running its own ACME client (acme-client, in this process) gets its certificate by http-01
 *   through gatehouse's route, past the route's auth; a POST to the challenge path never reaches it; with the route's
 *   `acmeChallenges: 'off'` its order fails;
 * - (c) a prod gatehouse forwards `*.stage.lab.test` to a test gatehouse, which gets app1 by http-01 through prod
 *   while prod gets its own www; with the test instance gone the CA gets prod's 502, never prod's own 404;
 * - (e) three instances behind one name, every (orderer, target) pair: in peers mode the target asks the peers and
 *   relays the orderer's answer; in stateless mode the target answers token.thumbprint itself.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import { Agent } from 'node:https';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as acme from 'acme-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { acmeConfig, freshStateDir, probe, usePebble } from '../helpers/acme-lab.js';
import { type GatehouseProcess, startGatehouse } from '../helpers/gatehouse-process.js';
import type { LogLine } from '../helpers/log-lines.js';

const INSTANCES = ['127.0.0.2', '127.0.0.3', '127.0.0.4'] as const;
const CAROL = 'carol:{SHA}zDWP8f33jIgtzBU4G57UXp/L1Eg=';
const pebble = usePebble();

beforeAll(async () => {
  // The VM's acme-client trusts Pebble's API, and gives up quickly on network errors (they are not expected here).
  acme.axios.defaults.httpsAgent = new Agent({ ca: pebble.apiCertPem });
  (acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number } }).acmeSettings.retryMaxAttempts = 1;
}, 30_000);

/** Waits until `gh` logged the outcome of an order for each of `names`; returns the outcomes by name. */
async function outcomes(gh: GatehouseProcess, names: readonly string[]): Promise<Map<string, LogLine>> {
  const done = (l: LogLine) => l.msg === 'certificate obtained' || l.msg === 'certificate order failed';
  const named = (l: LogLine) => (l['names'] as string[] | undefined)?.[0];
  await gh.waitForLog(() => new Set(gh.logs.filter(done).map(named).filter((n) => names.includes(n!))).size >= names.length, 20_000);
  return new Map(gh.logs.filter(done).map((l) => [named(l)!, l]));
}

/**
 * Waits (up to 30 s) until `gh` obtained a certificate for each of `names`; returns each name's last outcome line
 * (a 'certificate order failed' one when it never got there).
 */
async function obtained(gh: GatehouseProcess, names: readonly string[]): Promise<Map<string, LogLine>> {
  const named = (l: LogLine) => (l['names'] as string[] | undefined)?.[0];
  const got = () => new Set(gh.logs.filter((l) => l.msg === 'certificate obtained').map(named));
  await gh.waitForLog(() => names.every((n) => got().has(n)), 30_000).catch(() => undefined);
  const failed = gh.logs.filter((l) => l.msg === 'certificate order failed').length;
  if (failed > 0) console.log(`(e) ${failed} order(s) failed first and were retried (an instance still starting)`);
  return outcomes(gh, names);
}

/** Whether `check` holds within 3 s: another process's log lines arrive through its own pipe, a little later. */
async function eventually(check: () => boolean): Promise<boolean> {
  for (let i = 0; i < 60 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
  return check();
}

/** The http-01 decision lines of a gatehouse for `host`. */
const decisions = (gh: GatehouseProcess | readonly GatehouseProcess[], host: string): LogLine[] =>
  (Array.isArray(gh) ? gh : [gh as GatehouseProcess]).flatMap((p) => p.logs).filter((l) => String(l.msg).startsWith('acme challenge') && l['host'] === host);

/** A VM with its own ACME client: an HTTP server on `address` serving its pending tokens, nothing else. */
async function startVm(address: string): Promise<{ port: number; server: Server; seen: { method: string; url: string; host: string }[]; order(name: string): Promise<string> }> {
  const tokens = new Map<string, string>();
  const seen: { method: string; url: string; host: string }[] = [];
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', host: req.headers.host ?? '' });
    const token = (req.url ?? '').replace('/.well-known/acme-challenge/', '');
    const answer = req.method === 'GET' ? tokens.get(token) : undefined;
    res.writeHead(answer ? 200 : 404).end(answer ?? 'vm: no such token');
  });
  await new Promise<void>((r) => server.listen(0, address, () => r()));
  const port = (server.address() as import('node:net').AddressInfo).port;
  const order = async (name: string): Promise<string> => {
    const client = new acme.Client({ directoryUrl: pebble.directoryUrl, accountKey: await acme.crypto.createPrivateEcdsaKey(), backoffMin: 100, backoffMax: 500, backoffAttempts: 20 });
    const [, csr] = await acme.crypto.createCsr({ commonName: name, altNames: [name] }, await acme.crypto.createPrivateEcdsaKey());
    const issued = client.auto({
      csr,
      termsOfServiceAgreed: true,
      challengePriority: ['http-01'],
      skipChallengeVerification: true,
      challengeCreateFn: async (_a, chal, keyAuthorization) => void tokens.set(chal.token, keyAuthorization),
      challengeRemoveFn: async (_a, chal) => void tokens.delete(chal.token),
    });
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<never>((_r, reject) => (timer = setTimeout(() => reject(new Error(`VM order for ${name} took over 20 s`)), 20_000)));
    try {
      return await Promise.race([issued, bound]);
    } finally {
      clearTimeout(timer);
    }
  };
  return { port, server, seen, order };
}

describe('(d) a backend VM with its own ACME client, behind gatehouse (field note 001)', () => {
  it('gets its certificate by http-01 through the route, past its auth; POST gets 405 and never reaches it; acmeChallenges off fails', async () => {
    const GH = '127.0.0.2';
    await pebble.setA('vm.lab.test', GH);
    await pebble.setA('vm-off.lab.test', GH);
    const vm = await startVm('127.0.0.4');
    try {
      const gh = await startGatehouse({
        log: { level: 'info', accessLog: false },
        entryPoints: { web: { address: `${GH}:${pebble.httpPort}` } },
        http: {
          middlewares: { auth: { basicAuth: { users: [CAROL] } } },
          services: { vm: { loadBalancer: { servers: [{ url: `http://127.0.0.4:${vm.port}` }] } } },
          routers: {
            vm: { rule: 'Host(`vm.lab.test`)', service: 'vm', middlewares: ['auth'] },
            off: { rule: 'Host(`vm-off.lab.test`)', service: 'vm', middlewares: ['auth'], acmeChallenges: 'off' },
          },
        },
      });
      const t0 = performance.now();
      const pem = await vm.order('vm.lab.test');
      console.log(`(d) VM's own http-01 order through gatehouse: ${Math.round(performance.now() - t0)} ms`);
      expect(acme.crypto.readCertificateInfo(pem).domains.altNames).toContain('vm.lab.test');
      // The VA's GETs reached the VM through gatehouse, with the CA's Host header.
      const vaGets = vm.seen.filter((r) => r.method === 'GET' && r.host === `vm.lab.test:${pebble.httpPort}`);
      expect(vaGets.length).toBeGreaterThan(0);
      expect(await eventually(() => decisions(gh, 'vm.lab.test').some((l) => l['answeredBy'] === 'backend vm' && l['status'] === 200))).toBe(true);

      // A write to the challenge path is refused at gatehouse and never reaches the VM, even with credentials.
      const before = vm.seen.length;
      const refused = await requestAt(GH, pebble.httpPort, 'POST', 'vm.lab.test', `/.well-known/acme-challenge/${'x'.repeat(43)}`);
      expect(refused.status).toBe(405);
      expect(refused.allow).toBe('GET, HEAD');
      expect(vm.seen.length).toBe(before);

      // Negative control: the same VM behind a route that keeps challenges for itself fails its order.
      const failed = await vm.order('vm-off.lab.test').then(() => 'issued', (e: Error) => e.message);
      expect(failed).not.toBe('issued');
      expect(failed).toMatch(/404|unauthorized|invalid/i);
      expect(vm.seen.filter((r) => r.host.startsWith('vm-off.lab.test'))).toHaveLength(0);
      expect(await eventually(() => decisions(gh, 'vm-off.lab.test').some((l) => l['answeredBy'] === 'none'))).toBe(true);
    } finally {
      vm.server.closeAllConnections();
      await new Promise((r) => vm.server.close(r));
    }
  }, 60_000);
});

describe('(c) prod + test proxies: http-01 forwarded through prod (field note 000)', () => {
  const PROD = '127.0.0.2';
  const TEST = '127.0.0.3';

  it('test gets app1 through prod while prod gets www; with test gone the CA gets 502 from prod, never its 404', async () => {
    await Promise.all(['www.lab.test', 'app1.stage.lab.test', 'app3.stage.lab.test'].map((n) => pebble.setA(n, PROD)));
    const base = acmeConfig(pebble, PROD, ['www.lab.test'], ['http-01']) as { http: { routers: Record<string, object> } };
    const prod = await startGatehouse(
      {
        ...base,
        http: {
          routers: { ...base.http.routers, stage: { rule: 'Host(`*.stage.lab.test`)', service: 'test-proxy' } },
          services: { 'test-proxy': { loadBalancer: { servers: [{ url: `http://${TEST}:${pebble.httpPort}` }] } } },
        },
      },
      { env: { GATEHOUSE_STATE_DIR: await freshStateDir() } },
    );
    const test = await startGatehouse(acmeConfig(pebble, TEST, ['app1.stage.lab.test'], ['http-01']), { env: { GATEHOUSE_STATE_DIR: await freshStateDir() } });
    const [prodGot, testGot] = await Promise.all([outcomes(prod, ['www.lab.test']), outcomes(test, ['app1.stage.lab.test'])]);
    expect(prodGot.get('www.lab.test')?.msg, JSON.stringify(prodGot.get('www.lab.test'))).toBe('certificate obtained');
    expect(testGot.get('app1.stage.lab.test')?.msg, JSON.stringify(testGot.get('app1.stage.lab.test'))).toBe('certificate obtained');
    // The VA's GETs for app1 went to prod, which handed them to the test instance; test answered its own token.
    expect(await eventually(() => decisions(prod, 'app1.stage.lab.test').some((l) => l['answeredBy'] === 'backend test-proxy' && l['status'] === 200))).toBe(true);
    const own = decisions(test, 'app1.stage.lab.test').filter((l) => l['answeredBy'] === 'own');
    console.log(`(c) app1 through prod: ${decisions(prod, 'app1.stage.lab.test').length} forwarded by prod, ${own.length} answered by test`);
    expect(own.length).toBeGreaterThan(0);
    expect(decisions(prod, 'www.lab.test').every((l) => l['answeredBy'] === 'own')).toBe(true);
    const root = await pebble.root();
    const served = await probe(TEST, pebble.tlsPort, 'app1.stage.lab.test', { ca: root });
    expect(served.authorized, served.error).toBe(true);

    // Negative control: the test instance is gone; another one (127.0.0.5, which prod's route does not reach) orders
    // app3. The VA reaches prod, whose route cannot reach the test instance: 502, and the order fails.
    await test.stop();
    const stray = await startGatehouse(acmeConfig(pebble, '127.0.0.5', ['app3.stage.lab.test'], ['http-01']), { env: { GATEHOUSE_STATE_DIR: await freshStateDir() } });
    const strayGot = await outcomes(stray, ['app3.stage.lab.test']);
    expect(strayGot.get('app3.stage.lab.test')?.msg).toBe('certificate order failed');
    expect(String(strayGot.get('app3.stage.lab.test')?.['reason'])).toMatch(/50[24]/);
    expect(await eventually(() => decisions(prod, 'app3.stage.lab.test').length > 0)).toBe(true);
    for (const l of decisions(prod, 'app3.stage.lab.test')) expect(l).toMatchObject({ answeredBy: 'backend test-proxy', status: 502 });
  }, 60_000);
});

describe('(e) three instances behind one name, every (orderer, target) pair (field notes 002 and 004)', () => {
  /** The name whose A records put `target` first: every instance orders it, so it is validated at `target`. */
  const name = (mode: string, t: number) => `${mode}-t${t + 2}.rr.lab.test`;

  /** Starts the three instances with `config(address)`, all ordering the three names; waits for the 9 outcomes. */
  async function nineOrders(mode: string, config: (address: string, names: string[]) => object): Promise<GatehouseProcess[]> {
    const names = INSTANCES.map((_, t) => name(mode, t));
    await Promise.all(INSTANCES.map((target, t) => pebble.setA(name(mode, t), target, ...INSTANCES.filter((a) => a !== target))));
    const states = await Promise.all(INSTANCES.map(() => freshStateDir()));
    const t0 = performance.now();
    const all = await Promise.all(INSTANCES.map((a, i) => startGatehouse(config(a, names), { env: { GATEHOUSE_STATE_DIR: states[i]! } })));
    // Every instance orders all three names at once, as it starts: a validation can reach an instance that is still
    // starting (connection refused), and that order is retried after its backoff (≈ 1 s), as in production. What
    // must hold is that every pair ends valid: wait for each name's 'certificate obtained' (bounded), then check.
    const got = await Promise.all(all.map((gh) => obtained(gh, names)));
    console.log(`(e) ${mode}: 9 (orderer, target) pairs in ${Math.round(performance.now() - t0)} ms (3 instances started together)`);
    for (const [o, byName] of got.entries()) {
      for (const n of names) expect(byName.get(n)?.msg, `${INSTANCES[o]} ordering ${n}: ${JSON.stringify(byName.get(n))}`).toBe('certificate obtained');
    }
    return all;
  }

  it('peers mode: valid for all 9 pairs; the target relays the 6 cross pairs from the orderer', async () => {
    const all = await nineOrders('peers', (address, names) => ({
      ...acmeConfig(pebble, address, names, ['http-01']),
      challenges: { peers: { addresses: [...INSTANCES], httpPort: pebble.httpPort, tlsPort: pebble.tlsPort, timeout: '3s' } },
    }));
    for (const [t, target] of all.entries()) {
      const n = name('peers', t);
      const expected = INSTANCES.map((o, i) => (i === t ? 'own' : `peer ${o}:${pebble.httpPort}`));
      expect(await eventually(() => expected.every((by) => decisions(target, n).some((l) => l['answeredBy'] === by)))).toBe(true);
      expect(decisions(target, n).some((l) => l['answeredBy'] === 'none')).toBe(false);
      const relayed = decisions(target, n).filter((l) => String(l['answeredBy']).startsWith('peer '));
      const ms = relayed.map((l) => (l['tried'] as { ms: number }[]).reduce((sum, a) => sum + a.ms, 0));
      console.log(`(e) peers: ${n}: ${relayed.length} VA requests relayed by ${INSTANCES[t]}, peer walk ${Math.min(...ms)}–${Math.max(...ms)} ms`);
      // A peer asked by the target saw the loop guard and never asked further.
      for (const [o, other] of all.entries()) if (o !== t) expect(decisions(other, n).some((l) => String(l['answeredBy']).startsWith('peer'))).toBe(false);
    }
  }, 60_000);

  it('stateless mode: the target answers token.thumbprint itself, no peer is asked', async () => {
    const keyFile = join(await freshStateDir(), 'shared-account.pem');
    await writeFile(keyFile, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
    const all = await nineOrders('stateless', (address, names) => {
      const c = acmeConfig(pebble, address, names, ['http-01']) as { certificateResolvers: { pebble: { acme: Record<string, unknown> } } };
      Object.assign(c.certificateResolvers.pebble.acme, { stateless: true, accountKeyFile: keyFile });
      return c;
    });
    for (const [t, target] of all.entries()) {
      const n = name('stateless', t);
      expect(await eventually(() => ['own', 'stateless'].every((by) => decisions(target, n).some((l) => l['answeredBy'] === by)))).toBe(true);
      expect(decisions(target, n).every((l) => l['answeredBy'] === 'own' || l['answeredBy'] === 'stateless')).toBe(true);
      expect(decisions(target, n).some((l) => l['tried'] !== undefined)).toBe(false);
    }
  }, 60_000);
});

/** One request to `address:port` over a fresh connection; bounded. */
function requestAt(address: string, port: number, method: string, host: string, path: string): Promise<{ status: number; allow: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: address, port, method, path, headers: { host }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, allow: res.headers.allow }));
    });
    const timer = setTimeout(() => req.destroy(new Error('no answer within 5 s')), 5_000);
    req.on('close', () => clearTimeout(timer));
    req.on('error', reject);
    req.end('hijack');
  });
}
