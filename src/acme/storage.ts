/**
 * ACME state on disk, under `<stateDir>/acme/<ca-id>/`: the account key (0600) and URL per email, and per
 * certificate a directory with the chain, its key (0600) and a small status file (last error, next renewal).
 * Every write is atomic (src/certs/atomic-write.ts); a reader sees the old file or the new one.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensurePrivateDir, writeFileAtomic } from '../certs/index.js';

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
}

/** A stored certificate. */
export interface StoredCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  readonly status: CertificateStatus | undefined;
}

/** Paths and reads/writes of one CA's directory. */
export class AcmeStorage {
  readonly dir: string;

  constructor(stateDir: string, caId: string) {
    this.dir = join(stateDir, 'acme', caId);
  }

  /** The account key file of `email` (one account per CA and email). */
  accountKeyPath(email: string): string {
    return join(this.dir, 'accounts', safe(email), 'account-key.pem');
  }

  async readAccountKey(email: string): Promise<string | undefined> {
    return readOptional(this.accountKeyPath(email));
  }

  async writeAccountKey(email: string, pem: string): Promise<void> {
    await ensurePrivateDir(join(this.dir, 'accounts', safe(email)));
    await writeFileAtomic(this.accountKeyPath(email), pem, { mode: 0o600 });
  }

  /** The directory of the certificate whose main name is `main` (other SANs live in its status). */
  certDir(main: string): string {
    return join(this.dir, 'certificates', safe(main));
  }

  async readCertificate(main: string): Promise<StoredCertificate | undefined> {
    const dir = this.certDir(main);
    const [certPem, keyPem, status] = await Promise.all([readOptional(join(dir, 'fullchain.pem')), readOptional(join(dir, 'key.pem')), this.readStatus(main)]);
    if (certPem === undefined || keyPem === undefined) return undefined;
    return { certPem, keyPem, status };
  }

  async readStatus(main: string): Promise<CertificateStatus | undefined> {
    const text = await readOptional(join(this.certDir(main), 'status.json'));
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as CertificateStatus;
    } catch {
      return undefined; // a damaged status only loses the schedule; the certificate itself is re-read
    }
  }

  /** Key first, then the chain: a crash in between leaves a chain whose key does not match, which the store rejects. */
  async writeCertificate(main: string, certPem: string, keyPem: string, status: CertificateStatus): Promise<void> {
    const dir = this.certDir(main);
    await ensurePrivateDir(dir);
    await writeFileAtomic(join(dir, 'key.pem'), keyPem, { mode: 0o600 });
    await writeFileAtomic(join(dir, 'fullchain.pem'), certPem, { mode: 0o644 });
    await this.writeStatus(main, status);
  }

  async writeStatus(main: string, status: CertificateStatus): Promise<void> {
    await ensurePrivateDir(this.certDir(main));
    await writeFileAtomic(join(this.certDir(main), 'status.json'), `${JSON.stringify(status, null, 2)}\n`, { mode: 0o644 });
  }
}

/** Every CA directory and certificate main name under `<stateDir>/acme`, for `gatehouse certs`. */
export async function listStoredCertificates(stateDir: string): Promise<{ caId: string; main: string }[]> {
  const out: { caId: string; main: string }[] = [];
  for (const ca of await readdirOptional(join(stateDir, 'acme'))) {
    for (const main of await readdirOptional(join(stateDir, 'acme', ca, 'certificates'))) out.push({ caId: ca, main });
  }
  return out;
}

function safe(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9._@-]+/g, '_');
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

async function readdirOptional(path: string): Promise<string[]> {
  try {
    return (await readdir(path)).filter((n) => !n.startsWith('.')).sort();
  } catch {
    return [];
  }
}
