/**
 * `gatehouse check`: load and compile a config without listening, and list every problem at once: the file's
 * (syntax, schema, variables), each entry point's, each router's (HTTP and TCP, even when the schema failed), the
 * certificates that cannot be obtained, storage and admin settings.
 */
import { checkAdmin } from './admin/check.js';
import { wantedCertificates } from './acme/index.js';
import { loadConfigFile, readConfigDraft, type Config } from './config/index.js';
import { configBaseDir } from './config/paths.js';
import { entryPointSettings } from './edge/entry-point.js';
import { redirectionHook } from './edge/start.js';
import { GatehouseError, GatehouseErrors } from './errors.js';
import type { Handler, Plugins } from './http/contract.js';
import { buildRouteTable } from './http/router.js';
import { createLogger } from './log.js';
import { buildRuntime } from './runtime/index.js';
import { storageProblems } from './storage/index.js';
import { buildTcpRoutes } from './tcp/index.js';

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
  return [...entryPointProblems(config), ...configProblems(config, undefined, configBaseDir({ configFile: file }))].map((e) => withFile(e, file));
}

/**
 * What disables part of a valid config, found by building it without listening: routers (HTTP and TCP) with a
 * broken rule or an unknown service or middleware, certificates that cannot be obtained, storage and admin settings.
 * A reload counts the same problems (src/reload/reloader.ts), so `gatehouse check` and `gatehouse reload` agree.
 * `plugins`: the library's handlers and middlewares (the CLI has none). `baseDir`: the config file's directory.
 */
export function configProblems(config: Config, plugins: Plugins = { handlers: {}, middlewares: {} }, baseDir?: string): GatehouseError[] {
  const runtime = buildRuntime(config, plugins, createLogger({ level: 'silent' }), undefined, undefined, baseDir);
  void runtime.dispose();
  return [...sectionProblems(config), ...runtime.problems.map((p) => p.error)];
}

/** The problems of `config` that building its runtime does not find: certificates, storage, admin. */
export function sectionProblems(config: Config): GatehouseError[] {
  return [...(config.admin ? checkAdmin(config.admin) : []), ...wantedCertificates(config).problems, ...storageProblems(config)];
}

/** Entry points whose settings cannot be applied (a reload reports these when it applies them). */
export function entryPointProblems(config: Config): GatehouseError[] {
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
  return problems;
}

/** Router problems of a config that failed the schema: services and middlewares stand in by name only. */
function draftRouterProblems(draft: unknown): readonly GatehouseError[] {
  const obj = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
  const root = obj(draft);
  const http = obj(root['http']);
  const routers = Object.fromEntries(Object.entries(obj(http['routers'])).filter(([, r]) => typeof obj(r)['rule'] === 'string'));
  const stub: Handler = (_req, res) => void res.end();
  const services = { handlers: new Map(Object.keys(obj(http['services'])).map((n) => [n, stub])), stopHealthChecks: () => {}, close: async () => {} };
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

/** `err` with `file` as its location's file, unless it names one already. */
export function withFile(err: GatehouseError, file: string): GatehouseError {
  if (err.location.file) return err;
  return new GatehouseError(err.code, err.message, { cause: err.cause, location: { ...err.location, file } });
}
