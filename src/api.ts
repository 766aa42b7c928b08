/**
 * The library surface: `createGatehouse({ config, handlers, middlewares })` → start / addresses / stop.
 * Custom handlers and middlewares are registered by name here and referenced from the config's `plugin` sections;
 * they follow the same contract as the built-in ones (src/http/contract.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { answerQuery, liveModel, UsageError, type ExplainQuery } from './explain/index.js';
import { mkdir } from 'node:fs/promises';
import { loadConfigFile, parseConfigText, validateConfig, type Config } from './config/index.js';
import { DEFAULTS, parseDuration } from './config/index.js';
import { createAdmin, type Admin } from './admin/index.js';
import { loadAcmeManager, wantedCertificates, type AcmeManager, type ManagedCertificate } from './acme/index.js';
import { listenControl } from './control.js';
import { contentHash, watchConfig, type ConfigWatch } from './reload/watch-config.js';
import { isMountPoint } from './reload/mount.js';
import { createMemoryChallengeRegistry, createSharedChallengeRegistry, peerSettings, type ChallengeRegistry } from './challenges/index.js';
import { httpChallengeSettings, type HttpChallengeSettings } from './challenges/http-settings.js';
import { createCertStore, resolveStateDir, resolveTlsPaths, TicketKeys, type CertStore, type CertStoreOptions } from './certs/index.js';
import { startEdge, type Edge } from './edge/start.js';
import type { TlsSources } from './edge/tls-listener.js';
import { GatehouseError, GatehouseErrors } from './errors.js';
import type { HandlerFactory, MiddlewareFactory, Plugins } from './http/contract.js';
import type { PassthroughObserver } from './tcp/index.js';
import type { RouterProblem } from './http/router.js';
import { createLogger, flushLog, type Logger } from './log.js';
import { buildRuntime, type Runtime } from './runtime/index.js';
import { createStorage, isRedisStorage, loadStorageBackend, type Storage } from './storage/index.js';

export type { Config } from './config/index.js';
export type { Handler, HandlerFactory, MiddlewareFactory, Plugins } from './http/contract.js';
export type { RequestContext } from './http/context.js';
export type { RouterProblem } from './http/router.js';
export { GatehouseError, GatehouseErrors, ERROR_CODES, type ErrorCode } from './errors.js';
export { checkConfig } from './check.js';

/** How to build a gatehouse. */
export interface GatehouseOptions {
  /** A config object (validated against the schema) or the path of a JSON config file (with ${VAR} substitution). */
  config: Config | string;
  /** Custom handlers, referenced from `http.services.NAME.plugin.name`. */
  handlers?: Record<string, HandlerFactory>;
  /** Custom middlewares, referenced from `http.middlewares.NAME.plugin.name`. */
  middlewares?: Record<string, MiddlewareFactory>;
  /** A pino logger; by default JSON lines on stdout at the config's level. */
  logger?: Logger;
  /** Environment for ${VAR} substitution; process.env by default. */
  env?: NodeJS.ProcessEnv;
}

/** A running (or ready to run) gatehouse. */
export interface Gatehouse {
  /** The config in force (a reload replaces it). */
  readonly config: Config;
  /** Routers disabled because of a problem in their piece of the config in force. */
  readonly problems: readonly RouterProblem[];
  /** Bind every entry point. Rejects with LISTEN_FAILED if one cannot bind (the others are closed again). */
  start(): Promise<void>;
  /** Bound address and port of each entry point, by name. */
  addresses(): Record<string, { address: string; port: number }>;
  /**
   * Reload: re-read the config file (or take `config`), validate it, build a new runtime and swap it in. Never
   * rejects for a bad config: the running one stays and the result carries the errors (also logged).
   */
  reload(config?: Config): Promise<ReloadResult>;
  /** What `gatehouse status` shows. */
  status(): GatehouseStatus;
  /** Stop accepting, let in-flight requests finish within the grace period, close pools. */
  stop(options?: { graceMs?: number }): Promise<void>;
  /** The certificates ACME manages (certificateResolvers), with their renewal time and last error. */
  managedCertificates(): readonly ManagedCertificate[];
  /** Orders a new certificate for `name` now (ACME); resolves when the attempt ended, logged either way. */
  renewCertificate(name: string): Promise<void>;
}

/** The outcome of one reload. */
export interface ReloadResult {
  readonly ok: boolean;
  readonly at: string;
  /** Time from reading the file to the new config serving. */
  readonly ms: number;
  /** Why the new config was refused (file, JSON path, message), or what could not be applied (an entry point that cannot bind). */
  readonly errors: readonly string[];
}

