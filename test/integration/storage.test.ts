/**
 * The storage contract (src/storage/types.ts), run the same way against the state directory and a real redis-server:
 * account, certificates, status, challenges with expiry, and the per-name lock (exclusive, expires, renewed, released
 * only by its holder). Then what only Redis has: change messages, a password, TLS, and a server that is down at start.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, type Logger } from '../../src/log.js';
import { createDirectoryStorage, type Storage } from '../../src/storage/index.js';
import { createRedisStorage } from '../../src/storage/redis.js';
import { runGatehouseCli, stopAllGatehouses } from '../helpers/gatehouse-process.js';
import { freePort, startRedis, type RedisServer } from '../helpers/redis.js';

/** A logger whose lines are kept as text, to grep for secrets and read the reasons. */
function memoryLogger(): { log: Logger; text: () => string; lines: () => Record<string, unknown>[] } {
  let text = '';
  const stream = new PassThrough();
  stream.setEncoding('utf8').on('data', (c: string) => (text += c));
  const log = createLogger({ level: 'debug', destination: stream });
  return { log, text: () => text, lines: () => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const KEY_PEM = '-----BEGIN PRIVATE KEY-----\nTESTKEYMATERIAL0123456789\n-----END PRIVATE KEY-----\n';
const CERT_PEM = '-----BEGIN CERTIFICATE-----\nTESTCERT\n-----END CERTIFICATE-----\n';
const LOCK_TTL_MS = 400;

let redis: RedisServer;
const dirs: string[] = [];
const opened: Storage[] = [];

beforeAll(async () => {
  redis = await startRedis();
}, 20_000);

afterAll(async () => {
  await stopAllGatehouses();
  await Promise.all(opened.map((s) => s.close()));
  await redis?.stop();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

interface Backend {
  readonly name: string;
  /** Several handles on one store, as several instances would have. */
  open(count: number): Promise<Storage[]>;
}

let prefixCounter = 0;
const backends: Backend[] = [
  {
    name: 'directory',
    async open(count) {
      const dir = await mkdtemp(join(tmpdir(), 'gatehouse-storage-'));
      dirs.push(dir);
      return Array.from({ length: count }, () => createDirectoryStorage(dir, LOCK_TTL_MS));
    },
  },
  {
    name: 'redis',
    async open(count) {
      const keyPrefix = `t${++prefixCounter}`;
      const stores = Array.from({ length: count }, () => createRedisStorage({ url: redis.url, keyPrefix, lockTtlMs: LOCK_TTL_MS }, createLogger({ level: 'silent' })));
      opened.push(...stores);
      for (const s of stores) expect(await s.whenAvailable(5_000)).toBe(true);
      return stores;
    },
  },
];

describe.each(backends)('storage contract: $name', (backend) => {
  it('keeps the account of a CA and email: absent, then key and URL', async () => {
    const [a, b] = (await backend.open(2)) as [Storage, Storage];
    expect(await a.ca('ca1').readAccount('ops@lab.test')).toBeUndefined();
    await a.ca('ca1').writeAccount('ops@lab.test', { keyPem: KEY_PEM });
    expect(await b.ca('ca1').readAccount('ops@lab.test')).toEqual({ keyPem: KEY_PEM });
    await a.ca('ca1').writeAccount('ops@lab.test', { keyPem: KEY_PEM, url: 'https://ca/acct/1' });
    expect(await b.ca('ca1').readAccount('ops@lab.test')).toEqual({ keyPem: KEY_PEM, url: 'https://ca/acct/1' });
    // Another CA, another email: separate.
    expect(await b.ca('ca2').readAccount('ops@lab.test')).toBeUndefined();
    expect(await b.ca('ca1').readAccount('dev@lab.test')).toBeUndefined();
  });

  it('keeps certificates with key and status; the stamp changes when the certificate is rewritten', async () => {
    const [a, b] = (await backend.open(2)) as [Storage, Storage];
    const main = 'www.lab.test';
    expect(await b.ca('ca1').readCertificate(main)).toBeUndefined();
    expect(await b.ca('ca1').certificateStamp(main)).toBeUndefined();
    const status = { resolver: 'le', names: [main], renewAt: '2030-01-01T00:00:00.000Z' };
    await a.ca('ca1').writeCertificate(main, CERT_PEM, KEY_PEM, status);
    expect(await b.ca('ca1').readCertificate(main)).toEqual({ certPem: CERT_PEM, keyPem: KEY_PEM, status });
    const stamp = await b.ca('ca1').certificateStamp(main);
    expect(stamp).toBeDefined();
    await a.ca('ca1').writeStatus(main, { ...status, lastError: 'boom' });
    expect((await b.ca('ca1').readStatus(main))?.lastError).toBe('boom');
    await sleep(15); // a file's mtime has millisecond resolution
    await a.ca('ca1').writeCertificate(main, CERT_PEM.replace('TESTCERT', 'OTHER'), KEY_PEM, status);
    expect(await b.ca('ca1').certificateStamp(main)).not.toBe(stamp);
    expect(a.ca('ca1').describe(main)).toMatch(backend.name === 'redis' ? /^redis:t\d+:cert:ca1:www\.lab\.test$/ : /certificates\/www\.lab\.test\/fullchain\.pem$/);
  });

  it('keeps pending challenges until they expire or are removed', async () => {
    const [a, b] = (await backend.open(2)) as [Storage, Storage];
    await a.putChallenge('http', 'tok-ABC_123', 'tok-ABC_123.thumb', 10_000);
    await a.putChallenge('alpn', 'rr.lab.test', '{"cert":"c","key":"k"}', 10_000);
    await a.putChallenge('http', 'short-lived', 'x', 150);
    expect(await b.getChallenge('http', 'tok-ABC_123')).toBe('tok-ABC_123.thumb');
    expect(await b.getChallenge('alpn', 'rr.lab.test')).toBe('{"cert":"c","key":"k"}');
    expect(await b.getChallenge('http', 'short-lived')).toBe('x');
    expect(await b.getChallenge('http', 'unknown')).toBeUndefined();
    await sleep(300);
    expect(await b.getChallenge('http', 'short-lived')).toBeUndefined();
    await b.removeChallenge('http', 'tok-ABC_123');
    expect(await a.getChallenge('http', 'tok-ABC_123')).toBeUndefined();
    await b.removeChallenge('http', 'never-there'); // no-op
  });

  it('a lock is exclusive: of ten instances trying at once exactly one gets it', async () => {
    const stores = await backend.open(10);
    const locks = await Promise.all(stores.map((s) => s.tryLock('cert:ca1:race.lab.test')));
    expect(locks.filter(Boolean)).toHaveLength(1);
    // Another name is independent.
    expect(await stores[0]!.tryLock('cert:ca1:other.lab.test')).toBeDefined();
  });

  it('a lock expires after its TTL (a crashed holder), renewing keeps it, and only its holder releases it', async () => {
    const [a, b] = (await backend.open(2)) as [Storage, Storage];
    const held = (await a.tryLock('cert:ca1:ttl.lab.test'))!;
    expect(held).toBeDefined();
    expect(await b.tryLock('cert:ca1:ttl.lab.test')).toBeUndefined();
    // Renewed every 150 ms for 2.5 TTLs: nobody else gets it.
    for (let i = 0; i < 7; i++) {
      await sleep(150);
      expect(await held.renew()).toBe(true);
      expect(await b.tryLock('cert:ca1:ttl.lab.test')).toBeUndefined();
    }
    // Released: free at once.
    await held.release();
    const second = (await b.tryLock('cert:ca1:ttl.lab.test'))!;
    expect(second).toBeDefined();
    // Not renewed: it expires, and a late release or renew by the old holder changes nothing.
    await sleep(LOCK_TTL_MS + 150);
    const third = (await a.tryLock('cert:ca1:ttl.lab.test'))!;
    expect(third).toBeDefined();
    expect(await second.renew()).toBe(false);
    await second.release();
    expect(await b.tryLock('cert:ca1:ttl.lab.test')).toBeUndefined();
    await third.release();
  });
});

describe('Redis only', () => {
  it('tells other instances that a certificate was stored (pub/sub), not the writer itself', async () => {
    const keyPrefix = 'events';
    const mk = () => createRedisStorage({ url: redis.url, keyPrefix, lockTtlMs: 1_000 }, createLogger({ level: 'silent' }));
    const a = mk();
    const b = mk();
    opened.push(a, b);
    await Promise.all([a.whenAvailable(5_000), b.whenAvailable(5_000)]);
    const seenA: string[] = [];
    const seenB: string[] = [];
    a.onCertificateChanged((ca, main) => seenA.push(`${ca}/${main}`));
    b.onCertificateChanged((ca, main) => seenB.push(`${ca}/${main}`));
    await sleep(100); // the subscriptions are made on connect
    await a.ca('ca9').writeCertificate('pub.lab.test', CERT_PEM, KEY_PEM, { resolver: 'le', names: ['pub.lab.test'] });
    await waitUntil(() => seenB.length === 1, 2_000);
    expect(seenB).toEqual(['ca9/pub.lab.test']);
    expect(seenA).toEqual([]);
  });

  it('with a password: the right one works; a wrong one is logged as an authentication failure, and never the password', async () => {
    const password = 'S3cret-redis-pass';
    const server = await startRedis({ password });
    try {
      const good = memoryLogger();
      const ok = createRedisStorage({ url: server.url, password, keyPrefix: 'p', lockTtlMs: 1_000 }, good.log);
      opened.push(ok);
      expect(await ok.whenAvailable(5_000)).toBe(true);
      await ok.ca('ca').writeAccount('ops@lab.test', { keyPem: KEY_PEM });
      expect((await ok.ca('ca').readAccount('ops@lab.test'))?.keyPem).toBe(KEY_PEM);

      const bad = memoryLogger();
      const wrong = createRedisStorage({ url: server.url, password: 'not-the-password', keyPrefix: 'p', lockTtlMs: 1_000 }, bad.log);
      opened.push(wrong);
      expect(await wrong.whenAvailable(1_000)).toBe(false);
      await waitUntil(() => bad.lines().some((l) => l['msg'] === 'redis unavailable, retrying'), 3_000);
      const line = bad.lines().find((l) => l['msg'] === 'redis unavailable, retrying')!;
      expect(line['code']).toBe('STORAGE_UNAVAILABLE');
      expect(String(line['reason'])).toMatch(/authentication failed/);
      await expect(wrong.ca('ca').readAccount('ops@lab.test')).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE', message: expect.stringMatching(/authentication failed/) });

      const none = memoryLogger();
      const missing = createRedisStorage({ url: server.url, keyPrefix: 'p', lockTtlMs: 1_000 }, none.log);
      opened.push(missing);
      await waitUntil(() => none.lines().some((l) => /password/.test(String(l['reason']))), 3_000);
      for (const text of [good.text(), bad.text(), none.text()]) {
        expect(text).not.toContain(password);
        expect(text).not.toContain('not-the-password');
        expect(text).not.toContain('TESTKEYMATERIAL');
      }
      await Promise.all([wrong.close(), missing.close()]);
    } finally {
      await server.stop();
    }
  });

  it('over TLS (rediss://): trusted through caFile it works; without it the log says the certificate is not trusted', async () => {
    const server = await startRedis({ tls: true });
    try {
      const { readFile } = await import('node:fs/promises');
      const caPem = await readFile(server.caFile!, 'utf8');
      const ok = createRedisStorage({ url: server.url, caPem, keyPrefix: 'tls', lockTtlMs: 1_000 }, createLogger({ level: 'silent' }));
      opened.push(ok);
      expect(await ok.whenAvailable(5_000)).toBe(true);
      expect(await ok.tryLock('cert:ca:tls.lab.test')).toBeDefined();

      const untrusted = memoryLogger();
      const no = createRedisStorage({ url: server.url, keyPrefix: 'tls', lockTtlMs: 1_000 }, untrusted.log);
      opened.push(no);
      await waitUntil(() => untrusted.lines().some((l) => l['msg'] === 'redis unavailable, retrying'), 3_000);
      expect(String(untrusted.lines().find((l) => l['msg'] === 'redis unavailable, retrying')!['reason'])).toMatch(/TLS certificate not trusted.*caFile/);

      await no.close();
    } finally {
      await server.stop();
    }
  });

  it('a Redis that is down at start: operations fail fast with the cause, and it connects by itself when Redis comes up', async () => {
    const port = await freePort();
    const mem = memoryLogger();
    const store = createRedisStorage({ url: `redis://127.0.0.1:${port}`, keyPrefix: 'late', lockTtlMs: 1_000 }, mem.log);
    opened.push(store);
    let available = 0;
    store.onAvailable(() => available++);
    expect(await store.whenAvailable(500)).toBe(false);
    const t0 = Date.now();
    await expect(store.tryLock('cert:ca:late.lab.test')).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE', message: expect.stringMatching(/connection refused/) });
    expect(Date.now() - t0).toBeLessThan(100);
    expect(String(mem.lines().find((l) => l['msg'] === 'redis unavailable, retrying')?.['reason'])).toMatch(/connection refused/);
    const server = await startRedis({ port });
    try {
      await waitUntil(() => available === 1, 8_000);
      expect(await store.whenAvailable(100)).toBe(true);
      expect(await store.tryLock('cert:ca:late.lab.test')).toBeDefined();
      expect(mem.lines().some((l) => l['msg'] === 'redis connected' && l['recovered'] === true)).toBe(true);
      // One line per new cause, not one per retry.
      expect(mem.lines().filter((l) => l['msg'] === 'redis unavailable, retrying' && l['role'] === 'commands').length).toBeLessThanOrEqual(2);
    } finally {
      await server.stop();
    }
  });

  it('a storage.redis.url that is not redis:// or rediss:// is refused by `gatehouse check` and by start, naming the key', async () => {
    const config = {
      entryPoints: { websecure: { address: '127.0.0.1:0', tls: {} } },
      certificateResolvers: { le: { acme: { caServer: 'https://127.0.0.1:1/dir', email: 'ops@lab.test' } } },
      storage: { redis: { url: 'http://127.0.0.1:6379' } },
      http: { routers: { r: { rule: 'Host(`a.lab.test`)', respond: { body: 'x' }, tls: { certResolver: 'le' } } } },
    };
    const checked = await runGatehouseCli(['check'], { config });
    expect(checked.code).toBe(1);
    expect(checked.stdout + checked.stderr).toMatch(/storage\/redis\/url.*redis:\/\/ or rediss:\/\/.*STORAGE_CONFIG/);
    const started = await runGatehouseCli(['start'], { config, env: { GATEHOUSE_STATE_DIR: await mkdtemp(join(tmpdir(), 'gatehouse-storage-')) } });
    expect(started.code).not.toBe(0);
    expect(started.stdout + started.stderr).toMatch(/STORAGE_CONFIG/);
  });
});
