/**
 * The Redis backend: every instance pointed at one Redis shares the account, the certificates and keys, the pending
 * challenges and the per-name locks. Keys, under `keyPrefix` (default `gatehouse`):
 *   <p>:account:<ca>:<email>        hash  key, url
 *   <p>:cert:<ca>:<main>            hash  cert, key, status, stamp (written in one HSET, so a reader never sees a mix)
 *   <p>:challenge:<http|alpn>:<k>   string with an expiry (PX)
 *   <p>:lock:<name>                 string: the holder's random token, with an expiry (SET NX PX)
 * Channels: <p>:events (a certificate was stored), and the challenge channels of src/challenges/shared-registry.ts.
 * The lock follows the single-instance Redis pattern (redis.io "Distributed locks"): SET NX PX to take, a Lua
 * compare-and-expire to renew and compare-and-delete to release, so only the holder's token can extend or free it.
 */
import { randomBytes } from 'node:crypto';
import type { RedisClientType } from 'redis';
import type { Logger } from '../log.js';
import { connectRedis, type RedisConnection, type RedisSettings } from './redis-connection.js';
import { parseStored, type CaStorage, type CertificateStatus, type ChallengeKind, type Storage, type StorageLock, type StoredAccount, type StoredCertificate } from './types.js';

/** The Redis backend, with the pub/sub the shared challenge registry builds on. */
export interface RedisStorage extends Storage {
  readonly kind: 'redis';
  /** This process's id in messages (so it can skip its own). */
  readonly instanceId: string;
  /** Publishes on `<prefix>:<channel>`; resolves how many subscribers received it (PUBLISH's reply). */
  publish(channel: string, message: string): Promise<number>;
  /**
   * Subscribes to `<prefix>:<channel>` (once Redis is up); the subscription survives reconnections, and
   * `onSubscribed` runs each time it is (re)established.
   */
  subscribe(channel: string, listener: (message: string) => void, onSubscribed?: () => void): void;
  /** Resolves true once `channel`'s subscription is up (at once when it is); false after `timeoutMs`. */
  whenSubscribed(channel: string, timeoutMs: number): Promise<boolean>;
  /** Every pending challenge of `kind` in the store (to fill a cache after a (re)connect). */
  pendingChallenges(kind: ChallengeKind): Promise<[key: string, value: string][]>;
}

/** Extends the lock's expiry only for its holder. */
const RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
/** Deletes the lock only for its holder (a lock that expired and was taken by another stays theirs). */
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
/** Most keys one SCAN of pending challenges reads, so a huge keyspace cannot stall a (re)connect. */
const SCAN_LIMIT = 10_000;

/** Connects (in the background) and returns the backend; operations reject with STORAGE_UNAVAILABLE while Redis is down. */
export function createRedisStorage(settings: RedisSettings & { keyPrefix: string; lockTtlMs: number }, log: Logger): RedisStorage {
  const instanceId = randomBytes(8).toString('hex');
  const conn = connectRedis({ ...settings, clientName: `gatehouse:${instanceId}` }, log);
  const p = settings.keyPrefix;
  const cas = new Map<string, RedisCaStorage>();
  const changeListeners = new Set<(caId: string, main: string) => void>();
  const subscribe = (channel: string, listener: (message: string) => void, onSubscribed?: () => void) => conn.subscribe(`${p}:${channel}`, listener, onSubscribed);
  subscribe('events', (message) => {
    const event = parseStored<{ type: string; ca: string; main: string; from: string }>(message);
    if (event?.type !== 'certificate' || event.from === instanceId) return;
    for (const l of changeListeners) l(event.ca, event.main);
  });
  const publish = (channel: string, message: string) => conn.run('publish', (c) => c.publish(`${p}:${channel}`, message));
  return {
    kind: 'redis',
    lockTtlMs: settings.lockTtlMs,
    instanceId,
    ca(caId) {
      let ca = cas.get(caId);
      if (!ca) cas.set(caId, (ca = new RedisCaStorage(conn, `${p}:`, caId, (main) => publish('events', JSON.stringify({ type: 'certificate', ca: caId, main, from: instanceId })))));
      return ca;
    },
    async tryLock(name) {
      const key = `${p}:lock:${name}`;
      const token = randomBytes(16).toString('hex');
      const ttl = settings.lockTtlMs;
      const got = await conn.run('lock', (c) => c.set(key, token, { condition: 'NX', expiration: { type: 'PX', value: ttl } }));
      if (got !== 'OK') return undefined;
      return {
        name,
        renew: async () => Number(await conn.run('lock renew', (c) => c.eval(RENEW, { keys: [key], arguments: [token, String(ttl)] }))) === 1,
        // Never throws: a lock that cannot be released expires by itself.
        release: async () => void (await conn.run('lock release', (c) => c.eval(RELEASE, { keys: [key], arguments: [token] })).catch(() => undefined)),
      } satisfies StorageLock;
    },
    async putChallenge(kind, key, value, ttlMs) {
      await conn.run('challenge put', (c) => c.set(`${p}:challenge:${kind}:${key}`, value, { expiration: { type: 'PX', value: ttlMs } }));
    },
    async getChallenge(kind, key) {
      return (await conn.run('challenge get', (c) => c.get(`${p}:challenge:${kind}:${key}`))) ?? undefined;
    },
    async removeChallenge(kind, key) {
      await conn.run('challenge remove', (c) => c.del(`${p}:challenge:${kind}:${key}`));
    },
    async pendingChallenges(kind) {
      const prefix = `${p}:challenge:${kind}:`;
      return conn.run('challenge scan', async (c) => {
        const keys: string[] = [];
        for await (const batch of c.scanIterator({ MATCH: `${prefix}*`, COUNT: 100 })) {
          keys.push(...batch);
          if (keys.length >= SCAN_LIMIT) break;
        }
        if (keys.length === 0) return [];
        const values = await c.mGet(keys);
        return keys.flatMap((k, i) => (values[i] != null ? [[k.slice(prefix.length), values[i]] as [string, string]] : []));
      });
    },
    publish,
    subscribe,
    whenSubscribed: (channel, timeoutMs) => conn.whenSubscribed(`${p}:${channel}`, timeoutMs),
    onCertificateChanged: (listener) => {
      changeListeners.add(listener);
      return () => void changeListeners.delete(listener);
    },
    whenAvailable: (timeoutMs) => conn.whenReady(timeoutMs),
    onAvailable: (listener) => conn.onReady(listener),
    close: () => conn.close(),
  };
}

