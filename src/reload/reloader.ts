/**
 * Reloading a running gatehouse (STYLE 8): the config is read again and validated, compiled into a new runtime that
 * one assignment swaps in, and the old runtime is retired, then disposed of once nothing runs on it any more. The
 * certificate store and the ACME manager are rebuilt only when what they are built from changed. Reloads run one at
 * a time, in the order asked; the outcome of each is kept for `status` and told to the admin entry point. The config
 * file is watched when the config in force says so. createGatehouse (src/api.ts) owns the state (LiveState) and
 * builds it at start; this module replaces its parts on reload.
 */
import { readFileSync } from 'node:fs';
import { wantedCertificates, type AcmeManager } from '../acme/index.js';
import type { Admin } from '../admin/index.js';
import type { ReloadResult } from '../api-types.js';
import { httpChallengeSettings, type HttpChallengeSettings } from '../challenges/http-settings.js';
import { createCertStore, resolveStateDir, type CertStore } from '../certs/index.js';
import { configBaseDir, type PathContext } from '../config/paths.js';
import { certStoreOptions, needsCertificates } from '../certs/store-options.js';
import { DEFAULTS, loadConfigFile, parseConfigText, parseDuration, validateConfig, type Config } from '../config/index.js';
import type { Edge } from '../edge/start.js';
import { configProblems, sectionProblems, withFile } from '../check.js';
import { GatehouseError, GatehouseErrors } from '../errors.js';
import type { Plugins } from '../http/contract.js';
import { flushLog, type Logger } from '../log.js';
import { buildRuntime, type Runtime } from '../runtime/index.js';
import type { PassthroughObserver } from '../tcp/index.js';
import { isMountPoint } from './mount.js';
import { contentHash, watchConfig, type ConfigWatch } from './watch-config.js';

/** Poll interval backing up the config directory watch (file systems where inotify sees nothing). */
const CONFIG_POLL_MS = 5_000;
/** How often retired runtimes are checked for their last passthrough stream to end. */
const RETIRED_SWEEP_MS = 1_000;

/**
 * The parts of a running gatehouse a reload replaces. createGatehouse reads them only through this one object, so
 * what a reload swaps in is what every reader (the listeners' getters, status, the admin entry point) sees next.
 */
export interface LiveState {
  /** The config in force. */
  config: Config;
  /** What the config in force compiled into; the listeners read it per request. */
  runtime: Runtime;
  /** Runtimes replaced by a reload that still serve something (long requests, websockets, passthrough streams). */
  readonly retired: Set<Runtime>;
  /** Read per request by the http-01 responder. */
  challengeSettings: HttpChallengeSettings;
  certs: CertStore | undefined;
  acme: AcmeManager | undefined;
  /** The listeners, from start() to stop(). */
  edge: Edge | undefined;
  /** start() was called: from then on a reload also rebuilds the certificate store and the ACME manager. */
  startCalled: boolean;
}

/** What reloads need of their gatehouse besides the state they replace. */
export interface ReloaderDeps {
  readonly live: LiveState;
  /** The file a reload reads again; undefined for a config given as an object (reload then takes the new object). */
  readonly configFile: string | undefined;
  /** For ${VAR} substitution and the state directory. */
  readonly env: NodeJS.ProcessEnv;
  readonly plugins: Plugins;
  readonly passthroughClosed: PassthroughObserver;
  readonly log: Logger;
  /** No logger was given, gatehouse made its own: its level follows the config (unless GATEHOUSE_LOG_LEVEL fixes it). */
  readonly ownLogger: boolean;
  /** The admin entry point, told each reload's outcome; undefined when it is off. */
  readonly admin: () => Admin | undefined;
  /** Sets the access-log switch the listeners read per request from the config in force and the log level. */
  readonly syncAccessLog: () => void;
  /** Loads what `config`'s ACME manager needs (acme-client, the storage backend); `createManager` comes after it. */
  readonly loadAcme: (config: Config) => Promise<void>;
  /** The ACME manager for `config`, or undefined when there is none to run. */
  readonly createManager: (config: Config) => AcmeManager | undefined;
  /** The grace period of the config in force (listeners a reload removes close within it). */
  readonly graceMs: () => number;
  /** Whether the config file is watched when the config says so; false in a worker (the primary watches). */
  readonly watch?: boolean;
  /** Told of each certificate store a reload builds, before it serves (a worker puts its ACME certificates in). */
  readonly certStoreBuilt?: (store: CertStore) => void;
}

