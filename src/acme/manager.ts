/**
 * The ACME manager: keeps every certificate the config asks for (src/acme/wanted.ts) present and fresh. At load it
 * serves what the state directory holds, so a restart orders nothing; once the edge listens it orders what is
 * missing and renews what is due, each name on its own timer and backoff, so one failing name never blocks the
 * others. Nothing here is on a handshake's path: the edge reads the certificate store and the challenge registry.
 * With a store shared by several instances (src/storage/), an order is placed only under the name's lock, after
 * re-reading the store; the instances that did not order pick the certificate up from the store (a change message
 * from Redis, and a periodic check of the stored certificate's stamp), so all of them serve the same one.
 * This file holds the schedule and the lifecycle; a turn under the lock is src/acme/attempt.ts, the store side
 * src/acme/stored.ts, the order src/acme/issuance.ts (all loaded only through this file, see src/acme/index.ts).
 */
import { readFile } from 'node:fs/promises';
import * as acme from 'acme-client';
import type { CertStore } from '../certs/index.js';
import type { ChallengeRegistry } from '../challenges/index.js';
import type { Config } from '../config/index.js';
import { resolveConfigRelative } from '../config/paths.js';
import { DEFAULTS, parseDuration } from '../config/index.js';
import type { GatehouseError } from '../errors.js';
import type { Logger } from '../log.js';
import { attempt, cleanUnderLock } from './attempt.js';
import { caAgent, checkDirectory } from './ca.js';
import { createResolver, type Entry, type ManagerContext, type Resolver } from './manager-context.js';
import { AcmeError, installProblemRecorder } from './problems.js';
import { ariCertId, fetchRenewalInfo } from './renewal-info.js';
import { ariTime } from './schedule.js';
import type { ChallengeEndpoints } from './self-test.js';
import { createDirectoryStorage, StorageError, type CertificateStatus, type Storage } from '../storage/index.js';
import { checkStored, useStored } from './stored.js';
import { wantedCertificates } from './wanted.js';

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
  /**
   * Nothing new is started, stored or served; resolves once the attempts under way have ended, or after
   * STOP_WAIT_MS: a status write in progress (a CA's Retry-After, which a restart must obey) gets to finish before
   * the process exits, an order waiting on the CA is not waited for.
   */
  stop(): Promise<void>;
}

/** How long stop() waits for attempts under way. */
const STOP_WAIT_MS = 2000;

/** Longest single timer; a far renewal is re-checked at least this often (setTimeout caps at 24.8 days anyway). */
const MAX_TIMER_MS = 3600_000;
/** Orders in flight at once: a config with many names must not burst into the CA's new-order rate limit. */
const MAX_CONCURRENT = 4;
/** How often the CA's renewal windows are asked again (RFC 9773 §4.3 suggests a few times a day). */
const ARI_INTERVAL_MS = 6 * 3600_000;
/** How often the store is checked for certificates other instances stored (Redis also pushes a message). */
const STORAGE_CHECK_MS = 30_000;
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
  const ctx: ManagerContext = {
    log,
    store,
    certs: options.certs,
    registry: options.registry,
    endpoints: options.endpoints,
    pollMinMs: options.pollMinMs,
    configFile: options.configFile,
    storageCheckMs,
    rehearsalResolvers: new Map(),
    agent: undefined,
    stopped: false,
    retired: false,
  };
  let timer: NodeJS.Timeout | undefined;
  let ariTimer: NodeJS.Timeout | undefined;
  let checkTimer: NodeJS.Timeout | undefined;
  const unsubscribe: (() => void)[] = [];
  let started = false;

  const resolverFor = (name: string): Resolver => {
    let r = resolvers.get(name);
    if (r) return r;
    const spec = config.certificateResolvers![name]!.acme;
    r = createResolver(ctx, spec.caServer, spec, {
      ...(spec.eab ? { eab: spec.eab } : {}),
      ...(spec.accountKeyFile ? { importKeyFile: resolveConfigRelative(spec.accountKeyFile, options.configFile) } : {}),
    });
    resolvers.set(name, r);
    return r;
  };

  const schedule = () => {
    clearTimeout(timer);
    if (ctx.stopped || ctx.retired || !started || entries.length === 0) return;
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
    e.running ??= attempt(ctx, e).finally(() => {
      e.running = undefined;
      schedule();
    });
    return e.running;
  };

  /**
   * Asks the CA for each served certificate's renewal window (RFC 9773) and moves the renewal into it when it is
   * not there already (a CA moves windows earlier ahead of a revocation). A CA without ARI, or down, changes nothing.
   */
  const checkRenewalInfo = async () => {
    const directories = new Map<Resolver, Promise<string | undefined>>();
    for (const e of entries) {
      if (ctx.stopped || e.running || e.certPem === undefined) continue;
      const r = e.resolver;
      if (!directories.has(r)) directories.set(r, checkDirectory(r.url, ctx.agent!).then((d) => d.renewalInfo, () => undefined));
      const base = await directories.get(r);
      if (base === undefined) continue;
      let window;
      try {
        window = await fetchRenewalInfo(base, ariCertId(e.certPem), ctx.agent!);
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
      const agent = caAgent([...bundles]);
      ctx.agent = agent;
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
            // dns-01 values a crashed run left: removed by the first turn, under the lock.
            if (status?.dnsRecords?.length) entry.status = { ...entry.status, dnsRecords: status.dnsRecords };
            continue;
          }
          useStored(ctx, entry, stored, false);
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
        store.onCertificateChanged((id, main) => void checkStored(ctx, entries, schedule, (e) => e.resolver.caId === id && e.wanted.names[0] === main)),
        store.onAvailable(() => {
          for (const e of entries) if (e.storageFailures > 0) e.nextAt = Date.now();
          schedule();
        }),
      );
      // A certificate in service that is not due soon may have dns-01 values a crashed run left: removed now.
      for (const e of entries) if (e.status.dnsRecords?.length && e.nextAt > Date.now()) void cleanUnderLock(ctx, e);
      checkTimer = setInterval(() => void checkStored(ctx, entries, schedule), storageCheckMs);
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
      ctx.retired = true;
      clearTimeout(timer);
      clearInterval(ariTimer);
      await Promise.allSettled(entries.map((e) => e.running));
    },
    stop() {
      ctx.stopped = true;
      clearTimeout(timer);
      clearInterval(ariTimer);
      clearInterval(checkTimer);
      // The store outlives a manager that a reload replaced.
      for (const u of unsubscribe.splice(0)) u();
      const running = entries.map((e) => e.running).filter((p) => p !== undefined);
      if (running.length === 0) return Promise.resolve();
      let bound: NodeJS.Timeout | undefined;
      const waited = new Promise<void>((resolve) => (bound = setTimeout(resolve, STOP_WAIT_MS).unref()));
      return Promise.race([Promise.allSettled(running).then(() => undefined), waited]).finally(() => clearTimeout(bound));
    },
  };
}
