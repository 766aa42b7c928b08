/**
 * `gatehouse explain --tcp`: what a plain entry point that carries TCP routers (src/tcp/plain-entry-points.ts) does
 * with a new connection from `--client-ip`, in the order src/edge/tcp-listener.ts and src/tcp/forward.ts decide it:
 * the routes tried (only ClientIP can tell them apart there), the router's middlewares (is this client on the allow
 * list, how many connections it may hold), then the service and the servers a connection goes to.
 */
import type { Config } from '../config/index.js';
import { DEFAULTS } from '../config/index.js';
import { addressMatcher, compileAddressList } from '../ip/address-list.js';
import type { SniMatchInput } from '../rules/index.js';
import { suggestClosest } from '../suggest.js';
import { plainEntryPoints } from '../tcp/index.js';
import type { OfflineModel } from './offline.js';
import { UsageError } from './request.js';
import { disabledTcp, tryTcpRoutes, type DisabledFacts, type RouterTrial } from './routes.js';

/** One TCP middleware of the matching router, for this client. */
export interface TcpMiddlewareFacts {
  readonly name: string;
  readonly kind: string;
  /** What it does with this client: admitted, refused, or the limit it applies. */
  readonly verdict: string;
  readonly refuses: boolean;
}

/** Where the matching router sends the connection. */
export interface TcpTargetFacts {
  readonly service: string;
  /** A load balancer's servers, or a weighted service's services with their weights. */
  readonly servers: readonly string[];
  readonly proxyProtocol?: number;
  readonly idleTimeout?: string;
  readonly healthCheck: boolean;
}

/** What one plain TCP entry point does with the connection. */
export interface TcpEntryExplanation {
  readonly entryPoint: string;
  readonly address: string;
  readonly tried: readonly RouterTrial[];
  readonly disabled: readonly DisabledFacts[];
  readonly middlewares: readonly TcpMiddlewareFacts[];
  readonly target?: TcpTargetFacts;
  readonly outcome: string;
  readonly matched: boolean;
}

/** The whole answer for `--tcp`. */
export interface TcpExplanation {
  readonly kind: 'tcp';
  readonly clientIp: string;
  readonly entryPoints: { readonly reason: string; readonly explained: readonly TcpEntryExplanation[] };
  readonly matched: boolean;
}

/** Explains every plain TCP entry point, or `entryPoint` alone. Throws UsageError when there is none. */
export function explainTcp(model: OfflineModel, clientIp: string, entryPoint?: string): TcpExplanation {
  const config = model.config;
  const plain = plainEntryPoints(config);
  const all = [...plain.tcp];
  let names = all;
  let reason = 'every plain entry point that TCP routers name';
  if (entryPoint !== undefined) {
    if (!all.includes(entryPoint)) {
      const spec = config.entryPoints[entryPoint];
      const near = suggestClosest(entryPoint, all);
      const what =
        spec === undefined
          ? 'does not exist'
          : spec.tls !== undefined
            ? 'is a TLS entry point (explain --sni NAME tells what its TCP routers do)'
            : plain.conflicts.has(entryPoint)
              ? 'carries HTTP: HTTP routers name it too, so its TCP routers are disabled (TCP_ENTRY_POINT_CONFLICT)'
              : 'carries HTTP: no TCP router names it';
      throw new UsageError(`entry point "${entryPoint}" ${what}${near ? `; did you mean "${near}"?` : all.length ? ` (plain TCP entry points: ${all.join(', ')})` : ''}`);
    }
    names = [entryPoint];
    reason = '--entry-point';
  } else if (all.length === 0) {
    throw new UsageError('the config has no plain TCP entry point (an entry point without "tls" that a TCP router names in its entryPoints)');
  }
  const explained = names.map((name) => explainOn(model, name, clientIp));
  return { kind: 'tcp', clientIp, entryPoints: { reason, explained }, matched: explained.some((e) => e.matched) };
}

