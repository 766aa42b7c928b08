/**
 * The library surface: `createGatehouse({ config, handlers, middlewares })` → start / addresses / stop.
 * Custom handlers and middlewares are registered by name here and referenced from the config's `plugin` sections;
 * they follow the same contract as the built-in ones (src/http/contract.ts). The instance's state and its set-up
 * (certificate store, ACME manager, listeners) are here; reloads are in src/reload/reloader.ts, the control socket's
 * commands in src/control-handler.ts, the public types in src/api-types.ts.
 */
import type { Server } from 'node:net';
import { dirname, resolve as resolvePath } from 'node:path';
import { loadConfigFile, parseConfigText, validateConfig, type Config } from './config/index.js';
import { DEFAULTS, parseDuration } from './config/index.js';
import type { Admin } from './admin/index.js';
import { loadAcmeManager, type AcmeManager } from './acme/index.js';
import { createControlHandler, openControl } from './control-handler.js';
import { challengeSettingsFor, createReloader, logProblems, readConfigText, type LiveState } from './reload/reloader.js';
import { createMemoryChallengeRegistry, createSharedChallengeRegistry, peerSettings, type ChallengeRegistry } from './challenges/index.js';
import { createCertStore, resolveStateDir, TicketKeys, type CertStore } from './certs/index.js';
import { certStoreOptions, needsCertificates } from './certs/store-options.js';
import { startEdge, type Edge } from './edge/start.js';
import { listenProtocol } from './edge/address.js';
import { hostFindings } from './edge/host-tuning.js';
import type { TlsSources } from './edge/tls-listener.js';
import type { UdpSources } from './udp/index.js';
import { GatehouseError } from './errors.js';
import type { Plugins } from './http/contract.js';
import type { PassthroughObserver } from './tcp/index.js';
import { createLogger, flushLog, reopenLogFiles } from './log.js';
import { accessLogSettings, type AccessLogSettings } from './http/access-log-settings.js';
import { buildRuntime, type Runtime } from './runtime/index.js';
import { createStorage, isRedisStorage, loadStorageBackend, type Storage } from './storage/index.js';
import { configBaseDir, legacyDefaultStateDir } from './config/paths.js';
import { ensureWritableStateDir, warnLegacyState } from './state-dir.js';
import type { PrimaryRole, WorkerRole } from './cluster/role.js';
import type { Fleet } from './cluster/fleet.js';
import type { Gatehouse, GatehouseOptions, GatehouseStatus } from './api-types.js';

export type { Config } from './config/index.js';
export type { Handler, HandlerFactory, MiddlewareFactory, Plugins } from './http/contract.js';
export type { RequestContext } from './http/context.js';
export type { RouterProblem } from './http/router.js';
export { GatehouseError, GatehouseErrors, ERROR_CODES, type ErrorCode } from './errors.js';
export { checkConfig } from './check.js';
export type { Gatehouse, GatehouseOptions, GatehouseStatus, ReloadResult } from './api-types.js';

/**
 * Load and compile a config. Throws GatehouseErrors (every problem of the file) when it is invalid; a broken router
 * does not throw, it is disabled and listed in `problems`.
 */
export function createGatehouse(options: GatehouseOptions): Gatehouse {
  return createGatehouseIn(options, undefined);
}

/**
 * createGatehouse for `gatehouse start` with `workers` (src/cluster/): `role` is a worker's part, or a function that
 * makes this process the primary when the config asks for more than one worker. Not for library use: the workers
 * are forked from the process's own command line. @internal
 */
