/**
 * Where the config's paths point. Two anchors, as the schema documents them: the state directory and certsDir are
 * relative to the working directory (a container mounts them there), while files named in the config
 * (`tls.certificates`, the default certificate) are relative to the config file's own directory, so a config and
 * its certificates move together.
 */
import { dirname, resolve } from 'node:path';
import { DEFAULTS } from './defaults.js';
import type { Config } from './schema.js';

/** The absolute state directory: GATEHOUSE_STATE_DIR, else `stateDir`, else the default, against `cwd`. */
export function resolveStateDir(config: Config, env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  // An empty variable counts as unset: `GATEHOUSE_STATE_DIR=` in a compose file should not mean "the cwd itself".
  const fromEnv = env['GATEHOUSE_STATE_DIR'];
  return resolve(cwd, fromEnv !== undefined && fromEnv !== '' ? fromEnv : (config.stateDir ?? DEFAULTS.stateDir));
}

/** The absolute certificates directory (`tls.certsDir` or the default), against `cwd`. */
export function resolveCertsDir(config: Config, cwd: string = process.cwd()): string {
  return resolve(cwd, config.tls?.certsDir ?? DEFAULTS.certsDir);
}

/**
 * A path written in the config file, made absolute against that file's directory; without a file (a config given
 * as an object through the library API) against `cwd`.
 */
export function resolveConfigRelative(path: string, configFile: string | undefined, cwd: string = process.cwd()): string {
  return configFile === undefined ? resolve(cwd, path) : resolve(cwd, dirname(configFile), path);
}

/** The TLS file paths of a config, all absolute: what the certificate store is built from. */
export interface TlsPaths {
  certsDir: string;
  stateDir: string;
  files: { certFile: string; keyFile: string }[];
  defaultCertificate: { certFile?: string; keyFile?: string };
}

/** Resolves every TLS path of `config` at once (see the anchors above). */
export function resolveTlsPaths(
  config: Config,
  options: { configFile?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): TlsPaths {
  const { configFile, env = process.env, cwd = process.cwd() } = options;
  const rel = (p: string) => resolveConfigRelative(p, configFile, cwd);
  const def = config.tls?.defaultCertificate;
  return {
    certsDir: resolveCertsDir(config, cwd),
    stateDir: resolveStateDir(config, env, cwd),
    files: (config.tls?.certificates ?? []).map((c) => ({ certFile: rel(c.certFile), keyFile: rel(c.keyFile) })),
    defaultCertificate: {
      ...(def?.certFile !== undefined ? { certFile: rel(def.certFile) } : {}),
      ...(def?.keyFile !== undefined ? { keyFile: rel(def.keyFile) } : {}),
    },
  };
}
