/**
 * Where the ACME state lives (accounts, certificates, pending challenges, locks): the state directory by default,
 * Redis when `storage.redis` is configured. `createStorage` picks the backend from the config; the Redis client
 * (4 MB of heap) is loaded only when a config asks for it: `loadStorageBackend` first.
 */
import { readFileSync } from 'node:fs';
import type { Config } from '../config/index.js';
import { DEFAULTS, parseDuration } from '../config/index.js';
import { resolveConfigRelative } from '../config/paths.js';
import { GatehouseError } from '../errors.js';
import type { Logger } from '../log.js';
import { createDirectoryStorage } from './directory.js';
import type { RedisStorage } from './redis.js';
import type { Storage } from './types.js';

export { createDirectoryStorage, DirectoryCaStorage, listStoredCertificates } from './directory.js';
export type { RedisStorage } from './redis.js';
export { CHALLENGE_TTL_MS, parseStored, StorageError, type CaStorage, type CertificateStatus, type ChallengeKind, type Storage, type StorageLock, type StoredAccount, type StoredCertificate } from './types.js';

/** What building the storage needs besides the config. */
export interface StorageContext {
  /** The absolute state directory (src/config/paths.ts resolveStateDir). */
  readonly stateDir: string;
  readonly configFile?: string;
  readonly log: Logger;
}

let redisModule: typeof import('./redis.js') | undefined;

/** Loads what `createStorage(config)` will need (the Redis client when `storage.redis` is set). */
export async function loadStorageBackend(config: Config): Promise<void> {
  if (config.storage?.redis) redisModule ??= await import('./redis.js');
}

/**
 * The storage the config asks for (after `loadStorageBackend(config)`). Redis connects in the background: a Redis that is down does not make this throw
 * (its operations fail with STORAGE_UNAVAILABLE until it is back). A `storage.redis.url` that is not redis:// or
 * rediss:// throws STORAGE_CONFIG.
 */
export function createStorage(config: Config, context: StorageContext): Storage {
  const redis = config.storage?.redis;
  const lockTtlMs = parseDuration(redis?.lockTtl ?? DEFAULTS.lockTtl);
  if (!redis) return createDirectoryStorage(context.stateDir, lockTtlMs);
  const [problem] = storageProblems(config);
  if (problem) throw problem;
  let caPem: string | undefined;
  if (redis.caFile !== undefined) {
    const file = resolveConfigRelative(redis.caFile, context.configFile);
    try {
      caPem = readFileSync(file, 'utf8');
    } catch (err) {
      // Connecting goes on with the system roots; the TLS failure it leads to is logged with its cause too.
      context.log.error({ code: 'STORAGE_CONFIG', file, reason: (err as Error).message }, 'storage.redis.caFile unreadable');
    }
  }
  if (!redisModule) throw new Error('internal: createStorage before loadStorageBackend');
  return redisModule.createRedisStorage(
    {
      url: redis.url,
      ...(redis.username !== undefined ? { username: redis.username } : {}),
      ...(redis.password !== undefined ? { password: redis.password } : {}),
      ...(caPem !== undefined ? { caPem } : {}),
      keyPrefix: redis.keyPrefix ?? DEFAULTS.redisKeyPrefix,
      lockTtlMs,
    },
    context.log,
  );
}

/** What is wrong with `storage` in the config beyond the schema (`gatehouse check` lists it; start refuses it). */
export function storageProblems(config: Config): GatehouseError[] {
  const redis = config.storage?.redis;
  if (!redis) return [];
  const location = { path: '/storage/redis/url' };
  let url: URL;
  try {
    url = new URL(redis.url);
  } catch {
    return [new GatehouseError('STORAGE_CONFIG', 'storage.redis.url is not a URL (redis://host:port/db or rediss://…)', { location })];
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    return [new GatehouseError('STORAGE_CONFIG', `storage.redis.url must start with redis:// or rediss://, not ${url.protocol}//`, { location })];
  }
  return [];
}

/** Whether `storage` is the Redis backend (shared challenges, pub/sub). */
export function isRedisStorage(storage: Storage): storage is RedisStorage {
  return storage.kind === 'redis';
}