/** One CA's keys. */
class RedisCaStorage implements CaStorage {
  constructor(
    private readonly conn: RedisConnection,
    private readonly prefix: string,
    private readonly caId: string,
    private readonly changed: (main: string) => Promise<number>,
  ) {}

  #account(email: string): string {
    return `${this.prefix}account:${this.caId}:${email.toLowerCase()}`;
  }

  #cert(main: string): string {
    return `${this.prefix}cert:${this.caId}:${main.toLowerCase()}`;
  }

  describe(main: string): string {
    return `redis:${this.#cert(main)}`;
  }

  async readAccount(email: string): Promise<StoredAccount | undefined> {
    const h = await this.conn.run('account read', (c: RedisClientType) => c.hGetAll(this.#account(email)));
    if (!h['key']) return undefined;
    return h['url'] ? { keyPem: h['key'], url: h['url'] } : { keyPem: h['key'] };
  }

  async writeAccount(email: string, account: StoredAccount): Promise<void> {
    await this.conn.run('account write', (c) => c.hSet(this.#account(email), { key: account.keyPem, ...(account.url !== undefined ? { url: account.url } : {}) }));
  }

  async readCertificate(main: string): Promise<StoredCertificate | undefined> {
    const h = await this.conn.run('certificate read', (c) => c.hGetAll(this.#cert(main)));
    if (!h['cert'] || !h['key']) return undefined;
    return { certPem: h['cert'], keyPem: h['key'], status: parseStored<CertificateStatus>(h['status']) };
  }

  async readStatus(main: string): Promise<CertificateStatus | undefined> {
    return parseStored<CertificateStatus>((await this.conn.run('status read', (c) => c.hGet(this.#cert(main), 'status'))) ?? undefined);
  }

  async writeCertificate(main: string, certPem: string, keyPem: string, status: CertificateStatus): Promise<void> {
    const stamp = `${Date.now()}:${randomBytes(4).toString('hex')}`;
    await this.conn.run('certificate write', (c) => c.hSet(this.#cert(main), { cert: certPem, key: keyPem, status: JSON.stringify(status), stamp }));
    // Best effort: an instance that misses the message finds the certificate at its next periodic check.
    await this.changed(main).catch(() => undefined);
  }

  async writeStatus(main: string, status: CertificateStatus): Promise<void> {
    await this.conn.run('status write', (c) => c.hSet(this.#cert(main), 'status', JSON.stringify(status)));
  }

  async certificateStamp(main: string): Promise<string | undefined> {
    return (await this.conn.run('certificate stamp', (c) => c.hGet(this.#cert(main), 'stamp'))) ?? undefined;
  }
}
