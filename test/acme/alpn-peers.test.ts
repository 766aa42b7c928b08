/**
 * tls-alpn-01 across proxies and instances against a real Pebble (../shared/acme/README.md scenarios (c) and (e)):
 * - (e) three gatehouses in peers mode on 127.0.0.2/.3/.4; for every (orderer, target) pair the CA validates at the
 *   target, which answers its own challenge or relays the handshake to the peer that holds it;
 * - (c) a prod gatehouse passes `*.stage.lab.test` through by SNI to a test gatehouse, which gets its certificate by
 *   tls-alpn-01 through prod; with the test instance gone, prod still never answers in its place and the order fails.
 */
import { describe, expect, it } from 'vitest';
import { acmeConfig, freshStateDir, probe, usePebble } from '../helpers/acme-lab.js';
import { type GatehouseProcess, startGatehouse } from '../helpers/gatehouse-process.js';
import type { LogLine } from '../helpers/log-lines.js';

const INSTANCES = ['127.0.0.2', '127.0.0.3', '127.0.0.4'] as const;
const pebble = usePebble();

/** Waits until `gh` logged the outcome of an order for each of `names`; returns the outcomes by name. */
async function outcomes(gh: GatehouseProcess, names: readonly string[]): Promise<Map<string, LogLine>> {
  const done = (l: LogLine) => l.msg === 'certificate obtained' || l.msg === 'certificate order failed';
  const named = (l: LogLine) => (l['names'] as string[] | undefined)?.[0];
  await gh.waitForLog(() => new Set(gh.logs.filter(done).map(named)).size >= names.length, 20_000);
  return new Map(gh.logs.filter(done).map((l) => [named(l)!, l]));
}

