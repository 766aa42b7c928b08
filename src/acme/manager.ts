/**
 * The ACME manager: keeps every certificate the config asks for (src/acme/wanted.ts) present and fresh. At load it
 * serves what the state directory holds, so a restart orders nothing; once the edge listens it orders what is
 * missing and renews what is due, each name on its own timer and backoff, so one failing name never blocks the
 * others. Nothing here is on a handshake's path: the edge reads the certificate store and the challenge registry.
 * With a store shared by several instances (src/storage/), an order is placed only under the name's lock, after
 * re-reading the store; the instances that did not order pick the certificate up from the store (a change message
 * from Redis, and a periodic check of the stored certificate's stamp), so all of them serve the same one.
 */
import { readFile } from 'node:fs/promises';
import type { Agent } from 'node:https';
import * as acme from 'acme-client';
import type { CertStore } from '../certs/index.js';
import type { ChallengeRegistry } from '../challenges/index.js';
import type { AcmeResolverConfig } from '../config/schema-acme.js';
import type { Config } from '../config/index.js';
import { resolveConfigRelative } from '../config/paths.js';
import { DEFAULTS, parseDuration } from '../config/index.js';
import type { GatehouseError } from '../errors.js';
import type { Logger } from '../log.js';
import { AcmeAccount } from './account.js';
import { caAgent, caId, checkDirectory, directoryUrl } from './ca.js';
import { orderCertificate, type IssuedCertificate } from './order.js';
import { AcmeError, installProblemRecorder } from './problems.js';
import { ariCertId, fetchRenewalInfo } from './renewal-info.js';
import { ariTime, renewalTime, retryTime } from './schedule.js';
import type { ChallengeEndpoints } from './self-test.js';
import { createDirectoryStorage, StorageError, type CaStorage, type CertificateStatus, type Storage, type StorageLock, type StoredCertificate } from '../storage/index.js';
import { wantedCertificates, type WantedCertificate } from './wanted.js';

/** What the manager is built from. */
export interface AcmeManagerOptions {
  readonly config: Config;
  readonly configFile?: string;
  readonly stateDir: string;
  readonly certs: Pick<CertStore, 'put'>;
  readonly registry: ChallengeRegistry;
  /** The bound entry points, read when a challenge is self-tested. */
  readonly endpoints: () => ChallengeEndpoints;
  readonly log: Logger;
  /** acme-client's status polling start (ms), default 100: its own 5 s default costs about 5 s per order against a fast CA. */
  readonly pollMinMs?: number;
  /** Where accounts, certificates and locks live (src/storage/); the state directory by default. Not closed by `stop()`. */
  readonly storage?: Storage;
  /** How often the store is checked for a certificate another instance stored (ms), default 30 s. */
  readonly storageCheckMs?: number;
}

/** One certificate as `gatehouse certs` and the tests see it. */
export interface ManagedCertificate extends CertificateStatus {
  readonly id: string;
  readonly ca: string;
}

/** The running manager. */
export interface AcmeManager {
  /** Problems that disabled a certificate (also logged). */
  readonly problems: readonly GatehouseError[];
  /** Serves the stored certificates; call before the edge starts. Never rejects for a broken piece. */
  load(): Promise<void>;
  /** Starts ordering and renewing; call once the edge listens (the self-test needs it). */
  start(): void;
  /** Renews `name`'s certificate now; resolves when it is served, rejects with the attempt's error. */
  renew(name: string): Promise<void>;
  list(): readonly ManagedCertificate[];
  /**
   * A reload replaced this manager: nothing new is started, attempts under way run to their end (their
   * certificates are stored and served); resolves when the last has ended.
   */
  retire(): Promise<void>;
  stop(): void;
}

interface Resolver {
  readonly url: string;
  readonly spec: AcmeResolverConfig;
  readonly caId: string;
  readonly storage: CaStorage;
  readonly account: AcmeAccount;
}