/** A running instance's state. */
export interface GatehouseStatus {
  readonly configFile: string | undefined;
  readonly startedAt: string | undefined;
  readonly reloads: number;
  readonly lastReload: ReloadResult | undefined;
  readonly entryPoints: Record<string, { address: string; port: number }>;
  /** Routers disabled in the config in force. */
  readonly problems: readonly string[];
  /** Runtimes replaced by a reload that still serve something (long requests, websockets, passthrough streams). */
  readonly retiredRuntimes: number;
  /** Where the admin entry point listens (metrics, status page, JSON API); absent when it is off. */
  readonly admin?: { address: string; port: number } | undefined;
}

/** Poll interval backing up the config directory watch (file systems where inotify sees nothing). */
const CONFIG_POLL_MS = 5_000;
/** How often retired runtimes are checked for their last passthrough stream to end. */
const RETIRED_SWEEP_MS = 1_000;

/**
 * Load and compile a config. Throws GatehouseErrors (every problem of the file) when it is invalid; a broken router
 * does not throw, it is disabled and listed in `problems`.
 */
export function createGatehouse(options: GatehouseOptions): Gatehouse {
  const env = options.env ?? process.env;
  const configFile = typeof options.config === 'string' ? options.config : undefined;
  const initialText = configFile !== undefined ? readConfigText(configFile) : undefined;
  let config: Config =
    configFile !== undefined ? (initialText === undefined ? loadConfigFile(configFile, env) : parseConfigText(initialText, { file: configFile, env })) : validateConfig(options.config);
  const log = options.logger ?? createLogger({ level: config.log?.level ?? DEFAULTS.logLevel });
  const plugins: Plugins = { handlers: options.handlers ?? {}, middlewares: options.middlewares ?? {} };
  // The admin entry point (issue 9) when the config has one at start; built below, once what it reads exists.
  let admin: Admin | undefined;
  const passthroughClosed: PassthroughObserver = (route, service, up, down) => admin?.passthroughClosed(route, service, up, down);
  let runtime: Runtime = buildRuntime(config, plugins, log, undefined, passthroughClosed);
  logProblems(runtime, log);
  const retired = new Set<Runtime>();
  // Read per request by the http-01 responder through a getter; apply() replaces it on reload.
  const challengeSettingsOf = (c: Config): HttpChallengeSettings => {
    const built = httpChallengeSettings(c, configFile, wantedCertificates(c).wanted);
    for (const e of built.problems) log.error({ code: e.code, path: e.location.path, reason: e.message }, 'stateless http-01 disabled');
    return built;
  };
  let challengeSettings = challengeSettingsOf(config);
  let edge: Edge | undefined;
  let certs: CertStore | undefined;
  let ticketKeys: TicketKeys | undefined;
  let acme: AcmeManager | undefined;
  // Pending challenges outlive a reload: an order placed by a retired manager is still answered.
  let challenges: ChallengeRegistry = createMemoryChallengeRegistry();
  // The manager puts into whichever store is in force (a reload may replace the store).
  const certSink = {
    put(source: string, certPem: string, keyPem: string): void {
      certs?.put(source, certPem, keyPem);
    },
  };
  /** ACME runs only where its certificates can be served: with a TLS entry point and a resolver in use. */
  let storage: Storage | undefined;
  /** Read per request by the listeners; set from the config in force and the log level. */
  let accessLogOn = false;
  const syncAccessLog = (): void => {
    accessLogOn = (config.log?.accessLog ?? DEFAULTS.accessLog) && log.isLevelEnabled('info');
  };
  syncAccessLog();
  /** The ACME manager's factory, loaded by `loadAcme` (acme-client is loaded only where a config has resolvers). */
  let createAcmeManager: Awaited<ReturnType<typeof loadAcmeManager>> | undefined;
  const loadAcme = async (cfg: Config): Promise<void> => {
    if (!cfg.certificateResolvers) return;
    createAcmeManager ??= await loadAcmeManager();
    await loadStorageBackend(cfg);
  };
  /** After `loadAcme(cfg)`. */
  const createManager = (cfg: Config): AcmeManager | undefined => {
    if (!certs || !cfg.certificateResolvers || !createAcmeManager) return undefined;
    storage ??= createStorage(cfg, { stateDir: resolveStateDir(cfg, env), ...(configFile !== undefined ? { configFile } : {}), log });
    return createAcmeManager({
      config: cfg,
      ...(configFile !== undefined ? { configFile } : {}),
      stateDir: resolveStateDir(cfg, env),
      certs: certSink,
      registry: challenges,
      storage,
      endpoints: () => challengeEndpoints(config, edge),
      log,
    });
  };
  let control: import('node:net').Server | undefined;
  let watcher: ConfigWatch | undefined;
  let sweep: NodeJS.Timeout | undefined;
  let startedAt: string | undefined;
  let reloads = 0;
  let lastReload: ReloadResult | undefined;
  let reloading: Promise<unknown> = Promise.resolve();
  /** start() was called: from then on a reload also rebuilds the certificate store and the ACME manager. */
  let startCalled = false;
  const graceMs = (): number => parseDuration(config.lifecycle?.graceTimeout ?? DEFAULTS.graceTimeout);

  /** Swap in `next`: the runtime first (requests from now on use it), then the listeners, then ACME. */
  const apply = async (next: Config, t0: number): Promise<ReloadResult> => {
    const nextRuntime = buildRuntime(next, plugins, log, runtime, passthroughClosed);
    logProblems(nextRuntime, log);
    const previous = runtime;
    const cut = (next.lifecycle?.closeRemovedConnections ?? DEFAULTS.closeRemovedConnections)
      ? { httpRouters: new Set(Object.keys(next.http?.routers ?? {})), tcpRouters: new Set(Object.keys(next.tcp?.routers ?? {})) }
      : undefined;
    runtime = nextRuntime;
    config = next;
    challengeSettings = challengeSettingsOf(next);
    retired.add(previous);
    previous.retire(cut).catch((err: unknown) => log.warn({ err }, 'retired runtime did not close cleanly'));
    const errors: string[] = [];
    const before = previous.config;
    // The level of a logger gatehouse made itself follows the file, unless GATEHOUSE_LOG_LEVEL fixes it.
    if (options.logger === undefined && env['GATEHOUSE_LOG_LEVEL'] === undefined && process.env['GATEHOUSE_LOG_LEVEL'] === undefined) {
      log.level = next.log?.level ?? DEFAULTS.logLevel;
    }
    syncAccessLog();
    // The certificate store is built anew when what it loads changed (or TLS appears); ACME with it, or when the
    // certificates wanted changed. A retired manager finishes the orders under way; the new one starts after them,
    // so a name is never ordered twice, and finds their certificates in storage.
    // Before start() nothing is loaded yet: start builds the store and the manager from the config in force.
    const storeChanged = startCalled && needsCertificates(next) && (certs === undefined || tlsKey(next, env) !== tlsKey(before, env));
    if (storeChanged) {
      try {
        const fresh = await createCertStore(certStoreOptions(next, configFile, env, log));
        const old = certs;
        certs = fresh;
        old?.close();
        log.info('certificate store reloaded');
      } catch (err) {
        errors.push(`certificates not reloaded: ${(err as Error).message}`);
        log.error({ err }, 'certificate store not reloaded, the previous one serves');
      }
    }
    if (startCalled && (storeChanged || acmeKey(next, env) !== acmeKey(before, env))) {
      const old = acme;
      await loadAcme(next);
      const fresh = createManager(next);
      acme = fresh;
      void (async () => {
        await old?.retire();
        old?.stop();
        await fresh?.load();
        if (acme === fresh && edge !== undefined) fresh?.start();
        if (fresh) log.info({ certificates: fresh.list().length }, 'certificate resolvers reloaded');
      })().catch((err: unknown) => log.error({ err }, 'certificate resolvers not reloaded'));
    }
    try {
      await edge?.update(next, graceMs());
    } catch (err) {
      if (!(err instanceof GatehouseErrors)) throw err;
      errors.push(...err.errors.map((e) => e.toString()));
    }
    return { ok: errors.length === 0, at: new Date().toISOString(), ms: Math.round(performance.now() - t0), errors };
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
        lastReload = { ok: false, at: new Date().toISOString(), ms: Math.round(performance.now() - started), errors: list.map((e) => e.toString()) };
        admin?.reloaded(lastReload, config);
        return lastReload;
      }
      const result = await apply(next, started);
      if (edge !== undefined) syncWatcher();
      reloads++;
      lastReload = result;
      admin?.reloaded(result, next);
      if (!admin && next.admin) log.warn('admin section added: the admin entry point starts with the next start of gatehouse');
      log.info({ ms: result.ms, ok: result.ok, problems: runtime.problems.length, retired: retired.size }, 'config reloaded');
      await flushLog(log);
      return result;
    };
    // One reload at a time, in the order asked: a burst of edits ends on the last file content.
    const result = reloading.then(run, run);
    reloading = result.catch(() => undefined);
    return result;
  };

  const status = (): GatehouseStatus => ({
    configFile,
    startedAt,
    reloads,
    lastReload,
    entryPoints: edge?.addresses() ?? {},
    problems: runtime.problems.map((p) => p.error.toString()),
    retiredRuntimes: retired.size,
    admin: admin?.address(),
  });
  admin =
    config.admin &&
    createAdmin(
      config.admin,
      {
        config: () => config,
        problems: () => runtime.problems,
        upstreams: () => new Map([...(runtime.services.pools ?? [])].map(([name, p]) => [name, p.upstream.health()])),
        certificates: () => certs?.list() ?? [],
        managed: () => acme?.list() ?? [],
        instance: status,
        connections: () => edge?.connections() ?? {},
      },
      log,
    );

  /** Watch the config file when the config in force says so (a reload may turn the watch on or off). */
  const syncWatcher = (): void => {
    const wanted = configFile !== undefined && (config.lifecycle?.watch ?? DEFAULTS.watchConfig);
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
        debounceMs: () => parseDuration(config.lifecycle?.reloadDebounce ?? DEFAULTS.reloadDebounce),
        pollMs: CONFIG_POLL_MS,
        onChange: async () => void (await reload()),
        log,
      },
      text === undefined ? undefined : contentHash(text),
    );
  };

  /** `gatehouse explain --running`: the question answered on what this instance serves now. */
  const explainLive = async (query: ExplainQuery): Promise<{ ok: boolean; error?: string; data?: unknown }> => {
    const model = liveModel({
      config,
      file: configFile ?? '(library config)',
      runtime,
      challenges: challengeSettings,
      certs,
      acmeDir: join(resolveStateDir(config, env), 'acme'),
      health: (service) => runtime.services.pools?.get(service)?.upstream.health(),
    });
    try {
      return { ok: true, data: answerQuery(model, query) };
    } catch (err) {
      if (err instanceof UsageError) return { ok: false, error: err.message };
      throw err;
    }
  };

  /** Retired runtimes with nothing left running are disposed of and forgotten. */
  const sweepRetired = (): void => {
    for (const r of retired) {
      const load = r.load();
      if (load.requests > 0 || load.passthrough > 0) continue;
      retired.delete(r);
      void r.dispose();
    }
  };

  return {
    get config() {
      return config;
    },
    get problems() {
      return runtime.problems;
    },
    async start() {
      startCalled = true;
      certs = needsCertificates(config) ? await createCertStore(certStoreOptions(config, configFile, env, log)) : undefined;
      ticketKeys = new TicketKeys(parseDuration(config.tls?.options?.sessionTicketRotation ?? DEFAULTS.sessionTicketRotation));
      // The ACME state and pending challenges: the state directory, or Redis shared by several instances (then the
      // challenges too). Chosen at start: a reload that changes `storage` takes effect at the next start.
      await loadAcme(config);
      if (certs && config.certificateResolvers) {
        storage = createStorage(config, { stateDir: resolveStateDir(config, env), ...(configFile !== undefined ? { configFile } : {}), log });
        if (isRedisStorage(storage)) challenges = createSharedChallengeRegistry(storage, log);
      }
      acme = createManager(config);
      await acme?.load();
      const sources: TlsSources = {
        routes: (ep) => runtime.routes(ep),
        current: () => runtime,
        tcpRoutes: (ep) => runtime.tcpRoutes(ep),
        selectCertificate: (sni) => certs?.select(sni),
        alpnChallenge: (sni: string) => challenges.alpnContext(sni),
        ...(challenges.fetchAlpnContext ? { fetchAlpnChallenge: (sni: string) => challenges.fetchAlpnContext!(sni) } : {}),
        // Read per validator handshake (rare), so a reload's peers apply at once.
        challengePeers: () => peerSettings(config),
        ticketKeys,
        observeRequest: admin?.observeRequest,
        challengeDecided: admin?.challengeDecided,
      };
      try {
        edge = await startEdge(config, sources, log, () => accessLogOn, { registry: () => challenges, settings: () => challengeSettings, decided: admin?.challengeDecided });
      } catch (err) {
        acme?.stop();
        await storage?.close();
        certs?.close();
        ticketKeys.close();
        throw err;
      }
      acme?.start();
      await admin?.start();
      // `gatehouse reload`, `status` and `renew NAME` reach the instance here; a socket that cannot be made only
      // costs those commands. Only for a config file (the demo and library objects keep the working directory clean).
      if (configFile !== undefined || acme) {
        const stateDir = resolveStateDir(config, env);
        control = await mkdir(stateDir, { recursive: true, mode: 0o700 })
          .then(() =>
            listenControl(
              stateDir,
              async (req) => {
                if (req.command === 'reload') {
                  const result = await reload();
                  return result.ok ? { ok: true, data: result } : { ok: false, error: result.errors.join('\n'), data: result };
                }
                if (req.command === 'status') return { ok: true, data: { ...status(), certificates: acme?.list() ?? [] } };
                if (req.command === 'explain') return explainLive(req.query);
                if (!acme) return { ok: false, error: `no certificate resolver is running (${req.name})` };
                await acme.renew(req.name);
                return { ok: true };
              },
              log,
            ),
          )
          .catch((err: unknown) => {
            log.warn({ reason: (err as Error).message }, 'control socket not available');
            return undefined;
          });
      }
      if (configFile !== undefined && isMountPoint(configFile)) {
        log.warn({ file: configFile }, 'the config file is a single-file mount: edits that replace the file (most editors do) will not be seen; mount its directory instead');
      }
      syncWatcher();
      sweep = setInterval(sweepRetired, RETIRED_SWEEP_MS);
      sweep.unref();
      startedAt = new Date().toISOString();
      log.info('gatehouse started');
      await flushLog(log);
    },
    addresses() {
      return edge?.addresses() ?? {};
    },
    reload,
    status,
    managedCertificates: () => acme?.list() ?? [],
    async renewCertificate(name) {
      if (!acme) throw new GatehouseError('ACME_CONFIG', `no certificate resolver is running (${name})`);
      await acme.renew(name);
    },
    async stop(stopOptions = {}) {
      const grace = stopOptions.graceMs ?? graceMs();
      const closing = edge;
      edge = undefined;
      watcher?.close();
      clearInterval(sweep);
      acme?.stop();
      control?.close();
      await admin?.close();
      await reloading;
      // Listeners drain (in-flight requests, terminated TLS) while websockets get a close frame and passthrough
      // streams the same grace period; upstream pools close only after, since draining requests still use them.
      const all = [runtime, ...retired];
      await Promise.all([closing?.close(grace), ...all.map((r) => r.closeConnections(grace))]);
      await Promise.all(all.map((r) => r.dispose()));
      retired.clear();
      await storage?.close();
      certs?.close();
      ticketKeys?.close();
      log.info('gatehouse stopped');
      await flushLog(log);
    },
  };
}

