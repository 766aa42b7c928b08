/**
 * The library surface: `createGatehouse({ config, handlers, middlewares })` → start / addresses / stop.
 * Custom handlers and middlewares are registered by name here and referenced from the config's `plugin` sections;
 * they follow the same contract as the built-in ones (src/http/contract.ts).
 */
import { loadConfigFile, readConfigDraft, validateConfig, type Config } from './config/index.js';
import { DEFAULTS, parseDuration } from './config/index.js';
import { createAcmeManager, wantedCertificates, type AcmeManager, type ManagedCertificate } from './acme/index.js';
import { listenControl } from './acme/control.js';
import { createMemoryChallengeRegistry } from './challenges/index.js';
import { createCertStore, resolveStateDir, resolveTlsPaths, TicketKeys, type CertStore, type CertStoreOptions } from './certs/index.js';
import { entryPointSettings } from './edge/entry-point.js';
import { redirectionHook, startEdge, type Edge } from './edge/start.js';
import type { TlsSources } from './edge/tls-listener.js';
import { GatehouseError, GatehouseErrors } from './errors.js';
import type { Handler, HandlerFactory, MiddlewareFactory, Plugins } from './http/contract.js';
import { buildRouteTable } from './http/router.js';
import { buildTcpRoutes } from './tcp/index.js';
import type { RouterProblem } from './http/router.js';
import { createLogger, flushLog, type Logger } from './log.js';
import { buildRuntime, type Runtime } from './runtime/index.js';

export type { Config } from './config/index.js';
export type { Handler, HandlerFactory, MiddlewareFactory, Plugins } from './http/contract.js';
export type { RequestContext } from './http/context.js';
export type { RouterProblem } from './http/router.js';
export { GatehouseError, GatehouseErrors, ERROR_CODES, type ErrorCode } from './errors.js';

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
  readonly config: Config;
  /** Routers disabled because of a problem in their piece of the config. */
  readonly problems: readonly RouterProblem[];
  /** Bind every entry point. Rejects with LISTEN_FAILED if one cannot bind (the others are closed again). */
  start(): Promise<void>;
  /** Bound address and port of each entry point, by name. */
  addresses(): Record<string, { address: string; port: number }>;
  /** Stop accepting, let in-flight requests finish within the grace period, close pools. */
  stop(options?: { graceMs?: number }): Promise<void>;
  /** The certificates ACME manages (certificateResolvers), with their renewal time and last error. */
  managedCertificates(): readonly ManagedCertificate[];
  /** Orders a new certificate for `name` now (ACME); resolves when the attempt ended, logged either way. */
  renewCertificate(name: string): Promise<void>;
}

/**
 * Load and compile a config. Throws GatehouseErrors (every problem of the file) when it is invalid; a broken router
 * does not throw, it is disabled and listed in `problems`.
 */
