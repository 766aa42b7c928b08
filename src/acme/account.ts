/**
 * The ACME account of one resolver: one per CA and email. Its key is created once (P-256) or imported from
 * `accountKeyFile`, stored 0600 in the state directory and reused; registration (RFC 8555 §7.3) is done on first
 * use and again whenever the CA says it no longer knows the account (a Pebble restart, a CA that purged it).
 * With a store shared by several instances, the first one creates the key under a lock and the others load it, so
 * they all act as one account (one rate limit, one set of authorizations).
 */
import { readFile } from 'node:fs/promises';
import * as acme from 'acme-client';
import type { Logger } from '../log.js';
import { AcmeError, problemText, withProblems } from './problems.js';
import { StorageError, type CaStorage, type Storage } from '../storage/index.js';

/** What an account needs. */
export interface AccountOptions {
  readonly directoryUrl: string;
  readonly email: string;
  readonly storage: CaStorage;
  /** The lock of the whole store and the account's lock name (`account:<ca>:<email>`). */
  readonly locks: Pick<Storage, 'tryLock' | 'lockTtlMs'>;
  readonly lockName: string;
  readonly eab?: { kid: string; hmacKey: string };
  /** An existing account key to import on first use (absolute path). */
  readonly importKeyFile?: string;
  /** acme-client's polling backoff; its default 5 s costs about 5 s per order against a fast CA. */
  readonly backoffMinMs: number;
  readonly backoffMaxMs: number;
  readonly log: Logger;
}

/** A registered account; `client()` registers lazily and at most once until `forget()`. */
export class AcmeAccount {
  #client: Promise<acme.Client> | undefined;
  #key: Promise<string> | undefined;

  constructor(private readonly options: AccountOptions) {}

  /** The account key PEM: stored, else imported, else generated (then stored 0600 before first use). */
  key(): Promise<string> {
    this.#key ??= this.#loadKey().catch((e: unknown) => {
      this.#key = undefined;
      throw e;
    });
    return this.#key;
  }

  /** A client whose account is registered; concurrent callers share one registration. */
  client(): Promise<acme.Client> {
    this.#client ??= this.#register().catch((e: unknown) => {
      this.#client = undefined;
      throw e;
    });
    return this.#client;
  }

  /** Drops the registration: the CA forgot the account, the next `client()` registers the same key again. */
  forget(): void {
    this.#client = undefined;
  }

  /**
   * The stored key, else the one this instance creates under the account lock. Another instance holding the lock is
   * creating it: wait (bounded by the lock's expiry, which covers a crashed creator) and load theirs.
   */
  async #loadKey(): Promise<string> {
    const { storage, email, locks, lockName } = this.options;
    const deadline = Date.now() + locks.lockTtlMs + 5_000;
    for (;;) {
      const stored = await storage.readAccount(email);
      if (stored !== undefined) return stored.keyPem;
      const lock = await locks.tryLock(lockName);
      if (lock) {
        try {
          // Re-read under the lock: its previous holder may have written the key between our read and our lock.
          return (await storage.readAccount(email))?.keyPem ?? (await this.#createKey());
        } finally {
          await lock.release();
        }
      }
      if (Date.now() > deadline) throw new StorageError(`the account lock ${lockName} is held by another instance for too long`);
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 150));
    }
  }

  async #createKey(): Promise<string> {
    const { storage, email, importKeyFile, log } = this.options;
    let pem: string;
    if (importKeyFile !== undefined) {
      pem = await readFile(importKeyFile, 'utf8');
      acme.crypto.getJwk(pem); // throws on a key that is not RSA or ECDSA PEM, before it is stored
      log.info({ email, file: importKeyFile }, 'acme account key imported');
    } else {
      pem = (await acme.crypto.createPrivateEcdsaKey('P-256')).toString();
    }
    await storage.writeAccount(email, { keyPem: pem });
    return pem;
  }

  async #register(): Promise<acme.Client> {
    const { directoryUrl, email, eab, backoffMinMs, backoffMaxMs, log } = this.options;
    const accountKey = await this.key();
    const client = new acme.Client({
      directoryUrl,
      accountKey,
      backoffMin: backoffMinMs,
      backoffMax: backoffMaxMs,
      backoffAttempts: 12,
      ...(eab ? { externalAccountBinding: eab } : {}),
    });
    await withProblems(
      () => client.createAccount({ termsOfServiceAgreed: true, contact: [`mailto:${email}`] }),
      (err, problem) => new AcmeError('ACME_ORDER_FAILED', `account registration at ${directoryUrl} failed: ${problemText(err, problem)}`, { cause: err, ...(problem ? { problem } : {}) }),
    );
    const url = client.getAccountUrl();
    log.info({ ca: directoryUrl, email, account: url }, 'acme account registered');
    // Kept for operators; registration with the same key returns the same account anyway (RFC 8555 §7.3.1).
    const stored = await this.options.storage.readAccount(email).catch(() => undefined);
    if (stored?.keyPem === accountKey && stored.url !== url) await this.options.storage.writeAccount(email, { keyPem: accountKey, url }).catch(() => undefined);
    return client;
  }
}
