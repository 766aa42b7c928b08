/**
 * The certificate store a config asks for: whether it needs one at all (an entry point terminates TLS) and the
 * store's settings, paths resolved (src/config/paths.ts) and defaults applied. Read at start and by each reload
 * (src/reload/reloader.ts), which rebuilds the store when these change.
 */
import type { Config } from '../config/index.js';
import { resolveTlsPaths } from '../config/paths.js';
import type { Logger } from '../log.js';
import type { CertStoreOptions } from './store.js';

/** Whether any entry point terminates TLS (then the certificate store is loaded). */
export function needsCertificates(config: Config): boolean {
  return Object.values(config.entryPoints).some((e) => e.tls !== undefined);
}

/** The certificate store's settings from the config: paths resolved (src/config/paths.ts), defaults applied. */
export function certStoreOptions(config: Config, configFile: string | undefined, env: NodeJS.ProcessEnv, log: Logger): CertStoreOptions {
  const tls = config.tls ?? {};
  const paths = resolveTlsPaths(config, { configFile, env });
  return {
    certsDir: paths.certsDir,
    files: paths.files,
    stateDir: paths.stateDir,
    defaultCertificate: { ...paths.defaultCertificate, onUnknownName: tls.defaultCertificate?.onUnknownName ?? 'serve' },
    settings: { minVersion: tls.options?.minVersion ?? 'TLSv1.2', ...(tls.options?.ciphers ? { ciphers: tls.options.ciphers } : {}) },
    log,
  };
}