export function createGatehouse(options: GatehouseOptions): Gatehouse {
  const config = typeof options.config === 'string' ? loadConfigFile(options.config, options.env) : validateConfig(options.config);
  const log = options.logger ?? createLogger({ level: config.log?.level ?? DEFAULTS.logLevel });
  const plugins: Plugins = { handlers: options.handlers ?? {}, middlewares: options.middlewares ?? {} };
  const runtime: Runtime = buildRuntime(config, plugins, log);
  for (const p of runtime.problems) {
    log.error({ router: p.router, code: p.error.code, path: p.error.location.path, reason: p.error.message }, 'router disabled');
  }
  const accessLog = config.log?.accessLog ?? DEFAULTS.accessLog;
  const configFile = typeof options.config === 'string' ? options.config : undefined;
  let edge: Edge | undefined;
  let certs: CertStore | undefined;
  let ticketKeys: TicketKeys | undefined;
  let acme: AcmeManager | undefined;
  let control: import('node:net').Server | undefined;

  return {
    config,
    problems: runtime.problems,
    async start() {
      certs = needsCertificates(config) ? await createCertStore(certStoreOptions(config, configFile, options.env ?? process.env, log)) : undefined;
      const store = certs;
      ticketKeys = new TicketKeys(parseDuration(config.tls?.options?.sessionTicketRotation ?? DEFAULTS.sessionTicketRotation));
      // ACME runs only where its certificates can be served: with a TLS entry point and a resolver in use.
      const challenges = store && config.certificateResolvers ? createMemoryChallengeRegistry() : undefined;
      acme = store && challenges
        ? createAcmeManager({
            config,
            ...(configFile !== undefined ? { configFile } : {}),
            stateDir: resolveStateDir(config, options.env ?? process.env),
            certs: store,
            registry: challenges,
            endpoints: () => challengeEndpoints(config, edge),
            log,
          })
        : undefined;
      await acme?.load();
      const sources: TlsSources = {
        routes: (ep) => runtime.routes(ep),
        tcpRoutes: (ep) => runtime.tcpRoutes(ep),
        selectCertificate: (sni) => store?.select(sni),
        ...(challenges ? { alpnChallenge: (sni: string) => challenges.alpnContext(sni) } : {}),
        ticketKeys,
      };
      try {
        edge = await startEdge(config, sources, log, accessLog, challenges);
      } catch (err) {
        acme?.stop();
        certs?.close();
        ticketKeys.close();
        throw err;
      }
      acme?.start();
      const manager = acme;
      // `gatehouse renew NAME` reaches the manager here; a socket that cannot be made only costs that command.
      control = manager
        ? await listenControl(resolveStateDir(config, options.env ?? process.env), (req) => manager.renew(req.name), log).catch((err: unknown) => {
            log.warn({ reason: (err as Error).message }, 'control socket not available');
            return undefined;
          })
        : undefined;
      log.info('gatehouse started');
      await flushLog(log);
    },
    addresses() {
      return edge?.addresses() ?? {};
    },
    managedCertificates: () => acme?.list() ?? [],
    async renewCertificate(name) {
      if (!acme) throw new GatehouseError('ACME_CONFIG', `no certificate resolver is running (${name})`);
      await acme.renew(name);
    },
    async stop(stopOptions = {}) {
      const graceMs = stopOptions.graceMs ?? parseDuration(config.lifecycle?.graceTimeout ?? DEFAULTS.graceTimeout);
      const closing = edge;
      edge = undefined;
      acme?.stop();
      control?.close();
      // Listeners drain (in-flight requests, terminated TLS) while passthrough streams get the same grace period;
      // upstream pools close only after, since draining requests still use them.
      await Promise.all([closing?.close(graceMs), runtime.closePassthrough(graceMs)]);
      await runtime.dispose();
      certs?.close();
      ticketKeys?.close();
      log.info('gatehouse stopped');
      await flushLog(log);
    },
  };
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

/**
 * Load and compile a config without listening: every problem, fatal or per router, for `gatehouse check`.
 * When the file has schema problems, its routers are still checked (rules, references) on the unvalidated value,
 * so one run lists everything to fix.
 */
export function checkConfig(file: string, env?: NodeJS.ProcessEnv): readonly GatehouseError[] {
  let config: Config;
  try {
    config = loadConfigFile(file, env);
  } catch (err) {
    if (!(err instanceof GatehouseErrors)) throw err;
    const fatal = err.errors.some((e) => e.code === 'CONFIG_READ' || e.code === 'CONFIG_SYNTAX');
    const routers = fatal ? [] : draftRouterProblems(readConfigDraft(file, env));
    return [...err.errors, ...routers.map((e) => withFile(e, file))];
  }
  const problems: GatehouseError[] = [];
  for (const [name, spec] of Object.entries(config.entryPoints)) {
    try {
      entryPointSettings(name, spec);
      redirectionHook(config, name, () => undefined);
    } catch (err) {
      if (!(err instanceof GatehouseError)) throw err;
      problems.push(err);
    }
  }
  const runtime = buildRuntime(config, {}, createLogger({ level: 'silent' }));
  void runtime.dispose();
  problems.push(...wantedCertificates(config).problems);
  return [...problems, ...runtime.problems.map((p) => p.error)].map((e) => withFile(e, file));
}

/** Router problems of a config that failed the schema: services and middlewares stand in by name only. */
function draftRouterProblems(draft: unknown): readonly GatehouseError[] {
  const obj = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
  const root = obj(draft);
  const http = obj(root['http']);
  const routers = Object.fromEntries(Object.entries(obj(http['routers'])).filter(([, r]) => typeof obj(r)['rule'] === 'string'));
  const stub: Handler = (_req, res) => void res.end();
  const services = { handlers: new Map(Object.keys(obj(http['services'])).map((n) => [n, stub])), close: async () => {} };
  const middlewares = { wrappers: new Map(Object.keys(obj(http['middlewares'])).map((n) => [n, (next: Handler) => next])) };
  const entryPoints = Object.keys(obj(root['entryPoints']));
  const draftConfig = { entryPoints: Object.fromEntries(entryPoints.map((n) => [n, { address: ':0' }])), http: { routers } } as unknown as Config;
  const problems: GatehouseError[] = [];
  try {
    problems.push(...buildRouteTable(draftConfig, services, middlewares).problems.map((p) => p.error));
  } catch {
    // a router too malformed to compile was already reported by the schema
  }
  // TCP routers the same way; their services are taken as written (a malformed one was reported by the schema).
  const tcp = obj(root['tcp']);
  const tcpRouters = Object.fromEntries(Object.entries(obj(tcp['routers'])).filter(([, r]) => typeof obj(r)['rule'] === 'string'));
  const tcpEntryPoints = Object.fromEntries(entryPoints.map((n) => [n, obj(obj(root['entryPoints'])[n])['tls'] !== undefined ? { address: ':0', tls: {} } : { address: ':0' }]));
  try {
    const table = buildTcpRoutes({ entryPoints: tcpEntryPoints, tcp: { routers: tcpRouters, services: obj(tcp['services']) } } as unknown as Config, createLogger({ level: 'silent' }));
    problems.push(...table.problems.map((p) => p.error));
    void table.close();
  } catch {
    // as above
  }
  return problems;
}

function withFile(err: GatehouseError, file: string): GatehouseError {
  if (err.location.file) return err;
  return new GatehouseError(err.code, err.message, { cause: err.cause, location: { ...err.location, file } });
}