/** The config file's text, or undefined when it cannot be read (loadConfigFile then reports why). */
function readConfigText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function logProblems(runtime: Runtime, log: Logger): void {
  for (const p of runtime.problems) {
    log.error({ router: p.router, code: p.error.code, path: p.error.location.path, reason: p.error.message }, 'router disabled');
  }
}

/** The bound entry points that answer ACME challenges: plain ones (http-01) and TLS ones (tls-alpn-01). */
function challengeEndpoints(config: Config, edge: Edge | undefined): { http: { host: string; port: number }[]; tls: { host: string; port: number }[] } {
  const out = { http: [] as { host: string; port: number }[], tls: [] as { host: string; port: number }[] };
  for (const [name, a] of Object.entries(edge?.addresses() ?? {})) {
    const spec = config.entryPoints[name];
    // An entry point that expects a PROXY header from loopback cannot be self-tested with a bare connection.
    if (spec?.proxyProtocol) continue;
    (spec?.tls ? out.tls : out.http).push({ host: a.address, port: a.port });
  }
  return out;
}

/** What the certificate store is built from: a change rebuilds it on reload. */
function tlsKey(config: Config, env: NodeJS.ProcessEnv): string {
  return JSON.stringify({ tls: config.tls ?? null, stateDir: resolveStateDir(config, env) });
}

/** What the ACME manager is built from: a change builds a new one on reload. */
function acmeKey(config: Config, env: NodeJS.ProcessEnv): string {
  const wanted = wantedCertificates(config).wanted.map((w) => [w.id, w.challenges]);
  return JSON.stringify({ resolvers: config.certificateResolvers ?? null, wanted, storage: config.storage ?? null, stateDir: resolveStateDir(config, env) });
}

/** Whether any entry point terminates TLS (then the certificate store is loaded). */
function needsCertificates(config: Config): boolean {
  return Object.values(config.entryPoints).some((e) => e.tls !== undefined);
}

/** The certificate store's settings from the config: paths resolved (src/config/paths.ts), defaults applied. */
function certStoreOptions(config: Config, configFile: string | undefined, env: NodeJS.ProcessEnv, log: Logger): CertStoreOptions {
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
