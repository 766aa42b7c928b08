/**
 * The certificate store of TLS termination: certificates from certsDir and the config's files, certificates put
 * by the ACME manager, and the default certificate, each compiled once into a SecureContext and indexed by SNI.
 * Every change builds a new index and swaps one reference (handshakes in flight keep the one they read). A file
 * that breaks never takes a working certificate out of service: the previous pair stays until a good one comes.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import { GatehouseError } from '../errors.js';
import type { Logger } from '../log.js';
import { buildSniIndex, type SniIndex } from './lookup.js';
import { pairCertificates, parsePemFile, type CertPair, type KeyType, type PemFile } from './pem.js';
import { loadOrCreateDefaultCertificate, readPair } from './self-signed.js';
import { listCertsDir, PemFileCache } from './source-files.js';
import { secureContextBase, type TlsSettings } from './tls-settings.js';

/** What the store is built from; every path absolute (src/config/paths.ts resolves them). */
export interface CertStoreOptions {
  certsDir: string;
  files: readonly { certFile: string; keyFile: string }[];
  /** The generated default certificate lives in `<stateDir>/default-cert/`. */
  stateDir: string;
  defaultCertificate: { certFile?: string; keyFile?: string; onUnknownName: 'serve' | 'refuse' };
  settings: TlsSettings;
  log: Logger;
  /** Quiet time after a change in certsDir before it is scanned (editors and cp write in several steps). */
  debounceMs?: number;
  /** Called after the default certificate was regenerated (it expires yearly): re-apply `serverOptions()`. */
  onDefaultChange?: () => void;
  /** The safety-net rescan, for file systems where fs.watch sees nothing (bind mounts, NFS). */
  rescanIntervalMs?: number;
}

/** One certificate in service, as `list()` shows it. */
export interface CertInfo {
  readonly names: readonly string[];
  readonly notAfter: Date;
  readonly source: string;
  readonly keyType: KeyType;
  readonly isDefault: boolean;
}

/** The store's face for the TLS listener, `status`, and the ACME manager. */
export interface CertStore {
  /** The context for a ClientHello's SNI (undefined: no SNI): exact SAN, one-label wildcard, default, or undefined to refuse. */
  select(sni: string | undefined): SecureContext | undefined;
  /** The default certificate's context (for the https.Server's own options). */
  readonly defaultContext: SecureContext;
  /** The options every context is built with (protocol versions, ciphers, curves), for the https.Server too. */
  readonly contextOptions: SecureContextOptions;
  /**
   * Options for the https.Server itself: `contextOptions` plus the default certificate, which is what a client
   * without SNI gets (Node calls SNICallback only when SNI is present). With onUnknownName 'refuse' there is no
   * certificate, so such a client's handshake fails with a handshake_failure alert. Read again after the default
   * certificate changes (see `defaultContext`), and apply with `server.setSecureContext()`.
   */
  serverOptions(): SecureContextOptions;
  /** What is in service, the default certificate last. */
  list(): readonly CertInfo[];
  /** Adds or replaces the certificate named `source`; serves it from the next handshake. Throws CERT_INVALID. */
  put(source: string, certPem: string, keyPem: string): void;
  /** Scans certsDir and the config's files now; resolves when the index reflects them. */
  rescan(): Promise<void>;
  /** Stops watching; the contexts stay usable. */
  close(): void;
}

interface Served {
  readonly pair: CertPair;
  readonly context: SecureContext;
}

