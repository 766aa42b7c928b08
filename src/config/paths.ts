/**
 * Where the config's paths point. One anchor: every relative path written in a config file (`stateDir`,
 * `tls.certsDir`, `tls.certificates`, the default certificate, key files) is relative to that file's own directory,
 * so a config and what it names move together and nothing depends on where the process was started (systemd without
 * WorkingDirectory, a container's WORKDIR, a shell in another directory). Only a config given as an object (the
 * library API, the embedded demo) has no file, and then the working directory is the anchor.
 *
 * Each config file gets its own default state directory, `state/<environment>` beside it (`config.prod.json` →
 * `state/prod`), so a prod and a test instance started from one directory never share a default certificate, ACME
 * state or control socket.
 */
import { basename, dirname, resolve } from 'node:path';
import { DEFAULTS } from './defaults.js';
import type { Config } from './schema.js';

/** Where a config came from, for the paths written in it. */
export interface PathContext {
  /** The config file; undefined for a config object (then `cwd` anchors relative paths). Required, so no caller forgets it. */
  readonly configFile: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

/**
 * The environment a config file stands for, from its name: `config.prod.json` → `prod`, `config.test.jsonc` →
 * `test`, `edge.json` → `edge`, `config.json` → `config`. It names the default state directory.
 */
export function environmentName(configFile: string): string {
  const name = basename(configFile).replace(/\.(jsonc?|ya?ml)$/i, '');
  const env = /^config\../i.test(name) ? name.slice('config.'.length) : name;
  return env === '' || env === '.' || env === '..' ? 'config' : env;
}

/** The directory relative paths of the config are anchored at: the config file's, else `cwd`. */
export function configBaseDir(ctx: PathContext): string {
  const cwd = ctx.cwd ?? process.cwd();
  return ctx.configFile === undefined ? cwd : resolve(cwd, dirname(ctx.configFile));
}

/**
 * The absolute state directory: GATEHOUSE_STATE_DIR (against `cwd`: it comes from the process's environment, not
 * the file), else `stateDir` against the config file's directory, else `state/<environment>` beside the file (plain
 * `state` in `cwd` for a config object).
 */
export function resolveStateDir(config: Config, ctx: PathContext): string {
  const env = ctx.env ?? process.env;
  const cwd = ctx.cwd ?? process.cwd();
  // An empty variable counts as unset: `GATEHOUSE_STATE_DIR=` in a compose file should not mean "the cwd itself".
  const fromEnv = env['GATEHOUSE_STATE_DIR'];
  if (fromEnv !== undefined && fromEnv !== '') return resolve(cwd, fromEnv);
  if (config.stateDir !== undefined) return resolve(configBaseDir(ctx), config.stateDir);
  return ctx.configFile === undefined ? resolve(cwd, DEFAULTS.stateDir) : resolve(configBaseDir(ctx), DEFAULTS.stateDir, environmentName(ctx.configFile));
}

/**
 * Where state lived by default before each config file got its own (`state` in the working directory), when that
 * is not where it lives now: start-up warns when it finds state there that the new default does not have.
 */
export function legacyDefaultStateDir(config: Config, ctx: PathContext): string | undefined {
  const env = ctx.env ?? process.env;
  if (ctx.configFile === undefined || config.stateDir !== undefined || (env['GATEHOUSE_STATE_DIR'] ?? '') !== '') return undefined;
  const legacy = resolve(ctx.cwd ?? process.cwd(), DEFAULTS.stateDir);
  return legacy === resolveStateDir(config, ctx) ? undefined : legacy;
}

/** The absolute certificates directory (`tls.certsDir` or the default), against the config file's directory. */
export function resolveCertsDir(config: Config, ctx: PathContext): string {
  return resolve(configBaseDir(ctx), config.tls?.certsDir ?? DEFAULTS.certsDir);
}

/**
 * A path written in the config file, made absolute against that file's directory; without a file (a config given
 * as an object through the library API) against `cwd`.
 */
export function resolveConfigRelative(path: string, configFile: string | undefined, cwd: string = process.cwd()): string {
  return resolve(configBaseDir({ configFile, cwd }), path);
}

/** The TLS file paths of a config, all absolute: what the certificate store is built from. */
export interface TlsPaths {
  certsDir: string;
  stateDir: string;
  files: { certFile: string; keyFile: string }[];
  defaultCertificate: { certFile?: string; keyFile?: string };
}

/** Resolves every TLS path of `config` at once (see the anchor above). */
export function resolveTlsPaths(config: Config, ctx: PathContext): TlsPaths {
  const rel = (p: string) => resolveConfigRelative(p, ctx.configFile, ctx.cwd);
  const def = config.tls?.defaultCertificate;
  return {
    certsDir: resolveCertsDir(config, ctx),
    stateDir: resolveStateDir(config, ctx),
    files: (config.tls?.certificates ?? []).map((c) => ({ certFile: rel(c.certFile), keyFile: rel(c.keyFile) })),
    defaultCertificate: {
      ...(def?.certFile !== undefined ? { certFile: rel(def.certFile) } : {}),
      ...(def?.keyFile !== undefined ? { keyFile: rel(def.keyFile) } : {}),
    },
  };
}
