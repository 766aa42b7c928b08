/**
 * Several instances sharing one Redis, against a real Pebble and a real redis-server (../shared/acme/README.md
 * scenario (e), Redis mode):
 * - lock: three gatehouses on 127.0.0.2/.3/.4 start together with an empty store; Pebble gets exactly one order and
 *   all three serve the same serial; a fourth instance started later serves it from Redis without ordering;
 * - every (orderer, target) pair of the three, for http-01 and for tls-alpn-01: the target answers the orderer's
 *   challenge from the shared store (no peers configured);
 * - a Redis that is down at start: gatehouse serves its default certificate, logs the real cause, orders nothing,
 *   and obtains the certificate once Redis is up;
 * - a Redis lost during an order (the connection cut when the certificate is written): the certificate is served at
 *   once and stored once Redis is back.
 */
import { describe, expect, it } from 'vitest';
import { probe, usePebble } from '../helpers/acme-lab.js';
import { type GatehouseProcess, stopAllGatehouses } from '../helpers/gatehouse-process.js';
import type { LogLine } from '../helpers/log-lines.js';
import { eventually, outcomes, REDIS_PASSWORD as PASSWORD, servedSerials, startAllGated, startWithRedis } from '../helpers/redis-lab.js';
import { freePort, startRedis } from '../helpers/redis.js';
import { startFaultProxy } from '../helpers/tcp-fault.js';

const INSTANCES = ['127.0.0.2', '127.0.0.3', '127.0.0.4'] as const;
const pebble = usePebble();

/** Nothing secret in a process's output: no PEM private key, not the Redis password. */
function expectNoSecrets(gh: GatehouseProcess): void {
  const text = JSON.stringify(gh.logs) + gh.stderr();
  expect(text).not.toMatch(/PRIVATE KEY/);
  expect(text).not.toContain(PASSWORD);
}

