/**
 * The TCP router: every `tcp.routers` entry compiled once into (priority, SNI matcher, middlewares, forwarder),
 * sorted per entry point. On a TLS entry point each has a decision list between passthrough and termination
 * (tls-order.ts: Traefik's order, where an HTTPS router naming the SNI comes before the TCP routers); on a plain one
 * (plain-entry-points.ts) the first match in priority order takes the raw connection. Per connection only
 * `matchTcpRoute` runs over the compiled matchers. A router that cannot be built (bad rule, missing service or
 * middleware, a matcher a plain entry point cannot answer, HTTP routers on its plain entry point) is disabled with
 * its problem recorded; the others serve (STYLE 6). Health checks of the services run while the table is in force.
 */
import type { Config } from '../config/index.js';
import type { TcpRouterConfig } from '../config/schema-tls.js';
import { GatehouseError } from '../errors.js';
import type { Logger } from '../log.js';
import { compileSniRule, parseRule, routerPriority, ruleCalls, type SniMatcher, type SniMatchInput } from '../rules/index.js';
import { suggestClosest } from '../suggest.js';
import { createTcpForwarder, type PassthroughObserver, type TcpForwarder } from './forward.js';
import { startTcpHealthChecks, type TcpHealthChecks } from './health-check.js';
import { buildTcpGates, type NamedTcpGate } from './middlewares.js';
import { isUdpEntryPoint, plainEntryPoints } from './plain-entry-points.js';
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
  /** Its TCP middlewares, in order (the forwarder asks them; listed here for `explain`). */
  readonly middlewares: readonly NamedTcpGate[];
  readonly forwarder: TcpForwarder;
}

