/**
 * A challenge registry shared by every instance on one Redis (src/storage/redis.ts), for round-robin DNS where the
 * CA may validate against an instance that did not order (field note 002). The edge's reads stay synchronous, from
 * a local cache; a put writes the local cache, Redis (with an expiry) and a pub/sub message that makes every other
 * instance fill its cache. `published()` resolves once every subscriber acknowledged the message (bounded), and the
 * order waits for it before telling the CA to validate: so when the CA's request or handshake reaches another
 * instance, its synchronous read already hits. That is what lets a tls-alpn-01 handshake (which carries only the
 * name) be answered by any instance without the TLS listener waiting on Redis. An instance that missed the message
 * (it started or reconnected later) fills its cache from Redis on every (re)connect, and the async
 * `fetchHttpKeyAuthorization` / `fetchAlpnContext` ask Redis on a miss, bounded by `FETCH_TIMEOUT_MS`.
 * The state directory backend has no such channel: several instances on a shared directory answer challenges
 * through `challenges.peers` or stateless http-01, with the in-memory registry.
 */
import { randomBytes } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { Logger } from '../log.js';
import { CHALLENGE_TTL_MS, parseStored, type ChallengeKind, type RedisStorage } from '../storage/index.js';
import type { ChallengeRegistry } from './registry.js';

/** A registry whose puts reach other instances; `published` and `close` come on top of the registry contract. */
export interface SharedChallengeRegistry extends ChallengeRegistry {
  /** Resolves when the put of `key` reached every instance subscribed (or after the bound); never rejects. */
  published(kind: ChallengeKind, key: string): Promise<void>;
  close(): void;
}

/** Whether `registry` shares its challenges with other instances (then an order awaits `published`). */
export function isSharedRegistry(registry: ChallengeRegistry): registry is SharedChallengeRegistry {
  return typeof (registry as Partial<SharedChallengeRegistry>).published === 'function';
}

/**
 * Longest wait for the other instances' acknowledgements before the CA is asked anyway. It covers an instance whose
 * command connection (which sends its acknowledgement) comes back one reconnect step (≤ 2.4 s) after its subscription.
 */
const ACK_TIMEOUT_MS = 5_000;
/** Longest wait for Redis on a cache miss: the CA's own request times out after 15 s (Pebble, Let's Encrypt). */
const FETCH_TIMEOUT_MS = 1_000;
const CHANNEL = 'challenges';
const ACK_CHANNEL = 'challenge-acks';

interface Message {
  readonly op: 'put' | 'remove';
  readonly kind: ChallengeKind;
  readonly key: string;
  readonly value?: string;
  readonly expiresAt?: number;
  readonly id: string;
  readonly from: string;
}

interface Cached<T> {
  readonly value: T;
  readonly expiresAt: number;
}

