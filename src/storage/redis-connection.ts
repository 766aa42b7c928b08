/**
 * The two connections to Redis (commands, and pub/sub which needs a connection of its own) and how they fail: a
 * Redis that is down, refuses the password or presents an untrusted certificate never stops gatehouse. node-redis
 * retries in the background with a capped backoff; each new cause is logged once with a plain reason (connection
 * refused, authentication failed, TLS certificate not trusted) and the password never appears in a log line.
 */
import { rootCertificates } from 'node:tls';
import { createClient, type RedisClientType } from 'redis';
import type { Logger } from '../log.js';
import { StorageError } from './types.js';

/** What connecting needs, from `storage.redis` (caFile already read). */
export interface RedisSettings {
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
  /** Extra CA certificates for rediss://, on top of the system roots. */
  readonly caPem?: string;
  /** Prefix of the client names (`CLIENT SETNAME`): `<name>:commands` and `<name>:pubsub`, as CLIENT LIST shows them. */
  readonly clientName?: string;
}

/** The open connections. */
export interface RedisConnection {
  readonly client: RedisClientType;
  readonly subscriber: RedisClientType;
  /** The URL without credentials, for logs. */
  readonly where: string;
  /** Runs one command, bounded in time; rejects with STORAGE_UNAVAILABLE (and the last cause) when Redis is not usable. */
  run<T>(what: string, command: (client: RedisClientType) => Promise<T>): Promise<T>;
  /**
   * Subscribes to `channel` as soon as the pub/sub connection is up, and again after a reconnect that lost it (a
   * subscription queued while Redis was down fails with the connection). `onSubscribed` runs each time the
   * subscription is (re)established: what was published while it was not is lost, so that is when to catch up.
   */
  subscribe(channel: string, listener: (message: string) => void, onSubscribed?: () => void): void;
  /**
   * Resolves true once `channel`'s subscription is established on a connected pub/sub connection (at once when it
   * is); false after `timeoutMs`. The two connections reconnect on their own backoffs, so commands can work while
   * the subscription is not back yet.
   */
  whenSubscribed(channel: string, timeoutMs: number): Promise<boolean>;
  /** Resolves true when the command connection is ready; false after `timeoutMs`, or at once when connecting fails. */
  whenReady(timeoutMs: number): Promise<boolean>;
  /** Called each time the command connection becomes ready (first connect and every reconnect). */
  onReady(listener: () => void): () => void;
  close(): Promise<void>;
}

/** A command that gets no answer within this time is given up on (the connection stays). */
const COMMAND_TIMEOUT_MS = 5_000;
const CONNECT_TIMEOUT_MS = 5_000;
/**
 * Reconnect backoff: 100 ms doubling to 2 s (±20 %), so a Redis that comes back is used within seconds. The two
 * connections retry independently: one can be back up to one step before the other.
 */
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2_000;
/** Time given to node-redis's own re-subscription after a reconnect. */
const RESUBSCRIBED_MS = 100;

