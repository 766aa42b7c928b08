/**
 * The contract of gatehouse's ACME state store, shared by the backends (src/storage/directory.ts, redis.ts): the
 * account of each CA and email, each certificate with its key and status, pending challenges with an expiry, and a
 * lock per name with an expiry. Several instances may use one store at once; the lock is what keeps them from ordering
 * the same certificate twice, and its holder must re-read the store after locking (another holder may just have
 * written what it was about to order).
 */
import { GatehouseError } from '../errors.js';

/** The status kept next to a certificate, so `gatehouse certs` and a restart know what happened last. */
export interface CertificateStatus {
  readonly resolver: string;
  readonly names: readonly string[];
  readonly issuedAt?: string;
  readonly notBefore?: string;
  readonly notAfter?: string;
  /** When the renewal is due (ISO); kept so a restart does not draw a new jitter. */
  readonly renewAt?: string;
  readonly lastError?: string;
  readonly lastErrorAt?: string;
  /** Not before this time (a CA's Retry-After, or the backoff). */
  readonly retryAt?: string;
  readonly failures?: number;
  /** The CA's own Retry-After (rate limit): kept across restarts, since the CA would refuse an earlier order. */
  readonly caRetryAt?: string;
  /** The challenge types the last order answered (dns-01, http-01, tls-alpn-01), for `gatehouse certs`. */
  readonly challenges?: readonly string[];
  /**
   * dns-01 TXT values written and not yet removed: noted before each is written, dropped once removed, so what a
   * crash left behind is removed at the next start (src/acme/dns-journal.ts).
   */
  readonly dnsRecords?: readonly DnsRecordNote[];
}

/** A dns-01 TXT value out in DNS, with what its provider needs to remove it (src/acme/dns/provider.ts TxtRecord). */
export interface DnsRecordNote {
  /** Where the value is written: `_acme-challenge.<name>` or the target of its CNAME; lower case, no trailing dot. */
  readonly fqdn: string;
  /** The zone holding `fqdn`, from its SOA; no trailing dot. */
  readonly zone: string;
  /** base64url(SHA-256(key authorization)). */
  readonly value: string;
  readonly ttl: number;
  /** The name validated (without `*.`), its challenge token and key authorization: lego's exec RAW mode passes them. */
  readonly domain: string;
  readonly token: string;
  readonly keyAuthorization: string;
}

/** A stored certificate. */
export interface StoredCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  readonly status: CertificateStatus | undefined;
}

/** A stored ACME account: its key (PEM) and, once registered, its URL at the CA. */
export interface StoredAccount {
  readonly keyPem: string;
  readonly url?: string;
}

/**
 * One CA's part of the store. Reads resolve undefined for "not there" and reject (STORAGE_UNAVAILABLE) only when the
 * store cannot be reached; a write is all or nothing for a reader (the old value or the new one, never a mix).
 */
export interface CaStorage {
  readAccount(email: string): Promise<StoredAccount | undefined>;
  writeAccount(email: string, account: StoredAccount): Promise<void>;
  readCertificate(main: string): Promise<StoredCertificate | undefined>;
  readStatus(main: string): Promise<CertificateStatus | undefined>;
  /** Stores chain, key and status together, and tells the other instances (Redis) that `main` changed. */
  writeCertificate(main: string, certPem: string, keyPem: string, status: CertificateStatus): Promise<void>;
  writeStatus(main: string, status: CertificateStatus): Promise<void>;
  /** A cheap value that changes whenever `main`'s certificate is rewritten (a file's mtime, a stored stamp). */
  certificateStamp(main: string): Promise<string | undefined>;
  /** Where `main`'s certificate lives, for logs and the certificate store's source (a path or a Redis key). */
  describe(main: string): string;
}

/** A held lock. `renew` resolves false once the lock was lost (expired and taken); `release` never throws. */
export interface StorageLock {
  readonly name: string;
  renew(): Promise<boolean>;
  release(): Promise<void>;
}

/** The kinds of pending challenges (RFC 8555 §8.3 by token, RFC 8737 by name). */
export type ChallengeKind = 'http' | 'alpn';

/** The whole store. */
export interface Storage {
  readonly kind: 'directory' | 'redis';
  /** How long a lock lives unless renewed (covers a crashed holder). */
  readonly lockTtlMs: number;
  ca(caId: string): CaStorage;
  /**
   * Takes the lock `name` when nobody holds it (or its holder's expiry passed); resolves undefined when another holder
   * has it. Exclusive across every instance sharing the store.
   */
  tryLock(name: string): Promise<StorageLock | undefined>;
  putChallenge(kind: ChallengeKind, key: string, value: string, ttlMs: number): Promise<void>;
  getChallenge(kind: ChallengeKind, key: string): Promise<string | undefined>;
  removeChallenge(kind: ChallengeKind, key: string): Promise<void>;
  /** Called when another instance stored a certificate (Redis pushes it; a directory never calls). Returns the unsubscribe. */
  onCertificateChanged(listener: (caId: string, main: string) => void): () => void;
  /** Resolves true once the store is usable; false after `timeoutMs` or when connecting failed (a directory is usable at once). */
  whenAvailable(timeoutMs: number): Promise<boolean>;
  /** Called each time the store becomes reachable again after an outage (never for a directory). Returns the unsubscribe. */
  onAvailable(listener: () => void): () => void;
  close(): Promise<void>;
}

/** The store cannot be reached or refused us (Redis down, wrong password, TLS not trusted, a file not writable). */
export class StorageError extends GatehouseError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('STORAGE_UNAVAILABLE', message, options);
    this.name = 'StorageError';
  }
}

/** How long a pending challenge stays in a shared store: longer than any validation, short enough to clean up. */
export const CHALLENGE_TTL_MS = 10 * 60_000;

/** A stored JSON value: undefined when absent (empty text) or damaged, which callers treat alike. */
export function parseStored<T>(text: string | undefined): T | undefined {
  if (text === undefined || text === '') return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

/** A name made safe for a file name or a key part: lower case, one `_` for each run of other characters. */
export function safeName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9._@-]+/g, '_');
}
