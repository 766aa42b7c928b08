/**
 * Config → Runtime: everything a config compiles into (services with their pools, middlewares, routes), built once
 * and immutable afterwards. A reload builds a new one, swaps the reference, and disposes of the old (STYLE 8).
 */
import type { Config } from '../config/index.js';
import type { Plugins } from '../http/contract.js';
import { buildMiddlewares } from '../http/middlewares.js';
import { buildRouteTable, type CompiledRoute, type RouterProblem } from '../http/router.js';
import { buildServices } from '../http/services.js';
import type { Logger } from '../log.js';
import { buildTcpRoutes, type TcpRoute } from '../tcp/index.js';

/** A compiled config. `routes` is what the dispatcher reads on every request. */
export interface Runtime {
  readonly config: Config;
  /** Routers (HTTP and TCP) that were disabled, with the reason. */
  readonly problems: readonly RouterProblem[];
  routes(entryPoint: string): readonly CompiledRoute[];
  /** Passthrough routes of a TLS entry point, highest priority first. */
  tcpRoutes(entryPoint: string): readonly TcpRoute[];
  /** Let passthrough connections finish within `graceMs`, then cut them (shutdown, while the listeners drain). */
  closePassthrough(graceMs: number): Promise<void>;
  /** Close what the runtime opened (upstream pools, passthrough connections). Call once its listeners have drained. */
  dispose(): Promise<void>;
}

const NO_ROUTES: readonly CompiledRoute[] = [];
const NO_TCP_ROUTES: readonly TcpRoute[] = [];

/** Compile a validated config. Never throws for a broken router: it is disabled and listed in `problems`. */
export function buildRuntime(config: Config, plugins: Plugins, log: Logger): Runtime {
  const services = buildServices(config, plugins, log);
  const middlewares = buildMiddlewares(config, plugins);
  const table = buildRouteTable(config, services, middlewares);
  const tcp = buildTcpRoutes(config, log);
  return {
    config,
    problems: [...table.problems, ...tcp.problems],
    routes: (entryPoint) => table.byEntryPoint.get(entryPoint) ?? NO_ROUTES,
    tcpRoutes: (entryPoint) => tcp.byEntryPoint.get(entryPoint) ?? NO_TCP_ROUTES,
    closePassthrough: (graceMs) => tcp.close(graceMs),
    dispose: async () => {
      await Promise.all([services.close(), tcp.close()]);
    },
  };
}