/** Whether `check` holds within 3 s: another process's log lines arrive through its own pipe, a little later. */
async function eventually(check: () => boolean): Promise<boolean> {
  for (let i = 0; i < 60 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
  return check();
}

describe('tls-alpn-01 in peers mode: three instances, every (orderer, target) pair', () => {
  it('valid for all 9 pairs; the target relays the 6 cross pairs to the orderer', async () => {
    const name = (orderer: number, target: number) => `o${orderer + 2}-t${target + 2}.rr.lab.test`;
    await Promise.all(INSTANCES.flatMap((_, o) => INSTANCES.map((target, t) => pebble.setA(name(o, t), target, ...INSTANCES.filter((a) => a !== target)))));
    const config = (address: string, names: string[]) => ({
      ...acmeConfig(pebble, address, names, ['tls-alpn-01']),
      challenges: { peers: { addresses: [...INSTANCES], httpPort: pebble.httpPort, tlsPort: pebble.tlsPort, timeout: '3s' } },
    });
    const states = await Promise.all(INSTANCES.map(() => freshStateDir()));
    const start = (i: number, names: string[]) => startGatehouse(config(INSTANCES[i]!, names), { env: { GATEHOUSE_STATE_DIR: states[i]! }, startTimeoutMs: 20_000 });
    // Every process that ran at an address, in order, so a target's log can be read after it was replaced.
    const ran: GatehouseProcess[][] = INSTANCES.map(() => []);

    const t0 = performance.now();
    // Round o: instance o starts with its three names while the other two are up and act as relays (the ones that
    // already ordered keep running); each order's authorization is validated at its target.
    const [b, c] = await Promise.all([start(1, []), start(2, [])]);
    ran[1]!.push(b);
    ran[2]!.push(c);
    for (let o = 0; o < INSTANCES.length; o++) {
      if (o > 0) await ran[o]!.at(-1)!.stop();
      const names = INSTANCES.map((_, t) => name(o, t));
      const orderer = await start(o, names);
      ran[o]!.push(orderer);
      const got = await outcomes(orderer, names);
      for (const n of names) expect(got.get(n)?.msg, JSON.stringify(got.get(n))).toBe('certificate obtained');
    }
    const elapsed = performance.now() - t0;
    console.log(`tls-alpn-01 peers mode: 9 (orderer, target) pairs valid in ${Math.round(elapsed)} ms (3 rounds, 5 gatehouse starts)`);

    const root = await pebble.root();
    for (let o = 0; o < INSTANCES.length; o++) {
      for (let t = 0; t < INSTANCES.length; t++) {
        const n = name(o, t);
        const served = await probe(INSTANCES[o]!, pebble.tlsPort, n, { ca: root });
        expect(served.authorized, `${n}: ${served.error}`).toBe(true);
        // The target's decision for the CA's handshakes: its own challenge, or relayed to the orderer.
        await eventually(() => ran[t]!.some((p) => p.logs.some((l) => l['sni'] === n && typeof l['answeredBy'] === 'string')));
        const lines = ran[t]!.flatMap((p) => p.logs).filter((l) => l['sni'] === n && typeof l['answeredBy'] === 'string');
        if (o === t) {
          expect(lines.some((l) => l['answeredBy'] === 'own')).toBe(true);
        } else {
          const relayed = lines.filter((l) => l.msg === 'acme-tls/1 handshake relayed to a peer');
          expect(relayed.length, `${n} at ${INSTANCES[t]}`).toBeGreaterThan(0);
          for (const l of relayed) expect(l['peer']).toBe(INSTANCES[o]);
          expect(lines.some((l) => l['answeredBy'] === 'none')).toBe(false);
          // The orderer answered the relayed handshake from the target's address, with its own challenge.
          const answered = ran[o]!.flatMap((p) => p.logs).filter((l) => l['sni'] === n && l['answeredBy'] === 'own');
          expect(answered.some((l) => l['clientIp'] === INSTANCES[t])).toBe(true);
        }
      }
    }
  }, 90_000);
});

describe('tls-alpn-01 through a passthrough (prod + test proxies, field note 000)', () => {
  const PROD = '127.0.0.2';
  const TEST = '127.0.0.3';
  const prodConfig = () => ({
    ...acmeConfig(pebble, PROD, ['www.lab.test'], ['tls-alpn-01']),
    tcp: {
      routers: { stage: { rule: 'HostSNI(`*.stage.lab.test`)', service: 'test-proxy' } },
      services: { 'test-proxy': { loadBalancer: { servers: [{ address: `${TEST}:${pebble.tlsPort}` }] } } },
    },
  });

  it('the test instance gets app2 through prod; prod gets its own; with test gone the order fails and prod never answers', async () => {
    await Promise.all(['www.lab.test', 'app2.stage.lab.test', 'app3.stage.lab.test'].map((n) => pebble.setA(n, PROD)));
    const prod = await startGatehouse(prodConfig(), { env: { GATEHOUSE_STATE_DIR: await freshStateDir() }, startTimeoutMs: 20_000 });
    const test = await startGatehouse(acmeConfig(pebble, TEST, ['app2.stage.lab.test'], ['tls-alpn-01']), { env: { GATEHOUSE_STATE_DIR: await freshStateDir() }, startTimeoutMs: 20_000 });
    const [prodGot, testGot] = await Promise.all([outcomes(prod, ['www.lab.test']), outcomes(test, ['app2.stage.lab.test'])]);
    expect(prodGot.get('www.lab.test')?.msg).toBe('certificate obtained');
    expect(testGot.get('app2.stage.lab.test')?.msg, JSON.stringify(testGot.get('app2.stage.lab.test'))).toBe('certificate obtained');
    // The CA's handshakes for app2 went through prod untouched, to the test instance's own challenge.
    expect(await eventually(() => prod.logs.some((l) => l['sni'] === 'app2.stage.lab.test' && l['answeredBy'] === 'passthrough' && l['router'] === 'stage'))).toBe(true);
    expect(test.logs.some((l) => l['sni'] === 'app2.stage.lab.test' && l['answeredBy'] === 'own')).toBe(true);
    // Through prod, a client sees the test instance's certificate.
    const root = await pebble.root();
    const viaProd = await probe(PROD, pebble.tlsPort, 'app2.stage.lab.test', { ca: root });
    const direct = await probe(TEST, pebble.tlsPort, 'app2.stage.lab.test', { ca: root });
    expect(viaProd.authorized, viaProd.error).toBe(true);
    expect(viaProd.cert?.serialNumber).toBe(direct.cert?.serialNumber);

    // Negative control: the test instance is gone. Another one (at 127.0.0.5, unreachable for prod's route) orders
    // app3; the CA's handshakes reach prod, which passes them to the dead address: the order fails.
    await test.stop();
    const stray = await startGatehouse(acmeConfig(pebble, '127.0.0.5', ['app3.stage.lab.test'], ['tls-alpn-01']), { env: { GATEHOUSE_STATE_DIR: await freshStateDir() }, startTimeoutMs: 20_000 });
    const strayGot = await outcomes(stray, ['app3.stage.lab.test']);
    expect(strayGot.get('app3.stage.lab.test')?.msg).toBe('certificate order failed');
    expect(String(strayGot.get('app3.stage.lab.test')?.['reason'])).toMatch(/tls-alpn-01 validation of app3.stage.lab.test failed/);
    expect(await eventually(() => prod.logs.some((l) => l['sni'] === 'app3.stage.lab.test' && l['answeredBy'] === 'passthrough'))).toBe(true);
    expect(prod.logs.some((l) => l['sni'] === 'app3.stage.lab.test' && l.msg === 'acme tls-alpn-01 challenge answered')).toBe(false);
  }, 60_000);
});
