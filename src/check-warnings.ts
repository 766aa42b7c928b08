/**
 * Routers that are valid but can never serve a request, found without running anything: `gatehouse check` prints
 * them as warnings (exit 0, or 1 with `--strict`), since the config loads and the other routers serve, but the
 * operator meant something else.
 * - a router with `tls` whose entry points are all plain (it is served only on TLS entry points);
 * - a router that names a UDP entry point (HTTP never arrives there);
 * - a router whose rule is the same as a router tried before it on every one of its entry points (it never wins);
 * - a `Host` router only on entry points bound to a loopback address, for names that are not loopback names (only
 *   this machine can ever send it a request).
 */
import type { Config } from './config/index.js';
import { listenProtocol, parseListenAddress } from './edge/address.js';
import { parseRule, routerPriority, type RuleNode } from './rules/index.js';

/** One warning: where and what. */
export interface ConfigWarning {
  /** JSON pointer of the router. */
  readonly path: string;
  readonly message: string;
}

/** The warnings of a valid config (an invalid one has its errors first). */
export function configWarnings(config: Config): ConfigWarning[] {
  const routers = config.http?.routers ?? {};
  const all = Object.keys(config.entryPoints);
  const tlsEntryPoints = all.filter((e) => config.entryPoints[e]?.tls !== undefined);
  const out: ConfigWarning[] = [];
  interface Placed {
    name: string;
    priority: number;
    key: string | undefined;
    on: string[];
  }
  const placed: Placed[] = [];
  for (const [name, spec] of Object.entries(routers)) {
    const path = `/http/routers/${name}`;
    const named = spec.entryPoints ?? (spec.tls ? tlsEntryPoints : all);
    // HTTP never arrives on a UDP entry point (`:53/udp`): one named there is a slip worth a word.
    const udp = named.filter((ep) => config.entryPoints[ep] !== undefined && listenProtocol(config.entryPoints[ep]!.address) === 'udp');
    if (spec.entryPoints !== undefined && udp.length > 0) {
      out.push({ path: `${path}/entryPoints`, message: `router "${name}" names ${udp.map((ep) => `"${ep}"`).join(', ')}, a UDP entry point (its address ends in "/udp"): HTTP requests never arrive there (UDP is routed by udp.routers)` });
    }
    const on = named.filter((ep) => config.entryPoints[ep] !== undefined && !udp.includes(ep) && (!spec.tls || tlsEntryPoints.includes(ep)));
    if (spec.tls && on.length === 0) {
      out.push({
        path,
        message: `router "${name}" has tls but ${tlsEntryPoints.length === 0 ? 'the config has no TLS entry point' : `none of its entry points (${named.join(', ')}) is a TLS one`}: it never serves (add "tls": {} to an entry point, or name one in its entryPoints)`,
      });
      continue;
    }
    let tree: RuleNode | undefined;
    try {
      tree = parseRule(spec.rule);
    } catch {
      continue; // a rule that does not parse is an error, reported as such
    }
    placed.push({ name, priority: routerPriority(spec.priority, spec.rule, 'http'), key: canonical(spec.rule), on });
    const loopbackOnly = on.length > 0 && on.every((ep) => isLoopbackEntryPoint(config, ep));
    const hosts = hostNames(tree);
    if (loopbackOnly && hosts.length > 0 && hosts.every((h) => !isLoopbackName(h))) {
      out.push({
        path,
        message: `router "${name}" matches ${hosts.map((h) => `"${h}"`).join(', ')} but listens only on loopback (${on.map((ep) => `${ep} ${config.entryPoints[ep]!.address}`).join(', ')}): only this machine can reach it (bind the entry point to ":PORT" or a LAN address)`,
      });
    }
  }
  // Routers tried in the table's order: priority, then name.
  placed.sort((a, b) => b.priority - a.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (let i = 0; i < placed.length; i++) {
    const r = placed[i]!;
    if (r.key === undefined || r.on.length === 0) continue;
    const before = placed.slice(0, i).filter((p) => p.key === r.key);
    const shadowedOn = r.on.filter((ep) => before.some((p) => p.on.includes(ep)));
    if (shadowedOn.length === r.on.length) {
      const by = before.find((p) => r.on.some((ep) => p.on.includes(ep)))!;
      out.push({
        path: `/http/routers/${r.name}`,
        message: `router "${r.name}" has the same rule as "${by.name}", which is tried first (priority ${by.priority} against ${r.priority}${by.priority === r.priority ? ', then by name' : ''}) on ${shadowedOn.join(', ')}: it never serves a request`,
      });
    }
  }
  return out;
}

/** The rule without insignificant whitespace, as the key of "the same rule"; undefined when it does not parse. */
function canonical(rule: string): string | undefined {
  try {
    return JSON.stringify(parseRule(rule), (key, value: unknown) => (key === 'column' ? undefined : value));
  } catch {
    return undefined;
  }
}

/** The names of the rule's Host(...) calls not under a `!` (wildcards included). */
function hostNames(tree: RuleNode): string[] {
  const out: string[] = [];
  const visit = (n: RuleNode): void => {
    if (n.type === 'call') {
      if (n.name.toLowerCase() === 'host') out.push(...n.args.map((a) => a.toLowerCase()));
    } else if (n.type !== 'not') {
      visit(n.left);
      visit(n.right);
    }
  };
  visit(tree);
  return out;
}

function isLoopbackEntryPoint(config: Config, name: string): boolean {
  try {
    const { host } = parseListenAddress(config.entryPoints[name]!.address, name);
    return host !== undefined && (host === '::1' || host === 'localhost' || /^127\./.test(host));
  } catch {
    return false;
  }
}

function isLoopbackName(host: string): boolean {
  return host === '*' || host === 'localhost' || host.endsWith('.localhost') || host === '::1' || host === '[::1]' || /^127\./.test(host);
}
