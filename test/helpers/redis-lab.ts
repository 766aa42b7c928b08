/**
 * What the ACME tests of several instances on one Redis share: a gatehouse config with an http-01 and a tls-alpn-01
 * resolver against a test Pebble and its state in Redis (password through ${REDIS_PASSWORD}), a way to start several
 * instances that race for the locks only once all are connected, and bounded waits on their logs.
 */
import { createClient } from 'redis';
import { caId } from '../../src/acme/ca.js';
import { freshStateDir, probe } from './acme-lab.js';
import { startGatehouse, type GatehouseProcess } from './gatehouse-process.js';
import type { LogLine } from './log-lines.js';
import type { Pebble } from './pebble.js';
import { startRedis, type RedisServer } from './redis.js';

/** The password every Redis of these tests requires; the instances get it through the environment. */
export const REDIS_PASSWORD = 'redis-Secret-4-tests';

/** Names to manage: `http` by http-01 (resolver `h`), `alpn` by tls-alpn-01 (resolver `a`). */
export interface LabNames {
  readonly http?: readonly string[];
  readonly alpn?: readonly string[];
}

/** A config for an instance on `address` (Pebble's VA ports), one router per name, the state in Redis at `redisUrl`. */
export function redisAcmeConfig(pebble: Pebble, address: string, names: LabNames, redisUrl: string, keyPrefix: string): object {
  const acme = (challenges: string[]) => ({ acme: { caServer: pebble.directoryUrl, email: 'ops@lab.test', caBundle: pebble.apiCaFile, challenges } });
  const routers = [...(names.http ?? []).map((n) => [n, 'h'] as const), ...(names.alpn ?? []).map((n) => [n, 'a'] as const)];
  return {
    log: { level: 'info', accessLog: false },
    entryPoints: { web: { address: `${address}:${pebble.httpPort}` }, websecure: { address: `${address}:${pebble.tlsPort}`, tls: {} } },
    certificateResolvers: { h: acme(['http-01']), a: acme(['tls-alpn-01']) },
    // The password comes from the environment, as the docs say it should.
    storage: { redis: { url: redisUrl, password: '${REDIS_PASSWORD}', keyPrefix } },
    http: { routers: Object.fromEntries(routers.map(([n, r], i) => [`r${i}`, { rule: `Host(\`${n}\`)`, respond: { body: `hello ${n}\n` }, tls: { certResolver: r } }])) },
  };
}

/** Starts one instance with its own state directory. */
export async function startWithRedis(pebble: Pebble, address: string, names: LabNames, redisUrl: string, keyPrefix: string): Promise<GatehouseProcess> {
  // A loaded CI machine can take a while to start three processes at once.
  return startGatehouse(redisAcmeConfig(pebble, address, names, redisUrl, keyPrefix), { env: { GATEHOUSE_STATE_DIR: await freshStateDir(), REDIS_PASSWORD }, startTimeoutMs: 20_000 });
}

/**
 * Starts one gatehouse per address on an empty Redis whose locks for every name are held by the test, waits until
 * every instance is connected (both connections: its lock attempts answered, its challenge subscription counted
 * by Redis), then frees the locks: the instances race for them at their next look (within 5 s). So the race is
 * for the lock alone; none can order while another is still connecting (it would miss the challenge and fail the
 * CA's validation there, and the retry would be a second order for a reason that has nothing to do with the lock).
 * The caller stops `gate`.
 */
export async function startAllGated(pebble: Pebble, addresses: readonly string[], names: (address: string, index: number) => LabNames): Promise<{ ghs: GatehouseProcess[]; gate: RedisServer }> {
  const prefix = 'gated';
  const gate = await startRedis({ password: REDIS_PASSWORD });
  const client = createClient({ url: gate.url, password: REDIS_PASSWORD });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const all = addresses.flatMap((a, i) => [...(names(a, i).http ?? []), ...(names(a, i).alpn ?? [])]);
    const locks = [...new Set(all)].map((n) => `${prefix}:lock:cert:${caId(pebble.directoryUrl)}:${n}`);
    for (const key of locks) await client.set(key, 'held-by-the-test', { expiration: { type: 'PX', value: 120_000 } });
    const ghs = await Promise.all(addresses.map((a, i) => startWithRedis(pebble, a, names(a, i), gate.url, prefix)));
    const lockedOut = (gh: GatehouseProcess, n: string) => gh.logs.some((l) => l.msg === 'certificate being ordered by another instance' && (l['names'] as string[])[0] === n);
    const ready = await eventually(async () => {
      const subs = await client.pubSubNumSub(`${prefix}:challenges`);
      return Number(Object.values(subs)[0] ?? 0) === addresses.length && addresses.every((a, i) => [...(names(a, i).http ?? []), ...(names(a, i).alpn ?? [])].every((n) => lockedOut(ghs[i]!, n)));
    }, 20_000);
    if (!ready) throw new Error('the instances did not all connect to Redis within 20 s');
    await client.del(locks);
    return { ghs, gate };
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** Waits until `gh` logged the outcome of an order for each of `names`; returns the outcomes by name. */
export async function outcomes(gh: GatehouseProcess, names: readonly string[], timeoutMs = 30_000): Promise<Map<string, LogLine>> {
  const done = (l: LogLine) => l.msg === 'certificate obtained' || l.msg === 'certificate order failed';
  const named = (l: LogLine) => (l['names'] as string[] | undefined)?.[0];
  await gh.waitForLog(() => names.every((n) => gh.logs.some((l) => done(l) && named(l) === n)), timeoutMs);
  return new Map(gh.logs.filter(done).map((l) => [named(l)!, l]));
}

/** Polls `check` every 50 ms until it holds; false after `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 3_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

/**
 * Polls (bounded) until every address serves `name` with one serial that chains to `root` and is not `not`; returns
 * the serials seen last (undefined where the handshake failed or did not verify), for the assertion.
 */
export async function servedSerials(pebble: Pebble, addresses: readonly string[], name: string, root: string, options: { not?: string; timeoutMs?: number } = {}): Promise<(string | undefined)[]> {
  let serials: (string | undefined)[] = [];
  await eventually(async () => {
    const served = await Promise.all(addresses.map((a) => probe(a, pebble.tlsPort, name, { ca: root })));
    serials = served.map((s) => (s.authorized ? s.cert?.serialNumber : undefined));
    return serials.every((s) => s !== undefined && s === serials[0] && s !== options.not);
  }, options.timeoutMs ?? 20_000);
  return serials;
}