export function createGatehouseIn(options: GatehouseOptions, role: WorkerRole | ((initial: Config) => PrimaryRole | undefined) | undefined): Gatehouse {
  const env = options.env ?? process.env;
  const configFile = typeof options.config === 'string' ? options.config : undefined;
  const worker = typeof role === 'object' ? role : undefined;
  const initialText = configFile !== undefined && worker === undefined ? readConfigText(configFile) : undefined;
  const initial: Config =
    worker !== undefined
      ? validateConfig(worker.config)
      : configFile !== undefined
        ? initialText === undefined
          ? loadConfigFile(configFile, env)
          : parseConfigText(initialText, { file: configFile, env })
        : validateConfig(options.config);
  const primary = typeof role === 'function' ? role(initial) : undefined;
  /** The primary's workers, from start() on. */
  let fleet: Fleet | undefined;
  const logFile = initial.log?.file;
  const ownLog =
    options.logger ??
    createLogger({
      level: initial.log?.level ?? DEFAULTS.logLevel,
      ...(initial.log?.format !== undefined ? { format: initial.log.format } : {}),
      ...(logFile !== undefined ? { file: resolvePath(configFile !== undefined ? dirname(configFile) : process.cwd(), logFile) } : {}),
    });
  const log = worker !== undefined ? ownLog.child({ worker: worker.id, pid: process.pid }) : ownLog;
  const plugins: Plugins = { handlers: options.handlers ?? {}, middlewares: options.middlewares ?? {} };
  // The admin entry point (issue 9) when the config has one at start; built below, once what it reads exists.
  let admin: Admin | undefined;
  const passthroughClosed: PassthroughObserver = (route, service, up, down) => admin?.passthroughClosed(route, service, up, down);
  const firstRuntime = buildRuntime(initial, plugins, log, undefined, passthroughClosed, configBaseDir({ configFile }));
  logProblems(firstRuntime, log);
  // What a reload replaces (src/reload/reloader.ts); the store, the manager and the listeners are built at start.
  const live: LiveState = {
    config: initial,
    runtime: firstRuntime,
    retired: new Set<Runtime>(),
    // Read per request by the http-01 responder through a getter; a reload replaces it.
    challengeSettings: challengeSettingsFor(initial, configFile, log),
    certs: undefined,
    acme: undefined,
    edge: undefined,
    startCalled: false,
  };
  let ticketKeys: TicketKeys | undefined;
  // Pending challenges outlive a reload: an order placed by a retired manager is still answered.
  let challenges: ChallengeRegistry = createMemoryChallengeRegistry();
  // The manager puts into whichever store is in force (a reload may replace the store).
  const certSink = {
    put(source: string, certPem: string, keyPem: string): void {
      live.certs?.put(source, certPem, keyPem);
      fleet?.certificate([source, certPem, keyPem]);
    },
  };
  /** ACME runs only where its certificates can be served: with a TLS entry point and a resolver in use. */
  let storage: Storage | undefined;
  /** Read per request by the listeners; compiled from the config in force and the log level. */
  let accessLog: AccessLogSettings | false = false;
  const syncAccessLog = (): void => {
    accessLog = log.isLevelEnabled('info') ? accessLogSettings(live.config.log?.accessLog ?? DEFAULTS.accessLog) : false;
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
    // A worker serves what the primary's manager orders (src/cluster/): one orderer per gatehouse.
    if (worker !== undefined) return undefined;
    if (!live.certs || !cfg.certificateResolvers || !createAcmeManager) return undefined;
    storage ??= createStorage(cfg, { stateDir: resolveStateDir(cfg, { configFile, env }), ...(configFile !== undefined ? { configFile } : {}), log });
    return createAcmeManager({
      config: cfg,
      ...(configFile !== undefined ? { configFile } : {}),
      stateDir: resolveStateDir(cfg, { configFile, env }),
      certs: certSink,
      registry: challenges,
      storage,
      endpoints: () => challengeEndpoints(live.config, live.edge),
      log,
    });
  };
  let control: Server | undefined;
  let startedAt: string | undefined;
  const graceMs = (): number => parseDuration(live.config.lifecycle?.graceTimeout ?? DEFAULTS.graceTimeout);
  const reloader = createReloader({
    live,
    configFile,
    env,
    plugins,
    passthroughClosed,
    log,
    ownLogger: options.logger === undefined,
    admin: () => admin,
    syncAccessLog,
    loadAcme,
    createManager,
    graceMs,
    watch: worker === undefined,
    ...(worker !== undefined ? { certStoreBuilt: (store: CertStore) => worker.certStoreBuilt(store) } : {}),
  });

  const status = (): GatehouseStatus => ({
    configFile,
    startedAt,
    reloads: reloader.reloads,
    lastReload: reloader.lastReload,
    entryPoints: live.edge?.addresses() ?? {},
    problems: live.runtime.problems.map((p) => p.error.toString()),
    retiredRuntimes: live.retired.size,
    admin: admin?.address(),
    ...(fleet !== undefined ? { workers: fleet.workers() } : {}),
  });
  /** The admin is loaded (page, metrics, prom-client) only by a config that has one, when it starts. */
  const buildAdmin = async (): Promise<void> => {
    if (!initial.admin || admin !== undefined) return;
    const { createAdmin } = await import('./admin/index.js');
    admin = createAdmin(
      initial.admin,
      {
        config: () => live.config,
        problems: () => live.runtime.problems,
        upstreams: () => new Map([...(live.runtime.services.pools ?? [])].map(([name, p]) => [name, p.upstream.health()])),
        tcpServices: () => live.runtime.tcp.services,
        certificates: () => live.certs?.list() ?? [],
        managed: () => live.acme?.list() ?? [],
        instance: status,
        connections: () => live.edge?.connections() ?? {},
        udpCounters: () => live.edge?.udpCounters?.() ?? {},
        ...(primary !== undefined ? { workerMetrics: () => fleet?.metrics() ?? Promise.resolve([]) } : {}),
      },
      log,
      // A worker counts its requests for the primary's /metrics; only the primary listens.
      { listen: worker === undefined },
    );
  };

  return {
    get config() {
      return live.config;
    },
    get problems() {
      return live.runtime.problems;
    },
    async start() {
      live.startCalled = true;
      await buildAdmin();
      const stateDir = resolveStateDir(live.config, { configFile, env });
      warnLegacyState(legacyDefaultStateDir(live.config, { configFile, env }), stateDir, log);
      if (usesStateDir(live.config, configFile)) await ensureWritableStateDir(stateDir);
      live.certs = needsCertificates(live.config) ? await createCertStore(certStoreOptions(live.config, configFile, env, log)) : undefined;
      ticketKeys = new TicketKeys(parseDuration(live.config.tls?.options?.sessionTicketRotation ?? DEFAULTS.sessionTicketRotation));
      // The ACME state and pending challenges: the state directory, or Redis shared by several instances (then the
      // challenges too). Chosen at start: a reload that changes `storage` takes effect at the next start.
      await loadAcme(live.config);
      if (live.certs && live.config.certificateResolvers) {
        storage = createStorage(live.config, { stateDir: resolveStateDir(live.config, { configFile, env }), ...(configFile !== undefined ? { configFile } : {}), log });
        if (isRedisStorage(storage)) challenges = createSharedChallengeRegistry(storage, log);
      }
      // Workers answer the challenges the primary's manager puts (sent over IPC, src/cluster/fleet-registry.ts), or,
      // with Redis, those of the shared registry, which every worker subscribes to like another instance.
      if (worker !== undefined && !(storage !== undefined && isRedisStorage(storage))) challenges = worker.challenges;
      if (worker !== undefined && live.certs) worker.certStoreBuilt(live.certs);
      const fleetRegistry = primary !== undefined ? (await import('./cluster/fleet-registry.js')).createFleetRegistry(challenges, () => fleet) : undefined;
      if (fleetRegistry) challenges = fleetRegistry;
      live.acme = createManager(live.config);
      await live.acme?.load();
      const sources: TlsSources & UdpSources = {
        routes: (ep) => live.runtime.routes(ep),
        current: () => live.runtime,
        tcpRoutes: (ep) => live.runtime.tcpRoutes(ep),
        udpRoute: (ep) => live.runtime.udpRoute(ep),
        selectCertificate: (sni) => live.certs?.select(sni),
        alpnChallenge: (sni: string) => challenges.alpnContext(sni),
        ...(challenges.fetchAlpnContext ? { fetchAlpnChallenge: (sni: string) => challenges.fetchAlpnContext!(sni) } : {}),
        // Read per validator handshake (rare), so a reload's peers apply at once.
        challengePeers: () => peerSettings(live.config),
        ticketKeys,
        observeRequest: admin?.observeRequest,
        challengeDecided: admin?.challengeDecided,
      };
      try {
        if (primary !== undefined) {
          // The workers bind the entry points; this process stands in for their edge (src/cluster/fleet.ts).
          const { createFleet } = await import('./cluster/fleet.js');
          fleet = createFleet(primary.count, { config: () => live.config, challenges: () => fleetRegistry!.pending(), stats: admin !== undefined }, log);
          await fleet.start();
          live.edge = fleet;
        } else {
          // With workers, the first one owns the UDP entry points (their sessions live with the socket).
          live.edge = await startEdge(live.config, sources, log, () => accessLog, { registry: () => challenges, settings: () => live.challengeSettings, decided: admin?.challengeDecided }, { bindUdp: worker === undefined || worker.id === 1 });
        }
      } catch (err) {
        await live.acme?.stop();
        await storage?.close();
        live.certs?.close();
        ticketKeys.close();
        throw err;
      }
      live.acme?.start();
      await admin?.start();
      // `gatehouse reload`, `status` and `renew NAME` reach the instance here; a socket that cannot be made only
      // costs those commands. Only for a config file (the demo and library objects keep the working directory clean).
      if (worker === undefined && (configFile !== undefined || live.acme)) {
        const handler = createControlHandler({ live, configFile, env, reload: reloader.reload, status });
        control = await openControl(resolveStateDir(live.config, { configFile, env }), handler, log, configFile);
      }
      reloader.start();
      startedAt = new Date().toISOString();
      worker?.attach({ admin: () => admin, edge: () => live.edge });
      // A worker's own line is not 'gatehouse started': supervisors and scripts wait for that one, the primary's.
      if (worker !== undefined) log.info('worker started');
      else {
        // Once per host (the workers share its kernel): settings that let slow readers stall every connection.
        for (const f of hostFindings()) log.warn({ code: 'HOST_TUNING', setting: f.setting, value: f.value, recommended: f.recommended, fix: f.fix }, f.message);
        log.info(primary !== undefined ? { workers: primary.count } : {}, 'gatehouse started');
      }
      await flushLog(log);
    },
    addresses() {
      return live.edge?.addresses() ?? {};
    },
    reload: reloader.reload,
    status,
    managedCertificates: () => live.acme?.list() ?? [],
    async renewCertificate(name) {
      if (!live.acme) throw new GatehouseError('ACME_CONFIG', `no certificate resolver is running (${name})`);
      await live.acme.renew(name);
    },
    reopenLogFile() {
      try {
        const files = reopenLogFiles();
        if (files.length > 0) log.info({ files }, 'log file reopened');
        fleet?.reopenLogs();
      } catch (err) {
        // The old file stays open and written: a full disk or a removed directory must not stop the proxy.
        log.error({ code: (err as NodeJS.ErrnoException).code, reason: (err as Error).message }, 'log file not reopened');
      }
    },
    async stop(stopOptions = {}) {
      const grace = stopOptions.graceMs ?? graceMs();
      const waiting = { requests: 0, websockets: 0, passthrough: 0 };
      for (const r of [live.runtime, ...live.retired]) {
        const load = r.load();
        waiting.requests += load.requests;
        waiting.websockets += load.websockets;
        waiting.passthrough += load.passthrough;
      }
      log.info({ ...waiting, graceMs: grace }, 'draining');
      const closing = live.edge;
      live.edge = undefined;
      reloader.stop();
      // Attempts under way finish their status writes while the edge drains; the store closes after both.
      const acmeStopped = live.acme?.stop();
      control?.close();
      await admin?.close();
      await reloader.idle();
      // Listeners drain (in-flight requests, terminated TLS) while websockets get a close frame and passthrough
      // streams the same grace period; upstream pools close only after, since draining requests still use them.
      const all = [live.runtime, ...live.retired];
      await Promise.all([closing?.close(grace), ...all.map((r) => r.closeConnections(grace))]);
      await Promise.all(all.map((r) => r.dispose()));
      live.retired.clear();
      await acmeStopped;
      await storage?.close();
      live.certs?.close();
      ticketKeys?.close();
      log.info(worker !== undefined ? 'worker stopped' : 'gatehouse stopped');
      await flushLog(log);
    },
  };
}