/** Loads the default certificate and every certificate, starts watching certsDir, and returns the store. */
export async function createCertStore(options: CertStoreOptions): Promise<CertStore> {
  const { certsDir, log } = options;
  const refuse = options.defaultCertificate.onUnknownName === 'refuse';
  const contextOptions = secureContextBase(options.settings, log);
  const configFiles = [...new Set(options.files.flatMap((f) => [f.certFile, f.keyFile]))];
  const cache = new PemFileCache();
  const compile = (pair: CertPair) => createSecureContext({ ...contextOptions, cert: pair.chainPem, key: pair.key.pem });

  let fallback = await loadDefault(options, log);
  let fallbackContext = compile(fallback.pair);
  let fromFiles = new Map<string, Served>();
  const fromPut = new Map<string, Served>();
  const reported = new Map<string, string>();
  let loggedConflicts = new Set<string>();
  let index: SniIndex<SecureContext> = buildSniIndex([], refuse ? undefined : fallbackContext);

  const rebuild = () => {
    const served = [...fromFiles.values(), ...fromPut.values()];
    index = buildSniIndex(
      served.map((s) => ({ names: s.pair.leaf.names, notAfter: s.pair.leaf.notAfter, source: s.pair.certFile, value: s.context })),
      refuse ? undefined : fallbackContext,
    );
    const conflicts = new Set<string>();
    for (const c of index.conflicts) {
      const key = `${c.name}|${c.chosen}|${c.others.join('|')}`;
      conflicts.add(key);
      if (!loggedConflicts.has(key)) log.info({ domain: c.name, chosen: c.chosen, others: c.others }, 'name covered by several certificates, the longest-valid serves');
    }
    loggedConflicts = conflicts;
  };

  const scan = async () => {
    let changed = false;
    if (fallback.selfSigned && fallback.pair.leaf.notAfter.getTime() - 24 * 3600 * 1000 < Date.now()) {
      fallback = await loadDefault(options, log);
      fallbackContext = compile(fallback.pair);
      changed = true;
      options.onDefaultChange?.();
    }
    const listed = await listCertsDir(certsDir);
    watcher.update(listed !== undefined);
    const paths = [...new Set([...(listed ?? []), ...configFiles])];
    const present = new Set<string>();
    const files: PemFile[] = [];
    const troubled = new Map<string, string>();
    for (const path of paths) {
      const file = await cache.read(path);
      if (!file) {
        if (configFiles.includes(path)) troubled.set(path, 'file not found');
        continue;
      }
      present.add(path);
      files.push(file);
      if (file.problems.length > 0) troubled.set(path, file.problems.join('; '));
    }
    cache.prune(present);
    const paired = pairCertificates(files);
    for (const p of paired.problems) troubled.set(p.file, [troubled.get(p.file), p.reason].filter(Boolean).join('; '));

    const next = new Map<string, Served>();
    for (const pair of paired.pairs) {
      const id = `${pair.certFile}|${pair.leaf.fingerprint}|${pair.keyFile}`;
      const prev = fromFiles.get(id);
      if (prev && prev.pair.chainPem === pair.chainPem) {
        next.set(id, prev); // unchanged: keep the context compiled last time
        continue;
      }
      try {
        next.set(id, { pair, context: compile(pair) });
      } catch (e) {
        troubled.set(pair.certFile, `OpenSSL refused the pair: ${(e as Error).message}`);
      }
    }
    // A certificate whose file is still there but broke (half-written, its key not yet replaced) stays in service.
    const kept: string[] = [];
    for (const [id, old] of fromFiles) {
      if (next.has(id) || !present.has(old.pair.certFile)) continue;
      if (!troubled.has(old.pair.certFile) && !troubled.has(old.pair.keyFile)) continue;
      if ([...next.values()].some((n) => n.pair.certFile === old.pair.certFile)) continue;
      next.set(id, old);
      kept.push(old.pair.certFile, old.pair.keyFile);
    }
    for (const [file, reason] of troubled) {
      if (reported.get(file) === reason) continue;
      log.warn({ file, reason, keptPrevious: kept.includes(file) }, 'certificate file unusable');
    }
    for (const file of reported.keys()) if (!troubled.has(file)) reported.delete(file);
    for (const [file, reason] of troubled) reported.set(file, reason);

    for (const [id, s] of next) {
      if (fromFiles.has(id)) continue;
      changed = true;
      const { leaf } = s.pair;
      log.info({ source: s.pair.certFile, names: leaf.names, notAfter: leaf.notAfter.toISOString(), keyType: s.pair.key.keyType }, 'certificate loaded');
      if (leaf.notAfter.getTime() < Date.now()) log.warn({ source: s.pair.certFile, names: leaf.names, notAfter: leaf.notAfter.toISOString() }, 'certificate expired');
    }
    for (const [id, s] of fromFiles) {
      if (next.has(id)) continue;
      changed = true;
      log.info({ source: s.pair.certFile, names: s.pair.leaf.names }, 'certificate removed');
    }
    fromFiles = next;
    if (changed) rebuild();
  };

  // Scans never overlap, and requests made while one waits to start share it.
  let chain: Promise<void> = Promise.resolve();
  let queued: Promise<void> | undefined;
  const rescan = (): Promise<void> => {
    queued ??= chain.then(() => {
      queued = undefined;
      return scan().catch((e: unknown) => log.error({ certsDir, reason: (e as Error).message }, 'certificate scan failed'));
    });
    chain = queued;
    return queued;
  };

  const watcher = new DirectoryWatcher(certsDir, options.debounceMs ?? 250, () => void rescan(), log);
  await rescan();
  const periodic = setInterval(() => void rescan(), options.rescanIntervalMs ?? 60_000);
  periodic.unref();

  return {
    select: (sni) => index.select(sni),
    get defaultContext() {
      return fallbackContext;
    },
    contextOptions,
    serverOptions: () => (refuse ? { ...contextOptions } : { ...contextOptions, cert: fallback.pair.chainPem, key: fallback.pair.key.pem }),
    list() {
      const info = (s: Served, isDefault: boolean): CertInfo => ({
        names: s.pair.leaf.names,
        notAfter: s.pair.leaf.notAfter,
        source: s.pair.certFile,
        keyType: s.pair.key.keyType,
        isDefault,
      });
      return [...fromFiles.values(), ...fromPut.values()].map((s) => info(s, false)).concat(info({ pair: fallback.pair, context: fallbackContext }, true));
    },
    put(source, certPem, keyPem) {
      const files = [parsePemFile(source, certPem), parsePemFile(`${source} (key)`, keyPem)];
      const problems = files.flatMap((f) => f.problems);
      const pair = pairCertificates(files).pairs[0];
      if (problems.length > 0 || !pair) {
        throw new GatehouseError('CERT_INVALID', `certificate ${source} not installed: ${problems.join('; ') || 'no certificate matches the private key'}`);
      }
      let context: SecureContext;
      try {
        context = compile(pair);
      } catch (cause) {
        throw new GatehouseError('CERT_INVALID', `certificate ${source} not installed: OpenSSL refused the pair`, { cause });
      }
      fromPut.set(source, { pair: { ...pair, certFile: source, keyFile: source }, context });
      rebuild();
      log.info({ source, names: pair.leaf.names, notAfter: pair.leaf.notAfter.toISOString(), keyType: pair.key.keyType }, 'certificate installed');
    },
    rescan,
    close() {
      clearInterval(periodic);
      watcher.close();
    },
  };
}