describe('several instances on one Redis (scenario (e), Redis mode)', () => {
  it('three instances starting together with an empty store place exactly one order and serve the same serial', async () => {
    const name = 'lock.rr.lab.test';
    await pebble.setA(name, ...INSTANCES);
    const before = pebble.orders();
    const { ghs, gate } = await startAllGated(pebble, INSTANCES, () => ({ http: [name] }));
    try {
      const t0 = performance.now();
      const root = await pebble.root();
      const serials = await servedSerials(pebble, INSTANCES, name, root);
      const allServingMs = performance.now() - t0;
      expect(serials[0], `serials served: ${serials.join(', ')}`).toBeDefined();
      expect(new Set(serials).size, `serials served: ${serials.join(', ')}`).toBe(1);
      console.log(`Redis lock: 3 instances, all serving the same serial ${Math.round(allServingMs)} ms after the test freed the locks`);
      const story = () => ghs.map((g, i) => `${INSTANCES[i]}:\n${g.logs.filter((l) => /order|lock|storage|certificate|account/.test(String(l.msg))).map((l) => `  ${String(l['time']).slice(11)} ${l.msg} ${String(l['reason'] ?? '')}`).join('\n')}`).join('\n');
      expect(pebble.orders() - before, story()).toBe(1);
      const orderers = ghs.filter((g) => g.logs.some((l) => l.msg === 'acme order placed'));
      expect(orderers).toHaveLength(1);
      for (const g of ghs.filter((x) => x !== orderers[0])) {
        // Its log line may still sit in the process's output buffer (flushed within 250 ms).
        await g.waitForLog((l) => l.msg === 'certificate loaded from storage' && (l['names'] as string[])[0] === name);
      }

      // A fourth instance, started later: the certificate comes from Redis at load, nothing is ordered.
      const late = await startWithRedis(pebble, '127.0.0.5', { http: [name] }, gate.url, 'gated');
      const served = await probe('127.0.0.5', pebble.tlsPort, name, { ca: root });
      expect(served.authorized, served.error).toBe(true);
      expect(served.cert?.serialNumber).toBe(serials[0]);
      await new Promise((r) => setTimeout(r, 300));
      expect(pebble.orders() - before).toBe(1);
      expect(late.logs.some((l) => l.msg === 'acme order placed')).toBe(false);
      for (const g of [...ghs, late]) expectNoSecrets(g);
    } finally {
      await stopAllGatehouses();
      await gate.stop();
    }
  }, 60_000);

  it('every (orderer, target) pair is valid, for http-01 and for tls-alpn-01: the target answers from the shared store', async () => {
    const name = (kind: 'h' | 'a', o: number, t: number) => `o${o + 2}-t${t + 2}.${kind}.rr.lab.test`;
    const pairs = INSTANCES.flatMap((_, o) => INSTANCES.map((__, t) => [o, t] as const));
    await Promise.all(pairs.flatMap(([o, t]) => (['h', 'a'] as const).map((k) => pebble.setA(name(k, o, t), INSTANCES[t]!, ...INSTANCES.filter((x) => x !== INSTANCES[t])))));
    const { ghs, gate } = await startAllGated(pebble, INSTANCES, (_, o) => ({ http: INSTANCES.map((__, t) => name('h', o, t)), alpn: INSTANCES.map((__, t) => name('a', o, t)) }));
    try {
      const t0 = performance.now();
      const got = await Promise.all(ghs.map((g, o) => outcomes(g, [...INSTANCES.map((_, t) => name('h', o, t)), ...INSTANCES.map((_, t) => name('a', o, t))])));
      console.log(`Redis mode: 18 orders (9 pairs × http-01, tls-alpn-01) done ${Math.round(performance.now() - t0)} ms after the test freed the locks`);
      const root = await pebble.root();
      for (const [o, t] of pairs) {
        for (const kind of ['h', 'a'] as const) {
          const n = name(kind, o, t);
          expect(got[o]!.get(n)?.msg, `${n}: ${JSON.stringify(got[o]!.get(n))}`).toBe('certificate obtained');
          const served = await probe(INSTANCES[o]!, pebble.tlsPort, n, { ca: root });
          expect(served.authorized, `${n}: ${served.error}`).toBe(true);
          // The CA validated at the target, and the target answered (its cache was filled through Redis).
          const target = ghs[t]!;
          const answered = (l: LogLine) =>
            kind === 'h' ? l.msg === 'acme challenge answered' && String(l['host']).startsWith(n) : l.msg === 'acme tls-alpn-01 challenge answered' && l['sni'] === n;
          expect(await eventually(() => target.logs.some(answered)), `${n} answered at ${INSTANCES[t]}`).toBe(true);
        // From its cache, filled through pub/sub before the CA was told to validate (not a lookup in Redis).
        expect(target.logs.filter(answered).every((l) => l['answeredBy'] === 'own'), JSON.stringify(target.logs.filter(answered))).toBe(true);
        }
      }
      // Each challenge reached all three instances before the CA was told to validate.
      for (const g of ghs) {
        const shared = g.logs.filter((l) => l.msg === 'acme challenge shared');
        expect(shared.length).toBe(6);
        for (const l of shared) expect(l['acknowledged']).toBe(3);
        expectNoSecrets(g);
      }
    } finally {
      await stopAllGatehouses();
      await gate.stop();
    }
  }, 90_000);

  it('Redis down at start: serves the default certificate, logs the cause, orders nothing; obtains the certificate once Redis is up', async () => {
    const name = 'late.rr.lab.test';
    await pebble.setA(name, INSTANCES[0]);
    const port = await freePort();
    const before = pebble.orders();
    const gh = await startWithRedis(pebble, INSTANCES[0], { http: [name] }, `redis://127.0.0.1:${port}`, 'down');
    const fallback = await probe(INSTANCES[0], pebble.tlsPort, name);
    expect(fallback.error).toBeUndefined();
    expect(String(fallback.cert?.issuer.CN)).not.toMatch(/Pebble/);
    const down = await gh.waitForLog((l) => l.msg === 'redis unavailable, retrying');
    expect(down['code']).toBe('STORAGE_UNAVAILABLE');
    expect(String(down['reason'])).toMatch(/connection refused/);
    expect(String(down['redis'])).toBe(`redis://127.0.0.1:${port}`);
    const postponed = await gh.waitForLog((l) => l.msg === 'certificate storage unavailable, order postponed');
    expect(postponed['names']).toEqual([name]);
    expect(pebble.orders()).toBe(before);

    const late = await startRedis({ port, password: PASSWORD });
    try {
      await gh.waitForLog((l) => l.msg === 'redis connected' && l['recovered'] === true, 10_000);
      const obtained = await gh.waitForLog((l) => l.msg === 'certificate obtained' || l.msg === 'certificate order failed', 20_000);
      expect(obtained.msg, JSON.stringify(obtained)).toBe('certificate obtained');
      const served = await probe(INSTANCES[0], pebble.tlsPort, name, { ca: await pebble.root() });
      expect(served.authorized, served.error).toBe(true);
      expectNoSecrets(gh);
      expect(gh.exited).toBeDefined();
    } finally {
      await gh.stop();
      await late.stop();
    }
  }, 60_000);

  // The fault is put exactly on the write of the certificate: a proxy between gatehouse and Redis cuts every
  // connection and closes its port when the certificate's HSET goes out (that command never reaches Redis).
  it('Redis lost during an order: the certificate is served at once and stored when Redis is back; another instance then loads it', async () => {
    const name = 'lost.rr.lab.test';
    await pebble.setA(name, INSTANCES[0]);
    const server = await startRedis({ password: PASSWORD });
    const proxy = await startFaultProxy(server.port);
    const cut = proxy.cutOn(/\r\nHSET\r\n\$\d+\r\nlost:cert:[^\r]*\r\n\$4\r\ncert\r\n/i);
    const gh = await startWithRedis(pebble, INSTANCES[0], { http: [name] }, `redis://127.0.0.1:${proxy.port}`, 'lost');
    try {
      const obtained = await gh.waitForLog((l) => l.msg === 'certificate obtained' || l.msg === 'certificate order failed', 20_000);
      expect(obtained.msg, JSON.stringify(obtained)).toBe('certificate obtained');
      const unsaved = await gh.waitForLog((l) => l.msg === 'certificate obtained but not stored, retrying');
      expect(unsaved['code']).toBe('STORAGE_UNAVAILABLE');
      await cut;
      const root = await pebble.root();
      const served = await probe(INSTANCES[0], pebble.tlsPort, name, { ca: root });
      expect(served.authorized, served.error).toBe(true);

      await proxy.up();
      await gh.waitForLog((l) => l.msg === 'redis connected' && l['role'] === 'commands' && l['recovered'] === true, 10_000);
      const stored = await gh.waitForLog((l) => l.msg === 'certificate stored once storage was back', 10_000);
      expect(stored['names']).toEqual([name]);
      // It went on under the lock it kept, not taking its own lock for another instance's and waiting for it to expire.
      expect(gh.logs.some((l) => l.msg === 'certificate being ordered by another instance')).toBe(false);
      const orders = pebble.orders();
      const other = await startWithRedis(pebble, INSTANCES[1], { http: [name] }, server.url, 'lost');
      const fromStore = await eventually(async () => (await probe(INSTANCES[1], pebble.tlsPort, name, { ca: root })).cert?.serialNumber === served.cert?.serialNumber, 10_000);
      expect(fromStore).toBe(true);
      expect(pebble.orders()).toBe(orders);
      expect(other.logs.some((l) => l.msg === 'acme order placed')).toBe(false);
    } finally {
      await gh.stop().catch(() => undefined);
      await proxy.stop();
      await server.stop();
    }
  }, 60_000);
});
