/**
 * Config → Runtime: everything a config compiles into (services with their pools, middlewares, routes), built once
 * and immutable afterwards. A reload builds a new one, swaps the reference, and retires the old (STYLE 8): its
 * health checks stop at once, its pools close when the last request that started on it has ended, and its
 * websockets and passthrough streams run on until they end (unless their router was removed and the config says
 * to cut them).
 */
import type { Duplex } from 'node:stream';
import type { Config } from '../config/index.js';
import type { Plugins } from '../http/contract.js';
import type { RouteGeneration } from '../http/dispatch.js';
import { buildMiddlewares } from '../http/middlewares.js';
import { buildRouteTable, type CompiledRoute, type RouterProblem } from '../http/router.js';
import { buildServices, type ServiceSet } from '../http/services.js';
import type { Logger } from '../log.js';
import { buildTcpRoutes, type PassthroughObserver, type TcpRoute, type TcpRouteTable } from '../tcp/index.js';
import { closeWebSocket } from '../upstream/index.js';
import { buildUdpRoutes, type UdpRoute, type UdpRouteTable } from '../udp/index.js';

/** A compiled config. `routes` is what the dispatcher reads on every request. */
export interface Runtime extends RouteGeneration {
  readonly config: Config;
  /** Its services (a reload's next runtime takes over the unchanged upstreams). */
  readonly services: ServiceSet;
  /** Routers (HTTP and TCP) that were disabled, with the reason. */
  readonly problems: readonly RouterProblem[];
  /** TCP routes of a TLS entry point (passthrough) or of a plain one that carries TCP, highest priority first. */
  tcpRoutes(entryPoint: string): readonly TcpRoute[];
  /** The UDP route of a UDP entry point, read when a session opens (src/udp/listener.ts). */
  udpRoute(entryPoint: string): UdpRoute | undefined;
  /** The compiled UDP routers and services (status page, explain). */
  readonly udp: UdpRouteTable;
  /** The compiled TCP routers and services, with their servers' health (status page, metrics, explain). */
  readonly tcp: TcpRouteTable;
  /** Requests in progress (not upgraded), upgraded connections (websockets), and passthrough connections. */
  load(): { requests: number; websockets: number; passthrough: number };
  /**
   * A reload replaced this runtime. Health checks stop now; pools close once no request runs on it any more.
   * With `cut`, the websockets and passthrough streams of routers not in `cut.keep` are closed (a websocket gets a
   * close frame). Resolves when everything that ran on it has ended (bounded by nothing: a websocket may live
   * for days; `load()` tells what still runs).
   */
  retire(cut?: { httpRouters: ReadonlySet<string>; tcpRouters: ReadonlySet<string> }): Promise<void>;
  /**
   * Shutdown: websockets get a close frame (1001 going away), passthrough connections `graceMs` to finish; then
   * whatever remains is cut.
   */
  closeConnections(graceMs: number): Promise<void>;
  /** Close what the runtime opened (upstream pools, passthrough connections). Call once its listeners have drained. */
  dispose(): Promise<void>;
}

const NO_ROUTES: readonly CompiledRoute[] = [];
const NO_TCP_ROUTES: readonly TcpRoute[] = [];

/**
 * Compile a validated config. Never throws for a broken router: it is disabled and listed in `problems`.
 * `previous` (a reload): the runtime in force, whose upstreams of unchanged services are taken over.
 * `onPassthroughClosed`: told of each passthrough connection that closed (the admin's byte counters).
 * `baseDir`: the config file's directory, which relative paths in it (serversTransports' PEM files) are relative to.
 */
export function buildRuntime(config: Config, plugins: Plugins, log: Logger, previous?: Runtime, onPassthroughClosed?: PassthroughObserver, baseDir?: string): Runtime {
  const services = buildServices(config, plugins, log, previous?.services, baseDir);
  const middlewares = buildMiddlewares(config, plugins);
  const table = buildRouteTable(config, services, middlewares);
  const tcp = buildTcpRoutes(config, log, onPassthroughClosed);
  const udp = buildUdpRoutes(config);
  /** Upgraded sockets by router, while they are open. */
  const upgrades = new Map<string, Set<Duplex>>();
  let active = 0;
  let retired = false;
  let disposed: Promise<void> | undefined;
  let whenIdle: (() => void) | undefined;

  const dispose = (): Promise<void> => {
    disposed ??= Promise.all([services.close(), tcp.close()]).then(() => undefined);
    return disposed;
  };

  return {
    config,
    services,
    problems: [...table.problems, ...tcp.problems, ...udp.problems],
    routes: (entryPoint) => table.byEntryPoint.get(entryPoint) ?? NO_ROUTES,
    tcpRoutes: (entryPoint) => tcp.byEntryPoint.get(entryPoint) ?? NO_TCP_ROUTES,
    udpRoute: (entryPoint) => udp.byEntryPoint.get(entryPoint),
    udp,
    tcp,
    enter() {
      active++;
    },
    leave() {
      active--;
      if (active === 0 && whenIdle !== undefined) whenIdle();
    },
    upgraded(router, socket) {
      let set = upgrades.get(router);
      if (set === undefined) upgrades.set(router, (set = new Set()));
      const sockets = set;
      sockets.add(socket);
      socket.once('close', () => {
        sockets.delete(socket);
        if (sockets.size === 0 && upgrades.get(router) === sockets) upgrades.delete(router);
      });
    },
    load() {
      // An upgrade counts in `active` from its request until its socket closes; once upgraded it is a websocket.
      let websockets = 0;
      for (const sockets of upgrades.values()) websockets += sockets.size;
      return { requests: Math.max(0, active - websockets), websockets, passthrough: tcp.live() };
    },
    async retire(cut) {
      if (retired) return;
      retired = true;
      services.stopHealthChecks();
      tcp.stopHealthChecks();
      if (cut) {
        for (const [router, sockets] of upgrades) if (!cut.httpRouters.has(router)) for (const s of sockets) closeWebSocket(s);
        void tcp.closeRemoved(cut.tcpRouters);
      }
      if (active > 0) await new Promise<void>((resolve) => (whenIdle = resolve));
      whenIdle = undefined;
      // No request runs here any more: the pools have nothing in flight. Passthrough streams are the forwarders'
      // own and are left to end; only their count is watched by whoever keeps this runtime.
      await services.close();
    },
    async closeConnections(graceMs) {
      for (const sockets of upgrades.values()) for (const s of sockets) closeWebSocket(s);
      await tcp.close(graceMs);
    },
    dispose,
  };
}
