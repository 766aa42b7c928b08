/**
 * What the ACME manager's parts share (src/acme/manager.ts and the modules it splits off: attempt.ts, stored.ts,
 * issuance.ts): the state of one managed certificate (`Entry`), the CA a resolver orders from (`Resolver`), and the
 * context passed to each part, the manager's dependencies plus its run state (stopped, retired, the CA agent).
 */
import type { Agent } from 'node:https';
import type { CertStore } from '../certs/index.js';
import type { ChallengeRegistry } from '../challenges/index.js';
import type { AcmeResolverConfig } from '../config/schema-acme.js';
import type { Logger } from '../log.js';
import type { CaStorage, CertificateStatus, Storage, StorageLock } from '../storage/index.js';
import { AcmeAccount, type AccountOptions } from './account.js';
import { caId, directoryUrl } from './ca.js';
import type { IssuedCertificate } from './order.js';
import type { ChallengeEndpoints } from './self-test.js';
import type { WantedCertificate } from './wanted.js';

/** A CA a resolver orders from, with its account there. */
export interface Resolver {
  readonly url: string;
  readonly spec: AcmeResolverConfig;
  readonly caId: string;
  readonly storage: CaStorage;
  readonly account: AcmeAccount;
}

/** One certificate the manager keeps: what the config wants and where its turns stand. */
export interface Entry {
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

/** What the manager's parts are given: its dependencies and its run state, which only the manager changes. */
export interface ManagerContext {
  readonly log: Logger;
  /** Where accounts, certificates and locks live (src/storage/). */
  readonly store: Storage;
  readonly certs: Pick<CertStore, 'put'>;
  readonly registry: ChallengeRegistry;
  readonly endpoints: () => ChallengeEndpoints;
  readonly pollMinMs: number | undefined;
  /** The config file, which relative paths in the config (dns-01 scripts and secret files) are resolved against. */
  readonly configFile: string | undefined;
  /** How often the store is checked for a certificate another instance stored (ms). */
  readonly storageCheckMs: number;
  /** The staging CAs resolvers rehearse on, by production URL and staging server. */
  readonly rehearsalResolvers: Map<string, Resolver>;
  /** The CA agent (with the configured bundles), set by `load()` before anything is ordered. */
  agent: Agent | undefined;
  /** `stop()` was called: nothing new is stored or served. */
  stopped: boolean;
  /** A reload replaced the manager: nothing new is started. */
  retired: boolean;
}

/**
 * The resolver for `spec`'s account at `caServer` (production, or the staging CA of a rehearsal). `imported` is the
 * account's external binding and key file, which only the production CA gets.
 */
export function createResolver(ctx: ManagerContext, caServer: string, spec: AcmeResolverConfig, imported: Pick<AccountOptions, 'eab' | 'importKeyFile'> = {}): Resolver {
  const url = directoryUrl(caServer);
  const id = caId(url);
  const storage = ctx.store.ca(id);
  const account = new AcmeAccount({
    directoryUrl: url,
    email: spec.email,
    storage,
    locks: ctx.store,
    lockName: `account:${id}:${spec.email.toLowerCase()}`,
    ...imported,
    backoffMinMs: ctx.pollMinMs ?? 100,
    backoffMaxMs: 5_000,
    log: ctx.log,
  });
  return { url, caId: id, spec, storage, account };
}

/** How the store names `e`'s certificate, the source the certificate store shows. */
export function sourceOf(e: Entry): string {
  return e.resolver.storage.describe(e.wanted.names[0]!);
}