function explainOn(model: OfflineModel, entryPoint: string, clientIp: string): TcpEntryExplanation {
  const config = model.config;
  const address = config.entryPoints[entryPoint]!.address;
  // What the edge knows of a connection on a plain port: its address, nothing else (no SNI, no ALPN).
  const input: SniMatchInput = { sni: '', alpn: [], clientIp };
  const trials = tryTcpRoutes(config, model.tcpRoutes(entryPoint), input);
  const disabled = disabledTcp(config, model.disabledTcp, entryPoint, input, trials.match);
  const base = { entryPoint, address, tried: trials.tried, disabled };
  if (trials.match === undefined) {
    return { ...base, middlewares: [], outcome: 'no TCP router matches: the connection is closed at once', matched: false };
  }
  const router = config.tcp!.routers![trials.match.name]!;
  const middlewares = (router.middlewares ?? []).map((name) => middlewareFacts(config, name, clientIp));
  const target = targetFacts(config, router.service);
  const refusedBy = middlewares.find((m) => m.refuses);
  const outcome = refusedBy
    ? `closed by TCP middleware "${refusedBy.name}" before any backend is dialled`
    : `piped byte for byte to TCP service "${target.service}" (${target.servers.join(', ')})${target.proxyProtocol ? `, after a PROXY v${target.proxyProtocol} header` : ''}`;
  return { ...base, middlewares, target, outcome, matched: refusedBy === undefined };
}

function middlewareFacts(config: Config, name: string, clientIp: string): TcpMiddlewareFacts {
  const spec = config.tcp?.middlewares?.[name];
  if (spec?.ipAllowList) {
    let allowed = false;
    try {
      allowed = addressMatcher(compileAddressList(spec.ipAllowList.sourceRange))(clientIp);
    } catch {
      // A malformed list disables the router; explain reports that among the disabled ones.
    }
    return { name, kind: 'ipAllowList', refuses: !allowed, verdict: allowed ? `${clientIp} is in sourceRange` : `${clientIp} is not in sourceRange (${spec.ipAllowList.sourceRange.join(', ')})` };
  }
  if (spec?.inFlightConn) {
    return { name, kind: 'inFlightConn', refuses: false, verdict: `admitted while ${clientIp} holds fewer than ${spec.inFlightConn.amount} connections through this router` };
  }
  return { name, kind: 'unknown', refuses: true, verdict: 'not defined in tcp.middlewares' };
}

function targetFacts(config: Config, name: string): TcpTargetFacts {
  const spec = config.tcp?.services?.[name];
  if (spec?.weighted && !spec.loadBalancer) {
    return { service: name, servers: spec.weighted.services.map((c) => `service ${c.name} (weight ${c.weight ?? DEFAULTS.serverWeight})`), healthCheck: spec.weighted.healthCheck !== undefined };
  }
  const lb = spec?.loadBalancer;
  return {
    service: name,
    servers: lb?.servers.map((s) => s.address) ?? [],
    ...(lb?.proxyProtocol && { proxyProtocol: lb.proxyProtocol.version ?? 2 }),
    idleTimeout: lb?.timeouts?.idle ?? DEFAULTS.tcpIdleTimeout,
    healthCheck: lb?.healthCheck !== undefined,
  };
}

/** The readable lines of a `--tcp` answer. */
export function tcpText(e: TcpExplanation): string[] {
  const out: string[] = [`TCP: a new connection from ${e.clientIp} on a plain entry point (nothing is read before routing)`];
  for (const ep of e.entryPoints.explained) {
    out.push('', `entry point "${ep.entryPoint}" (${ep.address}): ${e.entryPoints.reason}`);
    for (const [i, t] of ep.tried.entries()) {
      out.push(`  ${i + 1}. ${t.name}  priority ${t.priority}  ${t.rule}${t.matched ? '   ← match' : ''}`);
      for (const p of t.parts) out.push(`       ${t.matched ? '✓' : '✗'} ${p}`);
    }
    for (const d of ep.disabled) out.push(`  disabled: ${d.name}: ${d.reason} [${d.code}]`);
    for (const m of ep.middlewares) out.push(`  ${m.refuses ? '✗' : '✓'} middleware "${m.name}" (${m.kind}): ${m.verdict}`);
    if (ep.target) {
      const t = ep.target;
      out.push(`  service "${t.service}": ${t.servers.join(', ')}${t.healthCheck ? ' (health-checked: servers down are skipped)' : ''}${t.idleTimeout ? `; idle timeout ${t.idleTimeout}` : ''}`);
    }
    out.push(`  → ${ep.outcome}`);
  }
  return out;
}