/** The reloads of one gatehouse. */
export interface Reloader {
  /** Gatehouse.reload (src/api.ts): never rejects for a bad config, the running one stays. */
  reload(config?: Config): Promise<ReloadResult>;
  /** How many reloads got past validation (a refused config is not counted, one a listener could not apply is). */
  readonly reloads: number;
  /** The outcome of the last reload, refused or applied. */
  readonly lastReload: ReloadResult | undefined;
  /** Resolves when every reload asked so far has ended. */
  idle(): Promise<unknown>;
  /** At start: the config file is watched (when the config says so) and retired runtimes are swept. */
  start(): void;
  /** At stop: the watch and the sweep end (a reload under way still ends: see `idle`). */
  stop(): void;
}

/** The reloads of the gatehouse whose state is `deps.live`. Nothing runs until `start` or `reload`. */
export function createReloader(deps: ReloaderDeps): Reloader {
  const { live, configFile, env, plugins, passthroughClosed, log } = deps;
  let watcher: ConfigWatch | undefined;
  let sweep: NodeJS.Timeout | undefined;
  let reloads = 0;
  let lastReload: ReloadResult | undefined;
  let reloading: Promise<unknown> = Promise.resolve();

  /** Swap in `next`: the runtime first (requests from now on use it), then the listeners, then ACME. */
  const apply = async (next: Config, t0: number): Promise<ReloadResult> => {
    const nextRuntime = buildRuntime(next, plugins, log, live.runtime, passthroughClosed, configBaseDir({ configFile }));
    logProblems(nextRuntime, log);
    // What `gatehouse check` counts besides the routers (src/check.ts), so the two give the same verdict.
    const sections = sectionProblems(next);
    for (const e of sections) log.warn({ code: e.code, path: e.location.path, reason: e.message }, 'part of the config disabled');
    const problems = [...sections, ...nextRuntime.problems.map((p) => p.error)].map((e) => inFile(e).toString());
    const previous = live.runtime;
    const cut = (next.lifecycle?.closeRemovedConnections ?? DEFAULTS.closeRemovedConnections)
      ? { httpRouters: new Set(Object.keys(next.http?.routers ?? {})), tcpRouters: new Set(Object.keys(next.tcp?.routers ?? {})) }
      : undefined;
    live.runtime = nextRuntime;
    live.config = next;
    live.challengeSettings = challengeSettingsFor(next, configFile, log);
    live.retired.add(previous);
    previous.retire(cut).catch((err: unknown) => log.warn({ err }, 'retired runtime did not close cleanly'));
    const errors: string[] = [];
    const before = previous.config;
    // The level of a logger gatehouse made itself follows the file, unless GATEHOUSE_LOG_LEVEL fixes it.
    if (deps.ownLogger && env['GATEHOUSE_LOG_LEVEL'] === undefined && process.env['GATEHOUSE_LOG_LEVEL'] === undefined) {
      log.level = next.log?.level ?? DEFAULTS.logLevel;
    }
    deps.syncAccessLog();
    // `workers` is read at start (src/cluster/); the process that reads the file says so once, not every worker.
    if (deps.watch !== false && JSON.stringify(next.workers ?? DEFAULTS.workers) !== JSON.stringify(before.workers ?? DEFAULTS.workers)) {
      log.warn({ workers: next.workers ?? DEFAULTS.workers, running: before.workers ?? DEFAULTS.workers }, 'workers changed: it takes effect at the next start');
    }
    // The certificate store is built anew when what it loads changed (or TLS appears); ACME with it, or when the
    // certificates wanted changed. A retired manager finishes the orders under way; the new one starts after them,
    // so a name is never ordered twice, and finds their certificates in storage.
    // Before start() nothing is loaded yet: start builds the store and the manager from the config in force.
    const storeChanged = live.startCalled && needsCertificates(next) && (live.certs === undefined || tlsKey(next, { configFile, env }) !== tlsKey(before, { configFile, env }));
    if (storeChanged) {
      try {
        const fresh = await createCertStore(certStoreOptions(next, configFile, env, log));
        deps.certStoreBuilt?.(fresh);
        const old = live.certs;
        live.certs = fresh;
        old?.close();
        log.info('certificate store reloaded');
      } catch (err) {
        errors.push(`certificates not reloaded: ${(err as Error).message}`);
        log.error({ err }, 'certificate store not reloaded, the previous one serves');
      }
    }
    if (live.startCalled && (storeChanged || acmeKey(next, { configFile, env }) !== acmeKey(before, { configFile, env }))) {
      const old = live.acme;
      await deps.loadAcme(next);
      const fresh = deps.createManager(next);
      live.acme = fresh;
      void (async () => {
        await old?.retire();
        old?.stop();
        await fresh?.load();
        if (live.acme === fresh && live.edge !== undefined) fresh?.start();
        if (fresh) log.info({ certificates: fresh.list().length }, 'certificate resolvers reloaded');
      })().catch((err: unknown) => log.error({ err }, 'certificate resolvers not reloaded'));
    }
    try {
      await live.edge?.update(next, deps.graceMs());
    } catch (err) {
      if (!(err instanceof GatehouseErrors)) throw err;
      errors.push(...err.errors.map((e) => e.toString()));
    }
    return reloadResult(true, t0, errors, problems);
  };

  const reload = (given?: Config): Promise<ReloadResult> => {
    const run = async (): Promise<ReloadResult> => {
      const started = performance.now();
      let next: Config;
      try {
        if (given !== undefined) next = validateConfig(given);
        else if (configFile === undefined) throw new GatehouseError('CONFIG_READ', 'this gatehouse was given a config object, not a file: pass the new config to reload()');
        else {
          const text = readConfigText(configFile);
          if (text === undefined) next = loadConfigFile(configFile, env); // throws CONFIG_READ with the reason
          else {
            next = parseConfigText(text, { file: configFile, env });
            watcher?.setLoaded(contentHash(text));
          }
        }
      } catch (err) {
        const list = err instanceof GatehouseErrors ? err.errors : err instanceof GatehouseError ? [err] : undefined;
        if (!list) throw err;
        for (const e of list) log.error({ code: e.code, file: e.location.file, path: e.location.path, line: e.location.line, column: e.location.column, reason: e.message }, 'config reload refused, the running config stays');
        return refused(reloadResult(false, started, list.map((e) => e.toString()), []));
      }
      // lifecycle.reload strict: a config that would disable part of itself is refused before anything is swapped.
      // The problems are found by a build of its own (the real one takes over upstreams from the runtime in force).
      if ((next.lifecycle?.reload ?? DEFAULTS.reloadMode) === 'strict') {
        const found = [...configProblems(next, plugins, configBaseDir({ configFile }))];
        if (found.length > 0) {
          for (const e of found) log.warn({ code: e.code, path: e.location.path, reason: e.message }, 'config reload refused (lifecycle.reload strict), the running config stays');
          const shown = found.map((e) => inFile(e).toString());
          return refused(reloadResult(false, started, shown, shown));
        }
      }
      const result = await apply(next, started);
      if (live.edge !== undefined) syncWatcher();
      reloads++;
      lastReload = result;
      deps.admin()?.reloaded(result, next);
      if (!deps.admin() && next.admin) log.warn('admin section added: the admin entry point starts with the next start of gatehouse');
      const fields = { ms: result.ms, ok: result.ok, outcome: result.outcome, problems: result.problems.length, errors: result.errors.length, retired: live.retired.size };
      // Applied, but part of it is not serving: an operator must hear it at warn, not read 'config reloaded' at info.
      if (result.ok) log.info(fields, 'config reloaded');
      else log.warn({ ...fields, summary: result.summary }, 'config reloaded with problems');
      await flushLog(log);
      return result;
    };
    // One reload at a time, in the order asked: a burst of edits ends on the last file content.
    const result = reloading.then(run, run);
    reloading = result.catch(() => undefined);
    return result;
  };

  /** `err` naming the config file, as `gatehouse check` prints it. */
  const inFile = (err: GatehouseError): GatehouseError => (configFile === undefined ? err : withFile(err, configFile));

  /** A reload that left the running config in force: kept as the last outcome and told to the admin. */
  const refused = (result: ReloadResult): ReloadResult => {
    lastReload = result;
    deps.admin()?.reloaded(result, live.config);
    return result;
  };

  /** Watch the config file when the config in force says so (a reload may turn the watch on or off). */
  const syncWatcher = (): void => {
    const wanted = configFile !== undefined && deps.watch !== false && (live.config.lifecycle?.watch ?? DEFAULTS.watchConfig);
    if (!wanted) {
      watcher?.close();
      watcher = undefined;
      return;
    }
    if (watcher || configFile === undefined) return;
    const text = readConfigText(configFile);
    watcher = watchConfig(
      {
        file: configFile,
        debounceMs: () => parseDuration(live.config.lifecycle?.reloadDebounce ?? DEFAULTS.reloadDebounce),
        pollMs: CONFIG_POLL_MS,
        onChange: async () => void (await reload()),
        log,
      },
      text === undefined ? undefined : contentHash(text),
    );
  };

  /** Retired runtimes with nothing left running are disposed of and forgotten. */
  const sweepRetired = (): void => {
    for (const r of live.retired) {
      const load = r.load();
      if (load.requests > 0 || load.websockets > 0 || load.passthrough > 0) continue;
      live.retired.delete(r);
      void r.dispose();
    }
  };

  return {
    reload,
    get reloads() {
      return reloads;
    },
    get lastReload() {
      return lastReload;
    },
    idle: () => reloading,
    start() {
      if (configFile !== undefined && isMountPoint(configFile)) {
        log.warn({ file: configFile }, 'the config file is a single-file mount: edits that replace the file (most editors do) will not be seen; mount its directory instead');
      }
      syncWatcher();
      sweep = setInterval(sweepRetired, RETIRED_SWEEP_MS);
      sweep.unref();
    },
    stop() {
      watcher?.close();
      clearInterval(sweep);
    },
  };
}

