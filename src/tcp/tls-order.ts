/**
 * How a TLS entry point chooses between passing a connection through (a TCP router) and terminating it (the
 * HTTPS routers), in Traefik's order (pkg/server/router/tcp/router.go ServeTCP, after the ClientHello):
 *
 * 1. an HTTPS router whose Host names the SNI (a "specific" HTTPS router): terminate;
 * 2. the first TCP router that matches, unless it is the catch-all HostSNI(`*`): pass through;
 * 3. an HTTPS router without a Host (or with Host(`*`)), Traefik's HTTPS catch-all: terminate;
 * 4. the TCP catch-all HostSNI(`*`): pass through;
 * 5. otherwise terminate (the HTTPS routers answer, with 404 if none matches).
 *
 * Traefik's HTTPS side knows only names before decryption: each Host value of a router becomes a
 * HostSNI(value) route (pkg/server/router/tcp/manager.go, httpmuxer.ParseDomains takes every Host value of the
 * rule, under `!` and `||` too), and a router with none adds the catch-all. We compute the same per entry point,
 * once per config.
 */
import type { Config } from '../config/index.js';
import { compileHttpRule, compileSniRule, isSniCatchAll, parseRule, ruleCalls, type SniMatcher, type SniMatchInput } from '../rules/index.js';


/** What the HTTPS routers of one TLS entry point claim before decryption. */
export interface HttpsClaims {
  /** True when the SNI names a Host of some HTTPS router here (step 1). */
  readonly specific: SniMatcher;
  /** Some HTTPS router here has no Host (or Host(`*`)): Traefik's HTTPS catch-all (step 3). */
  readonly catchAll: boolean;
}

const NONE: HttpsClaims = { specific: () => false, catchAll: false };

/** The Host values of a rule, lower-cased, as Traefik's ParseDomains lists them; undefined if the rule does not compile. */
function hostValues(rule: string): string[] | undefined {
  try {
    compileHttpRule(rule);
  } catch {
    return undefined; // Traefik skips a router whose rule it cannot parse (manager.go: "invalid rule")
  }
  const out: string[] = [];
  for (const call of ruleCalls(parseRule(rule))) if (call.name.toLowerCase() === 'host') out.push(...call.args.map((a) => a.toLowerCase()));
  return out;
}

/** The HTTPS claims of every TLS entry point, from the HTTP routers that listen there (as src/http/router.ts places them). */
export function httpsClaims(config: Config): ReadonlyMap<string, HttpsClaims> {
  const entryPoints = Object.keys(config.entryPoints);
  const tlsEntryPoints = entryPoints.filter((e) => config.entryPoints[e]?.tls !== undefined);
  const names = new Map<string, Set<string>>(tlsEntryPoints.map((e) => [e, new Set()]));
  const catchAll = new Set<string>();
  for (const spec of Object.values(config.http?.routers ?? {})) {
    const hosts = hostValues(spec.rule);
    if (hosts === undefined) continue;
    const on = spec.entryPoints ?? (spec.tls ? tlsEntryPoints : entryPoints);
    for (const ep of on) {
      const set = names.get(ep);
      if (set === undefined) continue; // not a TLS entry point
      if (hosts.length === 0 || hosts.includes('*')) catchAll.add(ep);
      for (const h of hosts) if (h !== '*') set.add(h);
    }
  }
  const out = new Map<string, HttpsClaims>();
  for (const [ep, set] of names) {
    const matchers: SniMatcher[] = [];
    for (const name of set) {
      // Traefik adds HostSNI(name) for each; a name HostSNI refuses (a port, brackets) is logged and skipped there.
      try {
        matchers.push(compileSniRule(`HostSNI(\`${name}\`)`));
      } catch {
        continue;
      }
    }
    const specific: SniMatcher = (input) => {
      for (let i = 0; i < matchers.length; i++) if (matchers[i]!(input)) return true;
      return false;
    };
    out.set(ep, matchers.length === 0 && !catchAll.has(ep) ? NONE : { specific, catchAll: catchAll.has(ep) });
  }
  return out;
}

/** One step of an entry point's decision list: terminate, or a TCP route to pass through to. */
export type TlsStep<R> = { readonly terminate: true; readonly match: SniMatcher } | { readonly terminate: false; readonly route: R };

/**
 * The decision list of one entry point, from its TCP routes (highest priority first) and its HTTPS claims. The
 * first step whose matcher holds decides; past the last, the edge terminates.
 */
export function tlsSteps<R extends { readonly match: SniMatcher; readonly rule: string }>(routes: readonly R[], https: HttpsClaims): TlsStep<R>[] {
  const steps: TlsStep<R>[] = [];
  if (https !== NONE) steps.push({ terminate: true, match: https.specific });
  for (const route of routes) {
    // Traefik's TCP muxer returns the first match; when that is the catch-all, the HTTPS catch-all goes first.
    // Routes after a catch-all are never reached (it matches every connection).
    if (isSniCatchAll(route.rule)) {
      if (!https.catchAll) steps.push({ terminate: false, route });
      break;
    }
    steps.push({ terminate: false, route });
  }
  return steps;
}

/** Runs a decision list: the route to pass through to, or undefined to terminate. */
export function decide<R>(steps: readonly TlsStep<R>[], input: SniMatchInput): R | undefined {
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    if (step.terminate) {
      if (step.match(input)) return undefined;
    } else if ((step.route as { match: SniMatcher }).match(input)) return step.route;
  }
  return undefined;
}