/** Builds the registry on `store`; subscribes at once (the subscription waits for Redis when it is down). */
export function createSharedChallengeRegistry(store: RedisStorage, log: Logger): SharedChallengeRegistry {
  const tokens = new Map<string, Cached<string>>();
  const alpn = new Map<string, Cached<SecureContext>>();
  const pending = new Map<string, Promise<void>>();
  const waiting = new Map<string, { acks: number; expected: number | undefined; done: () => void }>();
  let closed = false;

  const fresh = <T>(map: Map<string, Cached<T>>, key: string): T | undefined => {
    const hit = map.get(key);
    if (hit === undefined) return undefined;
    if (hit.expiresAt > Date.now()) return hit.value;
    map.delete(key);
    return undefined;
  };
  /** Fills the cache from a stored value; a malformed alpn value is dropped (never served half-made). */
  const fill = (kind: ChallengeKind, key: string, value: string, expiresAt: number) => {
    if (kind === 'http') return void tokens.set(key, { value, expiresAt });
    try {
      const { cert, key: keyPem } = JSON.parse(value) as { cert: string; key: string };
      alpn.set(key, { value: createSecureContext({ cert, key: keyPem, minVersion: 'TLSv1.2' }), expiresAt });
    } catch (err) {
      log.warn({ domain: key, reason: (err as Error).message }, 'shared acme-tls/1 challenge unusable');
    }
  };
  const drop = (kind: ChallengeKind, key: string) => void (kind === 'http' ? tokens.delete(key) : alpn.delete(key));
  /**
   * Once subscribed (first time, and after every reconnect), reads what is pending in Redis. A put stores before it
   * publishes, so any put is either seen here or received as a message: none falls between the two. Run again when
   * the command connection comes back, which may be after the subscription.
   */
  const refill = async () => {
    if (!(await store.whenAvailable(5_000))) return; // the next (re)subscription tries again
    for (const kind of ['http', 'alpn'] as const) {
      const entries = await store.pendingChallenges(kind).catch(() => []);
      for (const [key, value] of entries) if (!(kind === 'http' ? tokens : alpn).has(key)) fill(kind, key, value, Date.now() + CHALLENGE_TTL_MS);
    }
  };

  store.subscribe(CHANNEL, (text) => {
    const m = parseStored<Message>(text);
    if (!m) return;
    if (m.from !== store.instanceId) {
      if (m.op === 'put' && m.value !== undefined) fill(m.kind, m.key, m.value, m.expiresAt ?? Date.now() + CHALLENGE_TTL_MS);
      else if (m.op === 'remove') drop(m.kind, m.key);
    }
    if (m.op === 'put') acknowledge(m.id);
  }, () => void refill());
  store.onAvailable(() => void refill());
  store.subscribe(ACK_CHANNEL, (text) => {
    const ack = parseStored<{ id?: string }>(text);
    const w = ack?.id !== undefined ? waiting.get(ack.id) : undefined;
    if (!w) return;
    w.acks++;
    if (w.expected !== undefined && w.acks >= w.expected) w.done();
  });

  /**
   * Tells the publisher that this instance's cache has the put. Sent on the command connection, which may still be
   * reconnecting when the subscription is back (each has its own backoff): then it is sent when that connection is
   * ready, while the publisher still waits.
   */
  function acknowledge(id: string): void {
    const message = JSON.stringify({ id, from: store.instanceId });
    store.publish(ACK_CHANNEL, message).catch(() => {
      const off = store.onAvailable(() => {
        off();
        clearTimeout(timer);
        void store.publish(ACK_CHANNEL, message).catch(() => undefined);
      });
      const timer = setTimeout(off, ACK_TIMEOUT_MS);
    });
  }

  /** Stores `value` in Redis, announces it, and waits (bounded) for every subscriber's acknowledgement. */
  const share = async (kind: ChallengeKind, key: string, value: string): Promise<void> => {
    const t0 = performance.now();
    const id = randomBytes(8).toString('hex');
    const expiresAt = Date.now() + CHALLENGE_TTL_MS;
    let timer: NodeJS.Timeout | undefined;
    const acked = new Promise<void>((resolve) => {
      waiting.set(id, { acks: 0, expected: undefined, done: resolve });
      timer = setTimeout(resolve, ACK_TIMEOUT_MS);
    });
    try {
      await store.putChallenge(kind, key, value, CHALLENGE_TTL_MS);
      // The acknowledgements come on this instance's subscription, which may not be back yet after a reconnect.
      await store.whenSubscribed(ACK_CHANNEL, ACK_TIMEOUT_MS);
      const receivers = await store.publish(CHANNEL, JSON.stringify({ op: 'put', kind, key, value, expiresAt, id, from: store.instanceId } satisfies Message));
      const w = waiting.get(id)!;
      w.expected = receivers;
      if (w.acks >= receivers) w.done();
      await acked;
      const fields = { kind, challenge: label(kind, key), instances: receivers, acknowledged: w.acks, ms: Math.round(performance.now() - t0) };
      if (w.acks < receivers) log.warn(fields, 'acme challenge shared, not every instance acknowledged');
      else log.info(fields, 'acme challenge shared');
    } catch (err) {
      log.error({ kind, challenge: label(kind, key), code: 'STORAGE_UNAVAILABLE', reason: (err as Error).message }, 'acme challenge not shared, only this instance can answer it');
    } finally {
      clearTimeout(timer);
      waiting.delete(id);
    }
  };
  const put = (kind: ChallengeKind, key: string, value: string) => {
    const p = share(kind, key, value);
    pending.set(`${kind}:${key}`, p);
    void p.finally(() => pending.get(`${kind}:${key}`) === p && pending.delete(`${kind}:${key}`));
  };
  const remove = (kind: ChallengeKind, key: string) => {
    drop(kind, key);
    if (closed) return;
    void (async () => {
      await store.removeChallenge(kind, key);
      await store.publish(CHANNEL, JSON.stringify({ op: 'remove', kind, key, id: randomBytes(8).toString('hex'), from: store.instanceId } satisfies Message));
    })().catch(() => undefined); // the stored entry expires by itself
  };
  /** Asks Redis for what the cache lacks; undefined on absence, error or timeout. */
  const fetch = async (kind: ChallengeKind, key: string): Promise<string | undefined> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), FETCH_TIMEOUT_MS);
    });
    try {
      const value = await Promise.race([store.getChallenge(kind, key).catch(() => undefined), timeout]);
      if (value !== undefined) fill(kind, key, value, Date.now() + CHALLENGE_TTL_MS);
      return value;
    } finally {
      clearTimeout(timer);
    }
  };

  // SNI is case-insensitive (RFC 6066 §3): names are kept lower case. Tokens are case-sensitive (base64url).
  return {
    httpKeyAuthorization: (token) => (tokens.size === 0 ? undefined : fresh(tokens, token)),
    alpnContext: (name) => (alpn.size === 0 ? undefined : fresh(alpn, name.toLowerCase())),
    putHttp(token, keyAuthorization) {
      tokens.set(token, { value: keyAuthorization, expiresAt: Date.now() + CHALLENGE_TTL_MS });
      put('http', token, keyAuthorization);
    },
    removeHttp: (token) => remove('http', token),
    putAlpn(name, certPem, keyPem) {
      const key = name.toLowerCase();
      const value = JSON.stringify({ cert: certPem, key: keyPem });
      fill('alpn', key, value, Date.now() + CHALLENGE_TTL_MS);
      put('alpn', key, value);
    },
    removeAlpn: (name) => remove('alpn', name.toLowerCase()),
    async fetchHttpKeyAuthorization(token) {
      return fresh(tokens, token) ?? (await fetch('http', token));
    },
    async fetchAlpnContext(name) {
      const key = name.toLowerCase();
      return fresh(alpn, key) ?? ((await fetch('alpn', key)) !== undefined ? fresh(alpn, key) : undefined);
    },
    published: (kind, key) => pending.get(`${kind}:${kind === 'alpn' ? key.toLowerCase() : key}`) ?? Promise.resolve(),
    close() {
      closed = true;
    },
  };
}

/** What a log line may show of a key: a name, or a token's first characters (the rest is not needed to follow it). */
function label(kind: ChallengeKind, key: string): string {
  return kind === 'alpn' ? key : `${key.slice(0, 8)}…`;
}