/**
 * One reload's outcome: refused (the running config stays), ok, or applied with problems (`errors`: parts that
 * could not be applied, such as a listener; `problems`: routers and certificates the new config disables).
 */
function reloadResult(applied: boolean, t0: number, errors: readonly string[], problems: readonly string[]): ReloadResult {
  const n = applied ? errors.length + problems.length : 0;
  const outcome = !applied ? 'refused' : n === 0 ? 'ok' : 'problems';
  const summary = outcome === 'refused' ? 'refused, the running config stays' : outcome === 'ok' ? 'ok' : `applied with ${n} problem${n === 1 ? '' : 's'}`;
  return { ok: outcome === 'ok', outcome, summary, at: new Date().toISOString(), ms: Math.round(performance.now() - t0), errors, problems };
}

/** The config file's text, or undefined when it cannot be read (loadConfigFile then reports why). */
export function readConfigText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Logs each router `runtime` disabled (a broken piece of config disables that piece, STYLE 6). */
export function logProblems(runtime: Runtime, log: Logger): void {
  for (const p of runtime.problems) {
    log.error({ router: p.router, code: p.error.code, path: p.error.location.path, reason: p.error.message }, 'router disabled');
  }
}

/** The http-01 settings of `config`; a problem in them is logged and disables stateless http-01, nothing else. */
export function challengeSettingsFor(config: Config, configFile: string | undefined, log: Logger): HttpChallengeSettings {
  const built = httpChallengeSettings(config, configFile, wantedCertificates(config).wanted);
  for (const e of built.problems) log.error({ code: e.code, path: e.location.path, reason: e.message }, 'stateless http-01 disabled');
  return built;
}

/** What the certificate store is built from: a change rebuilds it on reload. */
function tlsKey(config: Config, where: PathContext): string {
  return JSON.stringify({ tls: config.tls ?? null, stateDir: resolveStateDir(config, where) });
}

/** What the ACME manager is built from: a change builds a new one on reload. */
function acmeKey(config: Config, where: PathContext): string {
  const wanted = wantedCertificates(config).wanted.map((w) => [w.id, w.challenges]);
  return JSON.stringify({ resolvers: config.certificateResolvers ?? null, wanted, storage: config.storage ?? null, stateDir: resolveStateDir(config, where) });
}