/**
 * Whether this instance writes to its state directory: a config file's control socket, a default certificate it
 * generates (a TLS entry point without `tls.defaultCertificate`), ACME state kept in the directory (not Redis).
 */
function usesStateDir(config: Config, configFile: string | undefined): boolean {
  if (configFile !== undefined) return true;
  if (needsCertificates(config) && config.tls?.defaultCertificate?.certFile === undefined && config.tls?.defaultCertificate?.onUnknownName !== 'refuse') return true;
  return config.certificateResolvers !== undefined && config.storage?.redis === undefined;
}

/** The bound entry points that answer ACME challenges: plain ones (http-01) and TLS ones (tls-alpn-01). */
function challengeEndpoints(config: Config, edge: Edge | undefined): { http: { host: string; port: number }[]; tls: { host: string; port: number }[] } {
  const out = { http: [] as { host: string; port: number }[], tls: [] as { host: string; port: number }[] };
  for (const [name, a] of Object.entries(edge?.addresses() ?? {})) {
    const spec = config.entryPoints[name];
    // An entry point that expects a PROXY header from loopback cannot be self-tested with a bare connection; a UDP
    // one answers no challenge.
    if (spec?.proxyProtocol || (spec !== undefined && listenProtocol(spec.address) === 'udp')) continue;
    (spec?.tls ? out.tls : out.http).push({ host: a.address, port: a.port });
  }
  return out;
}