interface Entry {
  readonly wanted: WantedCertificate;
  readonly resolver: Resolver;
  status: CertificateStatus;
  /** Next time to act (ms since the epoch). */
  nextAt: number;
  /** The chain in service, for its ARI identifier. */
  certPem: string | undefined;
  /** The store's stamp of the certificate in service: another value means another instance stored a new one. */
  stamp: string | undefined;
  running: Promise<void> | undefined;
  /** `renew()` asked: order even when the store holds a certificate not yet due. */
  forced: boolean;
  /** A certificate obtained and served whose write to the store failed (retried before anything else). */
  unsaved: IssuedCertificate | undefined;
  /**
   * The lock under which `unsaved` was obtained, kept (not released) until it is stored: the next attempt goes on
   * under it if it is still this instance's, instead of finding its own lock and waiting for it to expire.
   */
  kept: StorageLock | undefined;
  /** The last attempt found the lock held by another instance (logged once until it gets it). */
  lockedOut: boolean;
  /** Consecutive attempts that found the store unreachable (0: fine); retried as soon as the store is back. */
  storageFailures: number;
}

/** Longest single timer; a far renewal is re-checked at least this often (setTimeout caps at 24.8 days anyway). */
const MAX_TIMER_MS = 3600_000;
/** Orders in flight at once: a config with many names must not burst into the CA's new-order rate limit. */
const MAX_CONCURRENT = 4;
/** How often the CA's renewal windows are asked again (RFC 9773 §4.3 suggests a few times a day). */
const ARI_INTERVAL_MS = 6 * 3600_000;
/** How often the store is checked for certificates other instances stored (Redis also pushes a message). */
const STORAGE_CHECK_MS = 30_000;
/** Retry delay while the store is unreachable (doubling up to the periodic check). */
const STORAGE_RETRY_MIN_MS = 1_000;
/** How soon a lock held by another instance is tried again. */
const LOCK_RECHECK_MS = 5_000;
/** How long `load()` waits for a shared store to connect before serving without it. */
const STORE_WAIT_MS = 3_000;

