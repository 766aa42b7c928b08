/**
 * The library surface: `createGatehouse({ config, handlers, middlewares })` → start / addresses / stop.
 * Custom handlers and middlewares are registered by name here and referenced from the config's `plugin` sections;
 * they follow the same contract as the built-in ones (src/http/contract.ts).
 */
import { loadConfigFile, validateConfig, type Config } from './config/index.js';
import { DEFAULTS, parseDuration } from './config/index.js';
import { entryPointSettings, listenHttp, type HttpListener } from './edge/http-listener.js';
import { GatehouseError } from './errors.js';
import type { HandlerFactory, MiddlewareFactory, Plugins } from './http/contract.js';
import type { RouterProblem } from './http/router.js';
import { createLogger, type Logger } from './log.js';
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
    log.error({ router: p.router, code: p.error.code, path: p.error.location.path }, `router disabled: ${p.error.message}`);
  }
  const source = { routes: (ep: string) => runtime.routes(ep) };
  const accessLog = config.log?.accessLog ?? DEFAULTS.accessLog;
  let listeners: HttpListener[] = [];

  return {
    config,
    problems: runtime.problems,
    async start() {
      const started: HttpListener[] = [];
      try {
        for (const [name, spec] of Object.entries(config.entryPoints)) {
          const l = await listenHttp(name, spec, source, log, accessLog);
          started.push(l);
          const a = l.address();
          log.info({ entryPoint: name, address: a.address, port: a.port }, 'entry point listening');
        }
      } catch (err) {
        await Promise.allSettled(started.map((l) => l.close(0)));
        throw err;
      }
      listeners = started;
      log.info('gatehouse started');
    },
    addresses() {
      return Object.fromEntries(listeners.map((l) => [l.name, l.address()]));
    },
    async stop(stopOptions = {}) {
      const graceMs = stopOptions.graceMs ?? parseDuration(config.lifecycle?.graceTimeout ?? DEFAULTS.graceTimeout);
      const closing = listeners;
      listeners = [];
      await Promise.all(closing.map((l) => l.close(graceMs)));
      await runtime.dispose();
      log.info('gatehouse stopped');
      log.flush?.();
    },
  };
}

/** Load and compile a config without listening: every problem, fatal or per router, for `gatehouse check`. */
export function checkConfig(file: string, env?: NodeJS.ProcessEnv): readonly GatehouseError[] {
  const config = loadConfigFile(file, env);
  const silent = createLogger({ level: 'silent' });
  const problems: GatehouseError[] = [];
  for (const [name, spec] of Object.entries(config.entryPoints)) {
    try {
      entryPointSettings(name, spec);
    } catch (err) {
      if (!(err instanceof GatehouseError)) throw err;
      problems.push(err);
    }
  }
  const runtime = buildRuntime(config, {}, silent);
  void runtime.dispose();
  return [...problems, ...runtime.problems.map((p) => p.error)];
}
