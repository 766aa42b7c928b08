/**
 * The passthrough router: every `tcp.routers` entry compiled once into (priority, SNI matcher, forwarder), sorted
 * per TLS entry point, and each entry point's decision list between passthrough and termination (tls-order.ts:
 * Traefik's order, where an HTTPS router naming the SNI comes before the TCP routers). Per connection only
 * `matchTcpRoute` runs over the compiled matchers. A router that cannot be built (bad rule, missing service, a
 * non-TLS entry point) is disabled with its problem recorded; the others serve (STYLE 6).
 */
import type { Config } from '../config/index.js';
import type { TcpRouterConfig } from '../config/schema-tls.js';
import { GatehouseError } from '../errors.js';
import type { Logger } from '../log.js';
import { compileSniRule, routerPriority, type SniMatcher, type SniMatchInput } from '../rules/index.js';
import { suggestClosest } from '../suggest.js';
import { createTcpForwarder, type PassthroughObserver, type TcpForwarder } from './forward.js';
import { buildTcpServices, type TcpServiceSpec } from './services.js';
import { decide, httpsClaims, tlsSteps, type TlsStep } from './tls-order.js';

/** One passthrough router ready to serve. */
export interface TcpRoute {
  readonly name: string;
  /** The rule as written (HostSNI(`*`) alone is Traefik's catch-all, which yields to HTTPS routers). */
  readonly rule: string;
  /** As configured; 0 or unset means Traefik's default (the rule's length, −1 for HostSNI(`*`)). */
  readonly priority: number;
  readonly match: SniMatcher;
  readonly forwarder: TcpForwarder;
}

/** Compiled passthrough routers by TLS entry point, in the order they are tried, and the routers disabled. */
export interface TcpRouteTable {
  /** Only TLS entry points (those with `tls` set); each has an entry, empty when no router listens there. */
  readonly byEntryPoint: ReadonlyMap<string, readonly TcpRoute[]>;
  readonly problems: readonly { router: string; error: GatehouseError }[];
  /** Close every forwarder's connections, after up to `graceMs` for them to finish (see TcpForwarder.close). */
  close(graceMs?: number): Promise<void>;
  /** Close the connections of the routers not in `keep` (a reload removed them), after up to `graceMs`. */
  closeRemoved(keep: ReadonlySet<string>, graceMs?: number): Promise<void>;
  /** Passthrough connections held now, over every router. */
  live(): number;
}

/** Compile all TCP routers and services of a config. Never throws. */
export function buildTcpRoutes(config: Config, log: Logger, onClosed?: PassthroughObserver): TcpRouteTable {
  const allEntryPoints = Object.keys(config.entryPoints);
  const tlsEntryPoints = allEntryPoints.filter((e) => config.entryPoints[e]!.tls !== undefined);
  const byEntryPoint = new Map<string, TcpRoute[]>(tlsEntryPoints.map((e) => [e, []]));
  const problems: { router: string; error: GatehouseError }[] = [];
  const forwarders: { route: string; forwarder: TcpForwarder }[] = [];
  const services = buildTcpServices(config.tcp?.services ?? {});
  for (const [name, spec] of Object.entries(config.tcp?.routers ?? {})) {
    const built = compileRouter(name, spec, allEntryPoints, tlsEntryPoints, services);
    if (built instanceof GatehouseError) {
      problems.push({ router: name, error: built });
      continue;
    }
    const forwarder = createTcpForwarder({
      route: name,
      service: built.service.name,
      ring: built.service.ring,
      connectTimeoutMs: built.service.connectTimeoutMs,
      idleTimeoutMs: built.service.idleTimeoutMs,
      ...(built.service.proxyHeader ? { proxyHeader: built.service.proxyHeader } : {}),
      log: log.child({ component: 'passthrough' }),
      onClosed,
    });
    forwarders.push({ route: name, forwarder });
    const route: TcpRoute = { name, rule: spec.rule, priority: routerPriority(spec.priority, spec.rule, 'tcp'), match: built.match, forwarder };
    for (const ep of built.entryPoints) byEntryPoint.get(ep)!.push(route);
  }
  const https = httpsClaims(config);
  for (const [ep, routes] of byEntryPoint) {
    routes.sort(byPriority);
    stepsOf.set(routes, tlsSteps(routes, https.get(ep)!));
  }
  return {
    byEntryPoint,
    problems,
    close: async (graceMs) => {
      await Promise.allSettled(forwarders.map((f) => f.forwarder.close(graceMs)));
    },
    closeRemoved: async (keep, graceMs) => {
      await Promise.allSettled(forwarders.filter((f) => !keep.has(f.route)).map((f) => f.forwarder.close(graceMs, 'reload-cut')));
    },
    live: () => {
      let n = 0;
      for (const f of forwarders) n += f.forwarder.live();
      return n;
    },
  };
}