/** Builds the manager; nothing is read or ordered until `load()` and `start()`. */
export function createAcmeManager(options: AcmeManagerOptions): AcmeManager {
  const { config, log } = options;
  const { wanted, problems } = wantedCertificates(config);
  for (const p of problems) log.error({ code: p.code, path: p.location.path, reason: p.message }, 'certificate disabled');
  installProblemRecorder(acme.axios);
  const resolvers = new Map<string, Resolver>();
  const entries: Entry[] = [];
  const store = options.storage ?? createDirectoryStorage(options.stateDir, parseDuration(DEFAULTS.lockTtl));
  const storageCheckMs = options.storageCheckMs ?? STORAGE_CHECK_MS;
  let agent: Agent | undefined;
  let timer: NodeJS.Timeout | undefined;
  let ariTimer: NodeJS.Timeout | undefined;
  let checkTimer: NodeJS.Timeout | undefined;
  const unsubscribe: (() => void)[] = [];
  let stopped = false;
  let started = false;
  let retired = false;

  const rehearsalResolvers = new Map<string, Resolver>();
  const resolverFor = (name: string): Resolver => {
    let r = resolvers.get(name);
    if (r) return r;
    const spec = config.certificateResolvers![name]!.acme;
    const url = directoryUrl(spec.caServer);
    const id = caId(url);
    const storage = store.ca(id);
    const account = new AcmeAccount({
      directoryUrl: url,
      email: spec.email,
      storage,
      locks: store,
      lockName: `account:${id}:${spec.email.toLowerCase()}`,
      ...(spec.eab ? { eab: spec.eab } : {}),
      ...(spec.accountKeyFile ? { importKeyFile: resolveConfigRelative(spec.accountKeyFile, options.configFile) } : {}),
      backoffMinMs: options.pollMinMs ?? 100,
      backoffMaxMs: 5_000,
      log,
    });
    r = { url, caId: id, spec, storage, account };
    resolvers.set(name, r);
    return r;
  };

  const schedule = () => {
    clearTimeout(timer);
    if (stopped || retired || !started || entries.length === 0) return;
    // At the cap, the next finishing attempt calls schedule() again.
    if (entries.filter((e) => e.running).length >= MAX_CONCURRENT) return;
    const next = Math.min(...entries.filter((e) => !e.running).map((e) => e.nextAt));
    if (!Number.isFinite(next)) return;
    timer = setTimeout(tick, Math.max(0, Math.min(MAX_TIMER_MS, next - Date.now())));
    timer.unref();
  };

  const tick = () => {
    const now = Date.now();
    let inFlight = entries.filter((e) => e.running).length;
    for (const e of entries) {
      if (inFlight >= MAX_CONCURRENT) break;
      if (e.running || e.nextAt > now) continue;
      run(e);
      inFlight++;
    }
    schedule();
  };

  const run = (e: Entry): Promise<void> => {
    e.running ??= attempt(e).finally(() => {
      e.running = undefined;
      schedule();
    });
    return e.running;
  };

  /**
   * One turn of a certificate: under its lock (held by one instance of those sharing the store), re-read the store
   * and use a certificate another instance just stored, else order. Without the lock, another instance is ordering:
   * its certificate arrives through `adoptStored` (a change message, the periodic check), or this instance tries
   * again later (a crashed holder's lock expires after lockTtl).
   */
  const attempt = async (e: Entry): Promise<void> => {
    const forced = e.forced;
    e.forced = false;
    let lock: StorageLock | undefined;
    if (e.kept) {
      try {
        lock = (await e.kept.renew()) ? e.kept : undefined;
      } catch (err) {
        return postpone(e, err); // kept for the next attempt
      }
      e.kept = undefined;
    }
    lock ??= await takeLock(e, forced);
    if (!lock) return;
    const renewing = setInterval(() => {
      lock.renew().then(
        (held) => held || log.warn({ names: e.wanted.names, lock: lock.name }, 'certificate lock lost while ordering'),
        (err: unknown) => log.warn({ names: e.wanted.names, lock: lock.name, reason: (err as Error).message }, 'certificate lock not renewed'),
      );
    }, Math.max(1_000, store.lockTtlMs / 3));
    renewing.unref();
    try {
      if (e.unsaved) return await saveUnsaved(e);
      if (!forced && (await adoptStored(e, 'locked'))) return;
      await orderAndStore(e);
    } catch (err) {
      postpone(e, err); // the store failed under the lock (the order's own failures are handled in orderAndStore)
    } finally {
      clearInterval(renewing);
      if (e.unsaved && !stopped) e.kept = lock; // expires by itself if the store never comes back
      else await lock.release();
    }
  };

  /** The name's lock; undefined when another instance holds it (a forced renewal waits for it, bounded). */
  const takeLock = async (e: Entry, forced: boolean): Promise<StorageLock | undefined> => {
    const name = `cert:${e.resolver.caId}:${e.wanted.names[0]!}`;
    const deadline = Date.now() + (forced ? store.lockTtlMs : 0);
    try {
      for (;;) {
        const lock = await store.tryLock(name);
        if (lock || Date.now() >= deadline || stopped) {
          e.storageFailures = 0;
          if (!lock) {
            // The holder's certificate usually arrives first (Redis pushes it); the lock is looked at again soon for a
            // shared directory, which cannot push, and for a holder that failed or crashed.
            e.nextAt = Date.now() + Math.min(storageCheckMs, LOCK_RECHECK_MS);
            if (!e.lockedOut) log.info({ names: e.wanted.names, lock: name, recheckAt: new Date(e.nextAt).toISOString() }, 'certificate being ordered by another instance');
            e.lockedOut = true;
            if (forced) throw new AcmeError('ACME_ORDER_FAILED', `another instance holds the lock ${name}`);
          }
          if (lock) e.lockedOut = false;
          return lock;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    } catch (err) {
      if (!(err instanceof StorageError)) throw err;
      postpone(e, err);
      return undefined;
    }
  };

  /** The store failed: nothing is ordered (that could order twice); retried soon, and at once when the store is back. */
  const postpone = (e: Entry, err: unknown, message = 'certificate storage unavailable, order postponed') => {
    e.storageFailures++;
    e.nextAt = Date.now() + Math.min(storageCheckMs, STORAGE_RETRY_MIN_MS * 2 ** Math.min(e.storageFailures - 1, 10));
    log.error({ names: e.wanted.names, code: (err as GatehouseError).code ?? 'STORAGE_UNAVAILABLE', reason: (err as Error).message, retryAt: new Date(e.nextAt).toISOString() }, message);
  };

  /**
   * Stores a certificate obtained (and already served) whose write failed: until it is stored, the other instances
   * cannot have it and a restart would order again. Never throws; retried like any store failure.
   */
  const saveUnsaved = async (e: Entry): Promise<void> => {
    const issued = e.unsaved!;
    const main = e.wanted.names[0]!;
    try {
      await e.resolver.storage.writeCertificate(main, issued.certPem, issued.keyPem, e.status);
      e.unsaved = undefined;
      e.storageFailures = 0;
      e.stamp = await e.resolver.storage.certificateStamp(main).catch(() => undefined);
      e.nextAt = Date.parse(e.status.renewAt ?? '') || Date.now();
      log.info({ names: e.wanted.names, to: e.resolver.storage.describe(main) }, 'certificate stored once storage was back');
    } catch (err) {
      postpone(e, err, 'certificate obtained but not stored, retrying');
    }
  };

  /**
   * Serves the store's certificate for `e` when it is usable and not the one in service: it covers the names and is
   * not due yet. Returns whether it did. `why` says what led here, for the log.
   */
  const adoptStored = async (e: Entry, why: 'locked' | 'changed' | 'check'): Promise<boolean> => {
    const { wanted: w, resolver: r } = e;
    // The stamp first: a certificate stored between the two reads is seen as a change at the next check.
    e.stamp = await r.storage.certificateStamp(w.names[0]!);
    const stored = await r.storage.readCertificate(w.names[0]!);
    if (!stored || stored.certPem === e.certPem || !useStored(e, stored, true)) return false;
    log.info({ names: w.names, from: r.storage.describe(w.names[0]!), reason: why, renewAt: e.status.renewAt }, 'certificate loaded from storage');
    return true;
  };

  /**
   * Puts a stored certificate in service when it covers `e`'s names (and, with `fresh`, is not due); returns
   * whether it did. The schedule follows its stored status, so every instance renews at the same time.
   */
  const useStored = (e: Entry, stored: StoredCertificate, fresh: boolean): boolean => {
    const { wanted: w, resolver: r } = e;
    const info = acme.crypto.readCertificateInfo(stored.certPem);
    const have = new Set([info.domains.commonName, ...info.domains.altNames].map((n) => n.toLowerCase()));
    if (!w.names.every((n) => have.has(n))) {
      log.info({ names: w.names, stored: [...have] }, 'stored certificate has other names, ordering anew');
      return false;
    }
    const renewAt = stored.status?.renewAt ? new Date(stored.status.renewAt) : renewalTime(info.notBefore, info.notAfter);
    if (fresh && renewAt.getTime() <= Date.now()) return false;
    options.certs.put(sourceOf(r, w), stored.certPem, stored.keyPem);
    e.certPem = stored.certPem;
    const retryAt = stored.status?.caRetryAt ? Date.parse(stored.status.caRetryAt) : 0;
    e.status = { ...(stored.status ?? {}), resolver: w.resolver, names: w.names, notBefore: info.notBefore.toISOString(), notAfter: info.notAfter.toISOString(), renewAt: renewAt.toISOString() };
    e.nextAt = Math.max(renewAt.getTime(), retryAt);
    return true;
  };

  /** Looks for certificates other instances stored (their stamp changed) and serves them. */
  const checkStored = async (only?: (e: Entry) => boolean) => {
    for (const e of entries) {
      if (stopped || retired || e.running || (only && !only(e))) continue;
      try {
        const stamp = await e.resolver.storage.certificateStamp(e.wanted.names[0]!);
        if (stamp === undefined || stamp === e.stamp) continue;
        if (await adoptStored(e, only ? 'changed' : 'check')) schedule();
      } catch (err) {
        log.debug({ names: e.wanted.names, reason: (err as Error).message }, 'stored certificate not checked');
      }
    }
  };

  /** The staging CA a resolver rehearses on (its own account there, same email and key type). */
  const stagingFor = (r: Resolver, caServer: string): Resolver => {
    const key = `${r.url} rehearsal ${caServer}`;
    let s = rehearsalResolvers.get(key);
    if (s) return s;
    const url = directoryUrl(caServer);
    const id = caId(url);
    const storage = store.ca(id);
    const account = new AcmeAccount({
      directoryUrl: url,
      email: r.spec.email,
      storage,
      locks: store,
      lockName: `account:${id}:${r.spec.email.toLowerCase()}`,
      backoffMinMs: options.pollMinMs ?? 100,
      backoffMaxMs: 5_000,
      log,
    });
    s = { url, caId: id, spec: r.spec, storage, account };
    rehearsalResolvers.set(key, s);
    return s;
  };

  /**
   * After `rehearsal.afterFailures` failed orders, the same order on the staging CA first. Throws when staging
   * fails: the attempt then counts as failed without production having been asked.
   */
  const rehearse = async (e: Entry): Promise<void> => {
    const spec = e.resolver.spec.rehearsal;
    const failures = e.status.failures ?? 0;
    if (spec === undefined || failures < (spec.afterFailures ?? 3)) return;
    const staging = stagingFor(e.resolver, spec.caServer ?? 'letsencrypt-staging');
    const fields = { names: e.wanted.names, ca: staging.url, failures };
    log.info(fields, 'rehearsing the order on staging after repeated failures');
    try {
      await checkDirectory(staging.url, agent!);
      await orderCertificate({
        client: await staging.account.client(),
        names: e.wanted.names,
        challenges: e.wanted.challenges,
        keyType: e.resolver.spec.keyType ?? 'EC256',
        registry: options.registry,
        endpoints: options.endpoints,
        log,
      });
    } catch (err) {
      const why = await explain(err, staging);
      // Staging's problem document is not passed on: its Retry-After says nothing about production.
      throw new AcmeError('ACME_ORDER_FAILED', `staging rehearsal failed, production not asked: ${why.message}`, { cause: err });
    }
    log.info(fields, 'staging rehearsal passed, ordering from production');
  };

  const orderAndStore = async (e: Entry): Promise<void> => {
    const { wanted: w, resolver: r } = e;
    const t0 = performance.now();
    const fields = { names: w.names, ca: r.url, challenges: w.challenges };
    const order = async () =>
      orderCertificate({ client: await r.account.client(), names: w.names, challenges: w.challenges, keyType: r.spec.keyType ?? 'EC256', registry: options.registry, endpoints: options.endpoints, log });
    try {
      // Checked first so an unreachable CA is named with its real cause (src/acme/ca.ts).
      const directory = await checkDirectory(r.url, agent!);
      await rehearse(e);
      let issued;
      try {
        issued = await order();
      } catch (err) {
        if (!(err instanceof AcmeError && err.accountGone)) throw err;
        log.warn({ ...fields, reason: err.message }, 'acme account unknown to the CA, registering again');
        r.account.forget();
        issued = await order();
      }
      if (stopped) return;
      const info = acme.crypto.readCertificateInfo(issued.certPem);
      const window = directory.renewalInfo ? await fetchRenewalInfo(directory.renewalInfo, ariCertId(issued.certPem), agent!).catch(() => undefined) : undefined;
      const renewAt = window ? ariTime(window) : renewalTime(info.notBefore, info.notAfter);
      e.certPem = issued.certPem;
      e.status = { resolver: w.resolver, names: w.names, issuedAt: new Date().toISOString(), notBefore: info.notBefore.toISOString(), notAfter: info.notAfter.toISOString(), renewAt: renewAt.toISOString() };
      options.certs.put(sourceOf(r, w), issued.certPem, issued.keyPem);
      e.nextAt = renewAt.getTime();
      log.info({ ...fields, notAfter: info.notAfter.toISOString(), renewAt: renewAt.toISOString(), ari: window !== undefined, ms: Math.round(performance.now() - t0) }, 'certificate obtained');
      e.unsaved = issued;
      await saveUnsaved(e);
    } catch (err) {
      if (stopped) return;
      const wrapped = await explain(err, r);
      const failures = (e.status.failures ?? 0) + 1;
      const caRetryAt = wrapped instanceof AcmeError ? wrapped.problem?.retryAt : undefined;
      const retryAt = retryTime(failures, Date.now(), caRetryAt);
      e.status = {
        ...e.status,
        lastError: wrapped.message,
        lastErrorAt: new Date().toISOString(),
        retryAt: retryAt.toISOString(),
        failures,
        ...(caRetryAt !== undefined ? { caRetryAt: new Date(caRetryAt).toISOString() } : {}),
      };
      e.nextAt = retryAt.getTime();
      log.error({ ...fields, code: (wrapped as GatehouseError).code, reason: wrapped.message, problem: wrapped instanceof AcmeError ? wrapped.problem : undefined, failures, retryAt: retryAt.toISOString() }, 'certificate order failed');
      await r.storage.writeStatus(w.names[0]!, e.status).catch((we: unknown) => log.warn({ reason: (we as Error).message }, 'acme status not written'));
    }
  };

  /**
   * Asks the CA for each served certificate's renewal window (RFC 9773) and moves the renewal into it when it is
   * not there already (a CA moves windows earlier ahead of a revocation). A CA without ARI, or down, changes nothing.
   */
  const checkRenewalInfo = async () => {
    const directories = new Map<Resolver, Promise<string | undefined>>();
    for (const e of entries) {
      if (stopped || e.running || e.certPem === undefined) continue;
      const r = e.resolver;
      if (!directories.has(r)) directories.set(r, checkDirectory(r.url, agent!).then((d) => d.renewalInfo, () => undefined));
      const base = await directories.get(r);
      if (base === undefined) continue;
      let window;
      try {
        window = await fetchRenewalInfo(base, ariCertId(e.certPem), agent!);
      } catch {
        continue;
      }
      if (!window || (e.nextAt >= window.start.getTime() && e.nextAt <= window.end.getTime())) continue;
      const renewAt = ariTime(window);
      e.nextAt = renewAt.getTime();
      e.status = { ...e.status, renewAt: renewAt.toISOString() };
      log.info({ names: e.wanted.names, ca: r.url, windowStart: window.start.toISOString(), windowEnd: window.end.toISOString(), renewAt: renewAt.toISOString() }, 'renewal moved into the CA renewal window');
      await r.storage.writeStatus(e.wanted.names[0]!, e.status).catch(() => undefined);
    }
    schedule();
  };

  /** acme-client reports a CA gone mid-order as a TypeError; ask the directory for the real cause. */
  const explain = async (err: unknown, r: Resolver): Promise<Error> => {
    if (err instanceof AcmeError || err instanceof StorageError || (err as GatehouseError).code === 'ACME_CA_UNREACHABLE') return err as Error;
    try {
      await checkDirectory(r.url, agent!);
    } catch (down) {
      return down as Error;
    }
    return new AcmeError('ACME_ORDER_FAILED', `order failed: ${(err as Error).message}`, { cause: err });
  };

  return {
    problems,
    async load() {
      const bundles = new Set<string>();
      for (const [name, spec] of Object.entries(config.certificateResolvers ?? {})) {
        if (!spec.acme.caBundle) continue;
        const file = resolveConfigRelative(spec.acme.caBundle, options.configFile);
        try {
          bundles.add(await readFile(file, 'utf8'));
        } catch (err) {
          log.error({ resolver: name, file, reason: (err as Error).message }, 'acme caBundle unreadable');
        }
      }
      agent = caAgent([...bundles]);
      // acme-client has one axios instance per process: the agent and retry settings apply to every resolver.
      // Its own retries (5+10+15+20+25 s, then a TypeError) are off: the manager's per-name backoff retries.
      acme.axios.defaults.httpsAgent = agent;
      (acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number } }).acmeSettings.retryMaxAttempts = 0;
      // A shared store connects in the background; give it a moment so a restart serves what it holds at once.
      await store.whenAvailable(STORE_WAIT_MS);
      for (const w of wanted) {
        const r = resolverFor(w.resolver);
        const entry: Entry = { wanted: w, resolver: r, status: { resolver: w.resolver, names: w.names }, nextAt: Date.now(), certPem: undefined, stamp: undefined, running: undefined, forced: false, lockedOut: false, storageFailures: 0, unsaved: undefined, kept: undefined };
        entries.push(entry);
        try {
          entry.stamp = await r.storage.certificateStamp(w.names[0]!);
          const stored = await r.storage.readCertificate(w.names[0]!);
          if (!stored) {
            // No certificate yet: order at once, unless the CA itself said when (a restart must not dodge a rate limit).
            const status = await r.storage.readStatus(w.names[0]!);
            if (status?.caRetryAt) {
              entry.status = { ...status, resolver: w.resolver, names: w.names };
              entry.nextAt = Math.max(Date.now(), Date.parse(status.caRetryAt));
            }
            continue;
          }
          useStored(entry, stored, false);
        } catch (err) {
          // An unreachable store is retried under the lock once it is back; only a broken certificate is ordered anew.
          if (err instanceof StorageError) log.error({ names: w.names, code: err.code, reason: err.message }, 'stored certificate not readable, storage unavailable');
          else log.warn({ names: w.names, reason: (err as Error).message }, 'stored certificate unusable, ordering anew');
        }
      }
    },
    start() {
      started = true;
      unsubscribe.push(
        store.onCertificateChanged((id, main) => void checkStored((e) => e.resolver.caId === id && e.wanted.names[0] === main)),
        store.onAvailable(() => {
          for (const e of entries) if (e.storageFailures > 0) e.nextAt = Date.now();
          schedule();
        }),
      );
      checkTimer = setInterval(() => void checkStored(), storageCheckMs);
      checkTimer.unref();
      schedule();
      void checkRenewalInfo();
      ariTimer = setInterval(() => void checkRenewalInfo(), ARI_INTERVAL_MS);
      ariTimer.unref();
    },
    async renew(name) {
      const e = entries.find((x) => x.wanted.names.includes(name.toLowerCase()));
      if (!e) throw new AcmeError('ACME_CONFIG', `no certificate resolver manages ${name}`);
      await e.running;
      const asked = Date.now();
      e.forced = true;
      await run(e);
      // The attempt logs and records its own failure; the caller (gatehouse renew) gets it too.
      if (e.status.lastError !== undefined && Date.parse(e.status.lastErrorAt ?? '') >= asked) throw new AcmeError('ACME_ORDER_FAILED', e.status.lastError);
    },
    list: () => entries.map((e) => ({ ...e.status, id: e.wanted.id, ca: e.resolver.url })),
    async retire() {
      retired = true;
      clearTimeout(timer);
      clearInterval(ariTimer);
      await Promise.allSettled(entries.map((e) => e.running));
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      clearInterval(ariTimer);
      clearInterval(checkTimer);
      // The store outlives a manager that a reload replaced.
      for (const u of unsubscribe.splice(0)) u();
    },
  };
}

function sourceOf(r: Resolver, w: WantedCertificate): string {
  return r.storage.describe(w.names[0]!);
}
