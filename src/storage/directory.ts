/**
 * The state directory backend (the default): ACME state under `<stateDir>/acme/<ca-id>/` in the layout gatehouse has
 * always used (so existing state loads as is), pending challenges under `<stateDir>/challenges/`, locks under
 * `<stateDir>/locks/`. Every write is atomic (src/certs/atomic-write.ts). It also works on a directory shared by
 * several instances (NFS and the like): the lock is a file created with O_EXCL holding its expiry. A shared mount
 * cannot tell other instances that something changed, so they notice new certificates by polling
 * `certificateStamp` (the chain's mtime), and cannot learn of each other's pending challenges in time: several
 * instances on a shared directory answer challenges through `challenges.peers` or stateless http-01.
 */
import { randomBytes } from 'node:crypto';
import { link, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ensurePrivateDir, writeFileAtomic } from '../certs/index.js';
import { parseStored, safeName, StorageError, type CaStorage, type CertificateStatus, type ChallengeKind, type Storage, type StorageLock, type StoredAccount, type StoredCertificate } from './types.js';

/** Creates the directory backend rooted at `stateDir`. */
export function createDirectoryStorage(stateDir: string, lockTtlMs: number): Storage {
  const cas = new Map<string, DirectoryCaStorage>();
  const challengePath = (kind: ChallengeKind, key: string) => join(stateDir, 'challenges', kind, `${safeName(key)}.json`);
  return {
    kind: 'directory',
    lockTtlMs,
    ca(caId) {
      let ca = cas.get(caId);
      if (!ca) cas.set(caId, (ca = new DirectoryCaStorage(stateDir, caId)));
      return ca;
    },
    tryLock: (name) => tryFileLock(join(stateDir, 'locks'), name, lockTtlMs),
    async putChallenge(kind, key, value, ttlMs) {
      await ensurePrivateDir(join(stateDir, 'challenges', kind));
      await writeFileAtomic(challengePath(kind, key), JSON.stringify({ value, expiresAt: Date.now() + ttlMs }), { mode: 0o600 });
    },
    async getChallenge(kind, key) {
      const entry = parseStored<{ value: string; expiresAt: number }>(await readOptional(challengePath(kind, key)));
      if (entry === undefined || entry.expiresAt <= Date.now()) return undefined;
      return entry.value;
    },
    async removeChallenge(kind, key) {
      await unlink(challengePath(kind, key)).catch(() => undefined);
    },
    whenAvailable: async () => true,
    onCertificateChanged: () => () => undefined,
    onAvailable: () => () => undefined,
    close: async () => undefined,
  };
}

/** Paths and reads/writes of one CA's directory. */
export class DirectoryCaStorage implements CaStorage {
  readonly dir: string;

  constructor(stateDir: string, caId: string) {
    this.dir = join(stateDir, 'acme', caId);
  }

  /** The account key file of `email` (one account per CA and email). */
  accountKeyPath(email: string): string {
    return join(this.dir, 'accounts', safeName(email), 'account-key.pem');
  }

  async readAccount(email: string): Promise<StoredAccount | undefined> {
    const keyPem = await readOptional(this.accountKeyPath(email));
    if (keyPem === undefined) return undefined;
    const meta = parseStored<{ url?: string }>(await readOptional(join(this.dir, 'accounts', safeName(email), 'account.json')));
    return meta?.url !== undefined ? { keyPem, url: meta.url } : { keyPem };
  }

  async writeAccount(email: string, account: StoredAccount): Promise<void> {
    const dir = join(this.dir, 'accounts', safeName(email));
    await ensurePrivateDir(dir);
    await writeFileAtomic(this.accountKeyPath(email), account.keyPem, { mode: 0o600 });
    if (account.url !== undefined) await writeFileAtomic(join(dir, 'account.json'), `${JSON.stringify({ url: account.url })}\n`, { mode: 0o644 });
  }

  /** The directory of the certificate whose main name is `main` (other SANs live in its status). */
  certDir(main: string): string {
    return join(this.dir, 'certificates', safeName(main));
  }

  describe(main: string): string {
    return join(this.certDir(main), 'fullchain.pem');
  }

  async readCertificate(main: string): Promise<StoredCertificate | undefined> {
    const dir = this.certDir(main);
    const [certPem, keyPem, status] = await Promise.all([readOptional(join(dir, 'fullchain.pem')), readOptional(join(dir, 'key.pem')), this.readStatus(main)]);
    if (certPem === undefined || keyPem === undefined) return undefined;
    return { certPem, keyPem, status };
  }

  async readStatus(main: string): Promise<CertificateStatus | undefined> {
    // A damaged status only loses the schedule; the certificate itself is re-read.
    return parseStored<CertificateStatus>(await readOptional(join(this.certDir(main), 'status.json')));
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

  async certificateStamp(main: string): Promise<string | undefined> {
    try {
      const s = await stat(join(this.certDir(main), 'fullchain.pem'));
      return `${s.mtimeMs}:${s.size}`;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new StorageError(`cannot read ${this.describe(main)}: ${(e as Error).message}`, { cause: e });
    }
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

interface LockFile {
  readonly token: string;
  readonly expiresAt: number;
  readonly holder: string;
}

/**
 * A lock file made with O_EXCL (`wx`), which is atomic on local file systems and on NFSv3+. A file whose expiry
 * passed belongs to a crashed (or hung) holder: it is renamed aside first, so of several instances breaking it at
 * once only one succeeds, and a fresh lock renamed by mistake is put back with link(), which never overwrites.
 */
async function tryFileLock(dir: string, name: string, ttlMs: number): Promise<StorageLock | undefined> {
  const path = join(dir, `${safeName(name)}.lock`);
  const token = randomBytes(12).toString('hex');
  const holder = `${hostname()}:${process.pid}`;
  const write = async (flag: 'wx' | 'r+') => {
    const handle = await open(path, flag, 0o600);
    try {
      if (flag === 'r+') await handle.truncate(0);
      await handle.writeFile(JSON.stringify({ token, expiresAt: Date.now() + ttlMs, holder } satisfies LockFile));
    } finally {
      await handle.close();
    }
  };
  const held = (): StorageLock => ({
    name,
    async renew() {
      const current = parseStored<LockFile>(await readOptional(path).catch(() => undefined));
      if (current?.token !== token) return false;
      await write('r+');
      return true;
    },
    async release() {
      const current = parseStored<LockFile>(await readOptional(path).catch(() => undefined));
      if (current?.token === token) await unlink(path).catch(() => undefined);
    },
  });
  try {
    await ensurePrivateDir(dir);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await write('wx');
        return held();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const current = parseStored<LockFile>(await readOptional(path));
      // A file being written this instant reads empty: treat it as held.
      if (current === undefined || (current.expiresAt > Date.now() && !deadHolder(current.holder))) return undefined;
      const aside = `${path}.${token}.stale`;
      try {
        await rename(path, aside);
      } catch {
        return undefined; // someone else broke it first
      }
      const moved = parseStored<LockFile>(await readOptional(aside));
      if (moved?.token !== current.token) await link(aside, path).catch(() => undefined);
      await unlink(aside).catch(() => undefined);
      if (moved?.token !== current.token) return undefined;
    }
    return undefined;
  } catch (e) {
    throw new StorageError(`lock ${path} not usable: ${(e as Error).message}`, { cause: e });
  }
}

/** Whether `holder` is a process of this host that no longer runs (a crash): its lock need not wait for its expiry. */
function deadHolder(holder: string): boolean {
  const at = holder.lastIndexOf(':');
  const pid = Number(holder.slice(at + 1));
  if (holder.slice(0, at) !== hostname() || !Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
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