/** Opens both connections in the background; never throws for an unreachable server. */
export function connectRedis(settings: RedisSettings, log: Logger): RedisConnection {
  const url = new URL(settings.url);
  const where = redactedUrl(url);
  const tls = url.protocol === 'rediss:';
  let lastCause: string | undefined;
  const readyListeners = new Set<() => void>();
  const make = (role: 'commands' | 'pubsub'): RedisClientType => {
    const client = createClient({
      url: settings.url,
      ...(settings.username !== undefined ? { username: settings.username } : {}),
      ...(settings.password !== undefined ? { password: settings.password } : {}),
      ...(settings.clientName !== undefined ? { name: `${settings.clientName}:${role}` } : {}),
      // Commands fail at once while disconnected (the caller retries later); pub/sub subscriptions wait and resume.
      disableOfflineQueue: role === 'commands',
      socket: {
        connectTimeout: CONNECT_TIMEOUT_MS,
        reconnectStrategy: (retries: number) => Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(retries, 10)) * (0.8 + 0.4 * Math.random()),
        ...(tls ? { tls: true as const, ...(settings.caPem !== undefined ? { ca: [...rootCertificates, settings.caPem] } : {}) } : {}),
      },
    }) as RedisClientType;
    let failing = false;
    // node-redis emits 'error' for every failed (re)connection; without a listener the process would crash.
    client.on('error', (err: unknown) => {
      const cause = explainRedisError(err);
      if (role === 'commands') lastCause = cause;
      if (!failing || cause !== lastLogged.get(role)) {
        log.error({ code: 'STORAGE_UNAVAILABLE', redis: where, role, reason: cause }, 'redis unavailable, retrying');
        lastLogged.set(role, cause);
      }
      failing = true;
    });
    client.on('ready', () => {
      if (role === 'commands') lastCause = undefined;
      log.info({ redis: where, role, ...(failing ? { recovered: true } : {}) }, 'redis connected');
      failing = false;
      lastLogged.delete(role);
      if (role === 'commands') for (const l of readyListeners) l();
    });
    client.connect().catch(() => undefined); // retried by reconnectStrategy; errors arrive as 'error' events
    return client;
  };
  const lastLogged = new Map<string, string>();
  const client = make('commands');
  const subscriber = make('pubsub');
  const channels = new Map<string, { listener: (message: string) => void; onSubscribed: (() => void) | undefined }>();
  /** Channels whose SUBSCRIBE was sent; `confirmed`: those whose subscription was seen established. */
  const subscribed = new Set<string>();
  const confirmed = new Set<string>();
  const subscribedListeners = new Set<() => void>();
  const established = (channel: string, onSubscribed: (() => void) | undefined) => {
    confirmed.add(channel);
    onSubscribed?.();
    for (const l of subscribedListeners) l();
  };
  const subscribeOne = (channel: string) => {
    if (subscribed.has(channel) || !subscriber.isReady) return;
    subscribed.add(channel);
    const { listener, onSubscribed } = channels.get(channel)!;
    subscriber.subscribe(channel, listener).then(
      () => established(channel, onSubscribed),
      (err: unknown) => {
        subscribed.delete(channel); // tried again at the next 'ready'
        log.warn({ redis: where, channel, reason: explainRedisError(err) }, 'redis subscription failed');
      },
    );
  };
  // node-redis re-subscribes what it had after a reconnect (its SUBSCRIBE goes out first, so a short delay covers
  // it); what never got through is done here.
  subscriber.on('ready', () => {
    for (const [channel, { onSubscribed }] of channels) {
      if (!subscribed.has(channel)) subscribeOne(channel);
      else setTimeout(() => established(channel, onSubscribed), RESUBSCRIBED_MS).unref();
    }
  });
  subscriber.on('end', () => confirmed.clear());
  subscriber.on('reconnecting', () => confirmed.clear());
  return {
    client,
    subscriber,
    where,
    async run(what, command) {
      if (!client.isReady) throw new StorageError(`redis ${where} unavailable (${what}): ${lastCause ?? 'not connected yet'}`);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${COMMAND_TIMEOUT_MS} ms`)), COMMAND_TIMEOUT_MS);
      });
      try {
        return await Promise.race([command(client), timeout]);
      } catch (err) {
        throw new StorageError(`redis ${where} failed (${what}): ${explainRedisError(err)}`, { cause: err });
      } finally {
        clearTimeout(timer);
      }
    },
    subscribe(channel, listener, onSubscribed) {
      channels.set(channel, { listener, onSubscribed });
      subscribeOne(channel);
    },
    whenSubscribed(channel, timeoutMs) {
      const now = () => subscriber.isReady && confirmed.has(channel);
      if (now()) return Promise.resolve(true);
      return new Promise((resolve) => {
        const check = () => now() && settle(true);
        const settle = (ok: boolean) => {
          clearTimeout(timer);
          subscribedListeners.delete(check);
          resolve(ok);
        };
        const timer = setTimeout(() => settle(now()), timeoutMs);
        subscribedListeners.add(check);
      });
    },
    whenReady(timeoutMs) {
      if (client.isReady) return Promise.resolve(true);
      if (lastCause !== undefined) return Promise.resolve(false);
      return new Promise((resolve) => {
        const settle = (ok: boolean) => {
          clearTimeout(timer);
          client.off('ready', ready);
          client.off('error', failed);
          resolve(ok);
        };
        const ready = () => settle(true);
        const failed = () => settle(false);
        const timer = setTimeout(failed, timeoutMs);
        client.once('ready', ready);
        client.once('error', failed);
      });
    },
    onReady(listener) {
      readyListeners.add(listener);
      return () => void readyListeners.delete(listener);
    },
    async close() {
      // close() waits for pending replies, which a server that never answered would never send: destroy those.
      await Promise.all([client, subscriber].map(async (c) => (c.isReady ? c.close().catch(() => c.destroy()) : c.isOpen ? c.destroy() : undefined)));
    },
  };
}

/** The operator's reading of a connection or command error. Never includes credentials. */
export function explainRedisError(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { address?: string };
  const code = e?.code ?? '';
  const message = String(e?.message ?? err);
  if (code === 'ECONNREFUSED') return `connection refused (${e.address ?? ''}:${(e as { port?: number }).port ?? ''})`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `host not found (${(e as { hostname?: string }).hostname ?? ''})`;
  if (code === 'ECONNRESET') return 'connection reset by the server (a TLS port reached with redis://, or a plain port with rediss://?)';
  if (/^WRONGPASS|invalid username-password/i.test(message)) return 'authentication failed: wrong username or password (storage.redis.username / password)';
  if (/^NOAUTH/i.test(message)) return 'authentication required: Redis wants a password (storage.redis.password)';
  if (/^NOPERM/i.test(message)) return `permission denied for this user: ${message}`;
  if (TLS_UNTRUSTED.has(code)) return `TLS certificate not trusted (${code}): set storage.redis.caFile to the CA that signed it`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `TLS certificate does not name this host (${code})`;
  if (/wrong version number|packet length too long|WRONG_VERSION_NUMBER/i.test(message)) return 'TLS handshake failed: the server does not speak TLS (use redis:// for a plain port)';
  if (e?.name === 'ConnectionTimeoutError') return 'connection timed out';
  if (e?.name === 'ClientOfflineError' || e?.name === 'ClientClosedError') return 'not connected';
  if (e?.name === 'SocketClosedUnexpectedlyError') return 'the server closed the connection';
  return message;
}

const TLS_UNTRUSTED = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_UNTRUSTED', 'CERT_HAS_EXPIRED']);

/** The URL as it may be logged: any user info (a password someone put there despite the docs) is replaced. */
function redactedUrl(url: URL): string {
  const copy = new URL(url.href);
  if (copy.password !== '') copy.password = '***';
  return copy.href.replace(/\/$/, '');
}
