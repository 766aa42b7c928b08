/**
 * `gatehouse explain --udp`: what a UDP entry point does with a client's first datagram, as src/udp/listener.ts
 * decides it: the one UDP router serving the entry point (and why the others do not), its service and the servers a
 * new session goes to, and the session settings (idle timeout, session limit).
 */
import type { Config } from '../config/index.js';
import { DEFAULTS } from '../config/index.js';
import { listenProtocol } from '../edge/address.js';
import type { UdpRouteTable } from '../udp/index.js';
import { UsageError } from './request.js';
import { suggestClosest } from '../suggest.js';

/** What one UDP entry point does with a new session. */
export interface UdpEntryExplanation {
  readonly entryPoint: string;
  readonly address: string;
  readonly timeout: string;
  readonly maxSessions: number;
  /** The router serving the entry point, its service and the service's servers (through weighted children). */
  readonly match?: { readonly router: string; readonly service: string; readonly servers: readonly string[] };
  /** UDP routers naming this entry point (or all of them) that do not serve it, and why. */
  readonly disabled: readonly { readonly router: string; readonly reason: string }[];
  readonly outcome: string;
  readonly matched: boolean;
}

/** The whole answer for `--udp`. */
export interface UdpExplanation {
  readonly kind: 'udp';
  readonly entryPoints: { readonly reason: string; readonly explained: readonly UdpEntryExplanation[] };
  readonly matched: boolean;
}

/** Explains every UDP entry point of the config, or `entryPoint` alone. Throws UsageError when there is none. */
export function explainUdp(config: Config, udp: UdpRouteTable, entryPoint?: string): UdpExplanation {
  const all = Object.keys(config.entryPoints).filter((n) => listenProtocol(config.entryPoints[n]!.address) === 'udp');
  let names = all;
  let reason = 'every UDP entry point';
  if (entryPoint !== undefined) {
    if (!all.includes(entryPoint)) {
      const near = suggestClosest(entryPoint, all);
      const what = config.entryPoints[entryPoint] ? 'is not a UDP one (its address has no "/udp" suffix)' : 'does not exist';
      throw new UsageError(`entry point "${entryPoint}" ${what}${near ? `; did you mean "${near}"?` : all.length ? ` (UDP entry points: ${all.join(', ')})` : ''}`);
    }
    names = [entryPoint];
    reason = '--entry-point';
  } else if (all.length === 0) throw new UsageError('the config has no UDP entry point (an address ending in "/udp", e.g. ":53/udp")');
  const explained = names.map((name) => explainOn(config, udp, name));
  return { kind: 'udp', entryPoints: { reason, explained }, matched: explained.some((e) => e.matched) };
}

function explainOn(config: Config, udp: UdpRouteTable, name: string): UdpEntryExplanation {
  const spec = config.entryPoints[name]!;
  const route = udp.byEntryPoint.get(name);
  const disabled = udp.problems
    .filter((p) => {
      const eps = config.udp?.routers?.[p.router]?.entryPoints;
      return eps === undefined || eps.includes(name);
    })
    .map((p) => ({ router: p.router, reason: `${p.error.message} [${p.error.code}]` }));
  const base = {
    entryPoint: name,
    address: spec.address,
    timeout: spec.udp?.timeout ?? DEFAULTS.udpTimeout,
    maxSessions: spec.udp?.maxSessions ?? DEFAULTS.udpMaxSessions,
    disabled,
  };
  if (route === undefined) {
    return { ...base, outcome: 'no UDP router serves this entry point: every datagram is dropped (counted as no_route)', matched: false };
  }
  const service = udp.services.get(route.service);
  const servers = service !== undefined && !(service instanceof Error) ? service.servers.map((s) => s.address) : [];
  return {
    ...base,
    match: { router: route.router, service: route.service, servers },
    outcome: `a new session (client address and port) goes to UDP service "${route.service}" (${servers.join(', ')}) and keeps its server until ${base.timeout} pass without a datagram either way`,
    matched: true,
  };
}

/** The explanation as text lines (src/explain/format.ts). */
export function udpText(e: UdpExplanation): string[] {
  const out: string[] = ['UDP: a client datagram that opens a session'];
  for (const ep of e.entryPoints.explained) {
    out.push('', `entry point "${ep.entryPoint}" (${ep.address}): ${e.entryPoints.reason}`);
    out.push(`  sessions: idle timeout ${ep.timeout}, at most ${ep.maxSessions} open`);
    if (ep.match) out.push(`  ✓ UDP router "${ep.match.router}" → service "${ep.match.service}": ${ep.match.servers.join(', ')}`);
    for (const d of ep.disabled) out.push(`  ✗ UDP router "${d.router}": ${d.reason}`);
    out.push(`  → ${ep.outcome}`);
  }
  return out;
}