/** Compiled TCP routers by entry point, in the order they are tried, and the routers disabled. */
export interface TcpRouteTable {
  /**
   * Every TLS entry point (empty when no router listens there), and every plain entry point that carries TCP
   * (plain-entry-points.ts), empty when all its routers are disabled.
   */
  readonly byEntryPoint: ReadonlyMap<string, readonly TcpRoute[]>;
  /** The plain entry points that carry TCP; the edge binds a raw TCP listener for each. */
  readonly plain: ReadonlySet<string>;
  /** The services built, by name (a broken one is left out), for the status page and `explain`. */
  readonly services: ReadonlyMap<string, TcpServiceSpec>;
  readonly problems: readonly { router: string; error: GatehouseError }[];
  /** Stop the services' health checks (a reload retired this table); idempotent. close() does it too. */
  stopHealthChecks(): void;
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
  const plain = plainEntryPoints(config);
  const byEntryPoint = new Map<string, TcpRoute[]>([...tlsEntryPoints, ...plain.tcp].map((e) => [e, []]));
  const problems: { router: string; error: GatehouseError }[] = [];
  const forwarders: { route: string; forwarder: TcpForwarder }[] = [];
  const services = buildTcpServices(config.tcp?.services ?? {});
  const middlewares = config.tcp?.middlewares ?? {};
  const checks: TcpHealthChecks[] = [];
  const built = new Map<string, TcpServiceSpec>();
  for (const [name, service] of services) {
    if (service instanceof GatehouseError) continue;
    built.set(name, service);
    if (service.healthCheck) checks.push(startTcpHealthChecks(service.servers, service.healthCheck, log.child({ component: 'tcp-health' })));
  }
  const stopHealthChecks = (): void => {
    for (const c of checks.splice(0)) c.stop();
  };
  for (const [name, spec] of Object.entries(config.tcp?.routers ?? {})) {
    const compiled = compileRouter(config, name, spec, allEntryPoints, tlsEntryPoints, services, plain.conflicts);
    const gates = compiled instanceof GatehouseError ? compiled : buildTcpGates(name, spec.middlewares ?? [], middlewares);
    if (compiled instanceof GatehouseError || gates instanceof GatehouseError) {
      problems.push({ router: name, error: compiled instanceof GatehouseError ? compiled : (gates as GatehouseError) });
      continue;
    }
    const forwarder = createTcpForwarder({
      route: name,
      service: compiled.service.name,
      ring: compiled.service.balancer,
      gates,
      log: log.child({ component: 'passthrough' }),
      onClosed,
    });
    forwarders.push({ route: name, forwarder });
    const route: TcpRoute = { name, rule: spec.rule, priority: routerPriority(spec.priority, spec.rule, 'tcp'), match: compiled.match, middlewares: gates, forwarder };
    for (const ep of compiled.entryPoints) byEntryPoint.get(ep)!.push(route);
  }
  const https = httpsClaims(config);
  for (const [ep, routes] of byEntryPoint) {
    routes.sort(byPriority);
    // A plain entry point has no HTTPS side: the first route that matches takes the connection.
    const claims = https.get(ep);
    if (claims !== undefined) stepsOf.set(routes, tlsSteps(routes, claims));
  }
  return {
    byEntryPoint,
    plain: plain.tcp,
    services: built,
    problems,
    stopHealthChecks,
    close: async (graceMs) => {
      stopHealthChecks();
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

/**
 * The matchers a rule may use on a plain entry point, where no ClientHello is read: HostSNI(`*`) and ClientIP.
 * Traefik refuses a HostSNI name on a router without TLS ("has HostSNI matcher, but no TLS on router",
 * pkg/server/router/tcp/manager.go); ALPN and HostSNIRegexp could never match there either. Undefined when allowed.
 */
function plainRuleProblem(rule: string): string | undefined {
  for (const call of ruleCalls(parseRule(rule))) {
    const m = call.name.toLowerCase();
    if (m === 'clientip') continue;
    if (m === 'hostsni' && call.args.length === 1 && call.args[0] === '*') continue;
    return `${call.name}(${call.args.map((a) => `\`${a}\``).join(', ')})`;
  }
  return undefined;
}

function compileRouter(
  config: Config,
  name: string,
  spec: TcpRouterConfig,
  allEntryPoints: readonly string[],
  tlsEntryPoints: readonly string[],
  services: ReadonlyMap<string, TcpServiceSpec | GatehouseError>,
  conflicts: ReturnType<typeof plainEntryPoints>['conflicts'],
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
    if (tlsEntryPoints.includes(ep)) continue;
    if (isUdpEntryPoint(config, ep)) {
      return new GatehouseError('CONFIG_REFERENCE', `TCP router "${name}" is disabled: entry point "${ep}" is a UDP one (its address ends in "/udp"); name a TCP entry point`, {
        location: { path: `${path}/entryPoints/${i}` },
      });
    }
    const conflict = conflicts.get(ep);
    if (conflict !== undefined) {
      const list = (names: readonly string[]) => names.map((n) => `"${n}"`).join(', ');
      return new GatehouseError(
        'TCP_ENTRY_POINT_CONFLICT',
        `TCP router "${name}" is disabled: entry point "${ep}" has no "tls" and HTTP router${conflict.httpRouters.length > 1 ? 's' : ''} ${list(conflict.httpRouters)} listen${conflict.httpRouters.length > 1 ? '' : 's'} there too; a plain port cannot tell HTTP from other TCP, so give the TCP router${conflict.tcpRouters.length > 1 ? 's' : ''} (${list(conflict.tcpRouters)}) an entry point of ${conflict.tcpRouters.length > 1 ? 'their' : 'its'} own, or take "${ep}" out of the HTTP router's entryPoints`,
        { location: { path: `${path}/entryPoints/${i}` } },
      );
    }
    const bad = plainRuleProblem(spec.rule);
    if (bad !== undefined) {
      return new GatehouseError(
        'RULE_MATCHER',
        `TCP router "${name}" is disabled: entry point "${ep}" has no "tls", so nothing is read before routing and its rule can only use HostSNI(\`*\`) and ClientIP, not ${bad} (give the entry point "tls": {} for SNI passthrough)`,
        { location: { path: `${path}/rule` } },
      );
    }
  }
  const entryPoints = spec.entryPoints ?? tlsEntryPoints;
  if (entryPoints.length === 0) {
    return new GatehouseError(
      'CONFIG_REFERENCE',
      `TCP router "${name}" is disabled: it names no entry point and none has a "tls" section (name a plain entry point in its entryPoints for raw TCP)`,
      { location: { path } },
    );
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