/** The configured default certificate when it loads, else the generated one (a broken file disables only itself). */
async function loadDefault(options: CertStoreOptions, log: Logger): Promise<{ pair: CertPair; selfSigned: boolean }> {
  const { certFile, keyFile } = options.defaultCertificate;
  if (certFile !== undefined || keyFile !== undefined) {
    const pair = certFile !== undefined && keyFile !== undefined ? await readPair(certFile, keyFile) : undefined;
    if (pair) return { pair, selfSigned: false };
    log.error({ certFile, keyFile }, 'default certificate unusable, generating one');
  }
  return { pair: (await loadOrCreateDefaultCertificate(options.stateDir, log)).pair, selfSigned: true };
}

/**
 * fs.watch on certsDir, debounced; while certsDir does not exist, a watch on its parent for its creation (when the
 * parent exists). A watcher that fails is dropped: the periodic rescan notices the directory and starts a new one.
 */
class DirectoryWatcher {
  #dir: FSWatcher | undefined;
  #parent: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #missingLogged = false;

  constructor(
    private readonly path: string,
    private readonly debounceMs: number,
    private readonly onChange: () => void,
    private readonly log: Logger,
  ) {}

  /** Called after each listing: attach to the directory if it exists, else to its parent. */
  update(exists: boolean): void {
    if (this.#closed) return;
    if (exists) {
      this.#parent = close(this.#parent);
      this.#missingLogged = false;
      this.#dir ??= this.#watch(this.path, () => this.#schedule(), () => (this.#dir = close(this.#dir)));
    } else {
      this.#dir = close(this.#dir);
      if (!this.#missingLogged) this.log.info({ certsDir: this.path }, 'certificates directory missing, watching for it');
      this.#missingLogged = true;
      const name = basename(this.path);
      this.#parent ??= this.#watch(dirname(this.path), (file) => (file === name || file === null ? this.#schedule() : undefined), () => (this.#parent = close(this.#parent)));
    }
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#dir = close(this.#dir);
    this.#parent = close(this.#parent);
  }

  #watch(path: string, onEvent: (file: string | null) => void, onError: () => void): FSWatcher | undefined {
    try {
      const w = watch(path, { persistent: false }, (_event, file) => onEvent(file === null ? null : String(file)));
      w.on('error', onError);
      return w;
    } catch {
      return undefined;
    }
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(this.onChange, this.debounceMs);
    this.#timer.unref();
  }
}

function close(w: FSWatcher | undefined): undefined {
  w?.close();
  return undefined;
}
