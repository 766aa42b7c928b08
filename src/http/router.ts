/**
 * The router: every `http.routers` entry compiled once into (priority, matcher, handler chain), sorted per entry
 * point. At request time only `match` runs: a loop over compiled matchers, highest priority first.
 * A router that cannot be built (bad rule, missing service or middleware) is disabled with its problem recorded;
 * the others serve (STYLE 6).
 */
import type { Config, RouterConfig } from '../config/index.js';
import { GatehouseError } from '../errors.js';
import { compileHttpRule, routerPriority, type HttpMatcher } from '../rules/index.js';
import type { Handler } from './contract.js';
import type { RequestContext } from './context.js';
import type { MiddlewareSet } from './middlewares.js';
import { createRedirectHandler } from './redirect.js';
import { createRespondHandler } from './respond.js';
import type { ServiceSet } from './services.js';
import { suggestClosest as closest } from '../suggest.js';
import { plainEntryPoints } from '../tcp/plain-entry-points.js';

/** One router ready to serve. */
export interface CompiledRoute {
  readonly name: string;
  readonly priority: number;
  readonly match: HttpMatcher;
  readonly handler: Handler;
  /**
   * The router's service without its middlewares, for ACME http-01 requests gatehouse does not answer itself
   * (issue 6: a CA cannot log in); undefined for an inline respond/redirect. `forward` is false when the router
   * says `acmeChallenges: 'off'`.
   */
  readonly challengeService: { readonly name: string; readonly handler: Handler; readonly forward: boolean } | undefined;
}

/** A router that was disabled, and why. */
export interface RouterProblem {
  readonly router: string;
  readonly error: GatehouseError;
}

/** Compiled routers by entry point, in the order they are tried. */
export interface RouteTable {
  readonly byEntryPoint: ReadonlyMap<string, readonly CompiledRoute[]>;
  readonly problems: readonly RouterProblem[];
}

/** Compile all routers of a config against its built services and middlewares. Never throws. */
export function buildRouteTable(config: Config, services: ServiceSet, middlewares: MiddlewareSet): RouteTable {
  const entryPoints = Object.keys(config.entryPoints);
  const tlsEntryPoints = entryPoints.filter((e) => config.entryPoints[e]?.tls !== undefined);
  const byEntryPoint = new Map<string, CompiledRoute[]>(entryPoints.map((e) => [e, []]));
  const problems: RouterProblem[] = [];
  // Plain entry points that TCP routers take carry raw TCP: a router that does not name them is not placed there.
  const rawTcp = plainEntryPoints(config).tcp;
  const httpEntryPoints = rawTcp.size === 0 ? entryPoints : entryPoints.filter((e) => !rawTcp.has(e));
  for (const [name, spec] of Object.entries(config.http?.routers ?? {})) {
    const route = compileRouter(name, spec, entryPoints, services, middlewares);
    if (route instanceof GatehouseError) {
      problems.push({ router: name, error: route });
      continue;
    }
    // A router with `tls` serves only terminated HTTPS: it is left off plain entry points.
    const on = spec.entryPoints ?? (spec.tls ? tlsEntryPoints : httpEntryPoints);
    for (const ep of on) if (!spec.tls || tlsEntryPoints.includes(ep)) byEntryPoint.get(ep)!.push(route);
  }
  for (const routes of byEntryPoint.values()) routes.sort(byPriority);
  return { byEntryPoint, problems };
}

/** Higher priority first; ties by name, so the order never depends on the file's key order. */
function byPriority(a: CompiledRoute, b: CompiledRoute): number {
  return b.priority - a.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** The first route whose rule matches, or undefined. */
export function matchRoute(routes: readonly CompiledRoute[], ctx: RequestContext): CompiledRoute | undefined {
  for (let i = 0; i < routes.length; i++) {
    const r = routes[i]!;
    if (r.match(ctx)) return r;
  }
  return undefined;
}

function compileRouter(
  name: string,
  spec: RouterConfig,
  entryPoints: readonly string[],
  services: ServiceSet,
  middlewares: MiddlewareSet,
): CompiledRoute | GatehouseError {
  const path = `/http/routers/${name}`;
  let match: HttpMatcher;
  try {
    match = compileHttpRule(spec.rule);
  } catch (err) {
    if (!(err instanceof GatehouseError)) throw err;
    return new GatehouseError(err.code, `router "${name}": ${err.message}`, { cause: err, location: { ...err.location, path: `${path}/rule` } });
  }
  for (const ep of spec.entryPoints ?? []) {
    if (!entryPoints.includes(ep)) return missing('entry point', ep, entryPoints, `${path}/entryPoints`, name);
  }
  let handler = targetHandler(name, spec, services, path);
  if (handler instanceof GatehouseError) return handler;
  const challengeService = spec.service === undefined ? undefined : { name: spec.service, handler, forward: spec.acmeChallenges !== 'off' };
  const chain = spec.middlewares ?? [];
  for (let i = chain.length - 1; i >= 0; i--) {
    const mwName = chain[i]!;
    const wrap = middlewares.wrappers.get(mwName);
    if (wrap === undefined) return missing('middleware', mwName, [...middlewares.wrappers.keys()], `${path}/middlewares/${i}`, name);
    if (wrap instanceof GatehouseError) {
      return new GatehouseError(wrap.code, `router "${name}": middleware "${mwName}" is broken: ${wrap.message}`, { cause: wrap, location: wrap.location });
    }
    handler = wrap(handler);
  }
  // Traefik: 0 means unset, so the rule's length (src/rules/priority.ts).
  return { name, priority: routerPriority(spec.priority, spec.rule, 'http'), match, handler, challengeService };
}

/** The router's target: a named service, or an inline respond/redirect. Exactly one is allowed. */
function targetHandler(name: string, spec: RouterConfig, services: ServiceSet, path: string): Handler | GatehouseError {
  const targets = (['service', 'respond', 'redirect'] as const).filter((k) => spec[k] !== undefined);
  if (targets.length !== 1) {
    return new GatehouseError(
      'CONFIG_SCHEMA',
      `router "${name}" needs exactly one of service, respond, redirect; found ${targets.length ? targets.join(', ') : 'none'}`,
      { location: { path } },
    );
  }
  if (spec.respond) return createRespondHandler(spec.respond);
  if (spec.redirect) {
    try {
      return createRedirectHandler(spec.redirect);
    } catch (err) {
      return new GatehouseError('CONFIG_SCHEMA', `router "${name}": ${(err as Error).message}`, { location: { path: `${path}/redirect/location` } });
    }
  }
  const svc = services.handlers.get(spec.service!);
  if (svc === undefined) return missing('service', spec.service!, [...services.handlers.keys()], `${path}/service`, name);
  if (svc instanceof GatehouseError) {
    return new GatehouseError(svc.code, `router "${name}": service "${spec.service}" is broken: ${svc.message}`, { cause: svc, location: svc.location });
  }
  return svc;
}

function missing(kind: string, wanted: string, known: readonly string[], path: string, router: string): GatehouseError {
  const near = closest(wanted, known);
  const hint = near ? `; did you mean "${near}"?` : known.length ? ` (defined: ${known.join(', ')})` : ` (none is defined)`;
  return new GatehouseError('CONFIG_REFERENCE', `router "${router}" is disabled: ${kind} "${wanted}" does not exist${hint}`, {
    location: { path },
  });
}
