/**
 * Routers tried in order, explained: for each HTTP router or TCP route of an entry point, in the order the router
 * tries them (priority, then name), whether its rule held and which parts decided it, until the first match; and the
 * disabled routers that would have matched, with the reason they are disabled.
 */
import type { Config } from '../config/index.js';
import { HTTP_MATCHERS, parseRule, routerPriority, SNI_MATCHERS, type HttpMatchInput, type MatcherTable, type SniMatchInput } from '../rules/index.js';
import { describeHttpInput, describeSniInput, explainRule, failedParts, matchedParts, type InputDescriber } from '../rules/explain.js';
import type { Disabled } from './offline.js';

/** One router tried: its rule, and the parts that failed (a miss) or held (the match). */
export interface RouterTrial {
  readonly name: string;
  readonly priority: number;
  readonly rule: string;
  readonly matched: boolean;
  readonly parts: readonly string[];
}

/** A disabled router whose rule matches (or could not be evaluated), and why it is disabled. */
export interface DisabledFacts {
  readonly name: string;
  readonly priority: number;
  readonly rule: string;
  readonly reason: string;
  readonly code: string;
  /** False never appears: routers that would not match are left out. Undefined: the rule itself is the problem. */
  readonly wouldMatch: boolean | undefined;
  /** Whether it would be tried before the router that matched (or no router matched): then it would take the request. */
  readonly beforeMatch: boolean;
}

/** The routers of an entry point tried in order. */
export interface Trials {
  readonly tried: readonly RouterTrial[];
  /** The first router that matched (last of `tried`), if any. */
  readonly match: RouterTrial | undefined;
  /** Routers after the match, never tried. */
  readonly notTried: readonly string[];
}

interface Ordered {
  readonly name: string;
  readonly priority: number;
}

function trial<I>(rule: string, table: MatcherTable<I>, input: I, describe: InputDescriber<I>): { matched: boolean; parts: string[] } {
  const trace = explainRule(parseRule(rule), table, input, describe);
  return { matched: trace.matched, parts: trace.matched ? matchedParts(trace) : failedParts(trace) };
}

function tryInOrder<I>(routes: readonly Ordered[], ruleOf: (name: string) => string, table: MatcherTable<I>, input: I, describe: InputDescriber<I>): Trials {
  const tried: RouterTrial[] = [];
  for (const [i, route] of routes.entries()) {
    const rule = ruleOf(route.name);
    const t = { name: route.name, priority: route.priority, rule, ...trial(rule, table, input, describe) };
    tried.push(t);
    if (t.matched) return { tried, match: t, notTried: routes.slice(i + 1).map((r) => r.name) };
  }
  return { tried, match: undefined, notTried: [] };
}

/** HTTP routers of one entry point, tried as the router tries them. */
export function tryHttpRouters(config: Config, routes: readonly Ordered[], input: HttpMatchInput): Trials {
  return tryInOrder(routes, (n) => config.http!.routers![n]!.rule, HTTP_MATCHERS, input, describeHttpInput);
}

/** TCP routes of one TLS entry point, tried as matchTcpRoute tries them. */
export function tryTcpRoutes(config: Config, routes: readonly Ordered[], input: SniMatchInput): Trials {
  return tryInOrder(routes, (n) => config.tcp!.routers![n]!.rule, SNI_MATCHERS, input, describeSniInput);
}

/** Disabled HTTP routers that would serve `entryPoint` and whose rule matches the request. */
export function disabledHttp(config: Config, disabled: readonly Disabled[], entryPoint: string, input: HttpMatchInput, match: Ordered | undefined): DisabledFacts[] {
  const tls = config.entryPoints[entryPoint]?.tls !== undefined;
  return collect(disabled, match, (name) => {
    const spec = config.http?.routers?.[name];
    if (spec === undefined || (spec.tls !== undefined && !tls)) return undefined;
    if (spec.entryPoints !== undefined && !spec.entryPoints.includes(entryPoint)) return undefined;
    return { rule: spec.rule, priority: routerPriority(spec.priority, spec.rule, 'http'), table: HTTP_MATCHERS, input, describe: describeHttpInput };
  });
}

/** Disabled TCP routers that would serve `entryPoint` and whose rule matches the ClientHello. */
export function disabledTcp(config: Config, disabled: readonly Disabled[], entryPoint: string, input: SniMatchInput, match: Ordered | undefined): DisabledFacts[] {
  return collect(disabled, match, (name) => {
    const spec = config.tcp?.routers?.[name];
    if (spec === undefined || (spec.entryPoints !== undefined && !spec.entryPoints.includes(entryPoint))) return undefined;
    return { rule: spec.rule, priority: routerPriority(spec.priority, spec.rule, 'tcp'), table: SNI_MATCHERS, input, describe: describeSniInput };
  });
}

/** The routers' order (src/http/router.ts, src/tcp/router.ts): higher priority first, ties by name. */
function byPriority(a: Ordered, b: Ordered): number {
  return b.priority - a.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

interface Evaluable<I> {
  rule: string;
  /** As the router table orders it (routerPriority: 0 or absent means the default). */
  priority: number;
  table: MatcherTable<I>;
  input: I;
  describe: InputDescriber<I>;
}

function collect<I>(disabled: readonly Disabled[], match: Ordered | undefined, evaluable: (name: string) => Evaluable<I> | undefined): DisabledFacts[] {
  const out: DisabledFacts[] = [];
  for (const d of disabled) {
    const e = evaluable(d.router);
    if (e === undefined) continue;
    let wouldMatch: boolean | undefined;
    try {
      wouldMatch = trial(e.rule, e.table, e.input, e.describe).matched;
    } catch {
      wouldMatch = undefined; // the rule is why the router is disabled
    }
    if (wouldMatch === false) continue;
    const priority = e.priority;
    const beforeMatch = match === undefined || byPriority({ name: d.router, priority }, match) < 0;
    out.push({ name: d.router, priority, rule: e.rule, reason: d.error.message, code: d.error.code, wouldMatch, beforeMatch });
  }
  // In the order they would have been tried, as the live routes are listed.
  return out.sort(byPriority);
}