/**
 * Each entry point's decision list, keyed by its route array, so the edge keeps handing over the array it gets from
 * `byEntryPoint` (src/edge/tls-listener.ts) while the decision includes the HTTPS routers of that entry point.
 */
const stepsOf = new WeakMap<readonly TcpRoute[], readonly TlsStep<TcpRoute>[]>();

/**
 * The route to pass the connection through to, or undefined: the edge then terminates TLS itself. For arrays from
 * `byEntryPoint` this follows Traefik's order (tls-order.ts); for any other array, the first route that matches.
 */
export function matchTcpRoute(routes: readonly TcpRoute[], input: SniMatchInput): TcpRoute | undefined {
  const steps = stepsOf.get(routes);
  if (steps !== undefined) return decide(steps, input);
  for (let i = 0; i < routes.length; i++) {
    const r = routes[i]!;
    if (r.match(input)) return r;
  }
  return undefined;
}

/** Higher priority first; ties by name, so the order never depends on the file's key order (as HTTP routers). */
function byPriority(a: TcpRoute, b: TcpRoute): number {
  return b.priority - a.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

interface CompiledRouter {
  match: SniMatcher;
  service: TcpServiceSpec;
  entryPoints: readonly string[];
}

function compileRouter(
  name: string,
  spec: TcpRouterConfig,
  allEntryPoints: readonly string[],
  tlsEntryPoints: readonly string[],
  services: ReadonlyMap<string, TcpServiceSpec | GatehouseError>,
): CompiledRouter | GatehouseError {
  const path = `/tcp/routers/${name}`;
  let match: SniMatcher;
  try {
    match = compileSniRule(spec.rule);
  } catch (err) {
    if (!(err instanceof GatehouseError)) throw err;
    return new GatehouseError(err.code, `TCP router "${name}": ${err.message}`, { cause: err, location: { ...err.location, path: `${path}/rule` } });
  }
  for (const [i, ep] of (spec.entryPoints ?? []).entries()) {
    if (!allEntryPoints.includes(ep)) return missing(name, 'entry point', ep, allEntryPoints, `${path}/entryPoints/${i}`);
    if (!tlsEntryPoints.includes(ep)) {
      // Passthrough needs the ClientHello, which only a TLS entry point peeks; on a plain one the rule could never match.
      return new GatehouseError('CONFIG_REFERENCE', `TCP router "${name}" is disabled: entry point "${ep}" has no "tls" section, and passthrough needs a TLS entry point`, {
        location: { path: `${path}/entryPoints/${i}` },
      });
    }
  }
  const entryPoints = spec.entryPoints ?? tlsEntryPoints;
  if (entryPoints.length === 0) {
    return new GatehouseError('CONFIG_REFERENCE', `TCP router "${name}" is disabled: no entry point has a "tls" section, and passthrough needs one`, {
      location: { path },
    });
  }
  const service = services.get(spec.service);
  if (service === undefined) return missing(name, 'TCP service', spec.service, [...services.keys()], `${path}/service`);
  if (service instanceof GatehouseError) {
    return new GatehouseError(service.code, `TCP router "${name}" is disabled: service "${spec.service}" is broken: ${service.message}`, {
      cause: service,
      location: service.location,
    });
  }
  return { match, service, entryPoints };
}

function missing(router: string, kind: string, wanted: string, known: readonly string[], path: string): GatehouseError {
  const near = suggestClosest(wanted, known);
  const hint = near ? `; did you mean "${near}"?` : known.length ? ` (defined: ${known.join(', ')})` : ' (none is defined)';
  return new GatehouseError('CONFIG_REFERENCE', `TCP router "${router}" is disabled: ${kind} "${wanted}" does not exist${hint}`, {
    location: { path },
  });
}
