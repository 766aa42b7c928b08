/**
 * What the admin entry point shows, gathered in one plain JSON value: the status page renders it, `/api/status`
 * returns it, and the scrape-time metrics read it. Built on demand from read-only sources (the config and runtime in
 * force, the certificate store, the ACME manager), so it never holds on to a retired runtime.
 */
import type { Config } from '../config/index.js';
import type { ChallengeDecision } from '../challenges/decision.js';
import type { ServerHealth } from '../upstream/index.js';
import type { UdpCounters } from '../udp/index.js';
import { listenProtocol } from '../edge/address.js';

/** What the admin reads, each call returning the state in force (a reload swaps what is behind them). */
export interface AdminSources {
  config(): Config;
  /** Routers (HTTP and TCP) disabled in the config in force, with the reason. */
  problems(): readonly { readonly router: string; readonly error: { readonly message: string; readonly code: string; readonly location: { readonly path?: string | undefined } } }[];
  /** Each load-balancer service's servers, by service name. */
  upstreams(): ReadonlyMap<string, readonly ServerHealth[]>;
  /** Certificates in service (files, ACME, the default). */
  certificates(): readonly { readonly names: readonly string[]; readonly notAfter: Date; readonly source: string; readonly isDefault: boolean }[];
  /** Certificates the ACME manager orders and renews. */
  managed(): readonly { readonly id: string; readonly resolver: string; readonly names: readonly string[]; readonly notAfter?: string | undefined; readonly renewAt?: string | undefined; readonly lastError?: string | undefined; readonly lastErrorAt?: string | undefined; readonly retryAt?: string | undefined; readonly failures?: number | undefined }[];
  /** The instance: its file, start, reloads and bound entry points. */
  instance(): {
    readonly configFile: string | undefined;
    readonly startedAt: string | undefined;
    readonly reloads: number;
    readonly lastReload: { readonly ok: boolean; readonly outcome: 'ok' | 'problems' | 'refused'; readonly summary: string; readonly at: string; readonly ms: number; readonly errors: readonly string[]; readonly problems: readonly string[] } | undefined;
    readonly entryPoints: Record<string, { address: string; port: number }>;
    /** With `workers` > 1: the worker processes. */
    readonly workers?: readonly WorkerView[] | undefined;
  };
  /** Open client connections per entry point (HTTP keep-alive, TLS and passthrough). */
  connections(): Record<string, number>;
  /** The TCP services in force (src/tcp/services.ts): each load balancer's servers with their health. */
  tcpServices?(): ReadonlyMap<string, { readonly kind: string; readonly servers: readonly { readonly backend: { readonly address: string }; readonly up: boolean }[]; readonly healthCheck: unknown }>;
  /** Counters of each bound UDP entry point (src/udp/listener.ts); `connections` holds its open sessions. */
  udpCounters?(): Record<string, Readonly<UdpCounters>>;
  /** With `workers` > 1, in the primary: each worker's metrics (prom-client JSON), summed into `/metrics`. */
  workerMetrics?(): Promise<unknown[][]>;
}

/** A worker process of `workers` > 1. */
export interface WorkerView {
  readonly id: number;
  readonly pid: number | undefined;
  readonly ready: boolean;
  readonly startedAt: string;
  readonly restarts: number;
}

export interface RouterView {
  readonly name: string;
  readonly rule: string;
  readonly priority: number | undefined;
  readonly entryPoints: readonly string[] | undefined;
  readonly middlewares: readonly string[];
  /** The service name, or `respond` / `redirect` for a router answering itself. */
  readonly target: string;
  readonly tls: boolean;
  /** Why it is disabled; absent when it serves. */
  readonly disabled?: string;
}

export interface ServiceView {
  readonly name: string;
  readonly kind: string;
  /** Load balancers only. */
  readonly servers?: readonly ServerHealth[];
  /** Load balancers with https:// or h2c:// servers: the serversTransport they use (`default`, or `built-in`), and `insecure` when it does not verify. */
  readonly transport?: string;
}

export interface TcpRouterView {
  readonly name: string;
  readonly rule: string;
  readonly service: string;
  /** As configured; absent: every TLS entry point. */
  readonly entryPoints?: readonly string[] | undefined;
  readonly middlewares?: readonly string[] | undefined;
  readonly disabled?: string;
}

export interface TcpServiceView {
  readonly name: string;
  /** loadBalancer or weighted. */
  readonly kind: string;
  /** A load balancer's servers with their health (always up without a health check); a weighted one's services. */
  readonly servers: readonly { readonly address: string; readonly up: boolean }[];
  readonly weighted?: readonly string[];
  readonly healthChecked: boolean;
}

export interface UdpRouterView {
  readonly name: string;
  /** As configured; absent: every UDP entry point. */
  readonly entryPoints: readonly string[] | undefined;
  readonly service: string;
  readonly disabled?: string;
}

export interface UdpServiceView {
  readonly name: string;
  readonly kind: string;
  /** A load balancer's server addresses, or a weighted service's children with their weights. */
  readonly servers: readonly string[];
}

export interface CertificateView {
  readonly names: readonly string[];
  readonly source: string;
  readonly notAfter: string;
  /** Whole days until notAfter, negative once expired. */
  readonly daysLeft: number;
  readonly isDefault: boolean;
}

export interface ManagedView {
  readonly id: string;
  readonly resolver: string;
  readonly names: readonly string[];
  readonly notAfter?: string | undefined;
  readonly daysLeft?: number | undefined;
  readonly renewAt?: string | undefined;
  readonly lastError?: string | undefined;
  readonly lastErrorAt?: string | undefined;
  readonly retryAt?: string | undefined;
  readonly failures: number;
}

/** A challenge decision with its time. */
export interface DecisionView extends ChallengeDecision {
  readonly at: string;
}

/** The whole status: `/api/status`. */
export interface AdminStatus {
  readonly generatedAt: string;
  readonly configFile: string | undefined;
  readonly startedAt: string | undefined;
  readonly reloads: number;
  readonly lastReload: ReturnType<AdminSources['instance']>['lastReload'];
  /** With `workers` > 1 (docs/workers.md): each worker's pid, whether it serves, its restarts. */
  readonly workers?: readonly WorkerView[];
  /** `connections`: open client connections; of a UDP entry point, its open sessions (`udp` has its counters). */
  readonly entryPoints: readonly { name: string; address: string; tls: boolean; protocol: 'tcp' | 'udp'; bound?: { address: string; port: number }; connections: number; udp?: Readonly<UdpCounters> }[];
  readonly routers: readonly RouterView[];
  readonly services: readonly ServiceView[];
  readonly tcpRouters: readonly TcpRouterView[];
  readonly tcpServices: readonly TcpServiceView[];
  readonly udpRouters: readonly UdpRouterView[];
  readonly udpServices: readonly UdpServiceView[];
  readonly certificates: readonly CertificateView[];
  readonly acme: readonly ManagedView[];
  /** The last challenge decisions, newest first. */
  readonly challenges: readonly DecisionView[];
}

const DAY_MS = 86_400_000;

/** Gather the status now. */
export function buildStatus(sources: AdminSources, recent: readonly DecisionView[], now = Date.now()): AdminStatus {
  const config = sources.config();
  const instance = sources.instance();
  const connections = sources.connections();
  const httpProblems = new Map<string, string>();
  const tcpProblems = new Map<string, string>();
  const udpProblems = new Map<string, string>();
  for (const p of sources.problems()) {
    const path = p.error.location.path ?? '';
    (path.startsWith('/tcp/') ? tcpProblems : path.startsWith('/udp/') ? udpProblems : httpProblems).set(p.router, `${p.error.message} [${p.error.code}]`);
  }
  const udpCounters = sources.udpCounters?.() ?? {};
  const upstreams = sources.upstreams();
  const days = (t: number): number => Math.floor((t - now) / DAY_MS);
  return {
    generatedAt: new Date(now).toISOString(),
    configFile: instance.configFile,
    startedAt: instance.startedAt,
    reloads: instance.reloads,
    lastReload: instance.lastReload,
    ...(instance.workers !== undefined && { workers: instance.workers }),
    entryPoints: Object.entries(config.entryPoints).map(([name, spec]) => ({
      name,
      address: spec.address,
      tls: spec.tls !== undefined,
      protocol: listenProtocol(spec.address),
      ...(instance.entryPoints[name] && { bound: instance.entryPoints[name] }),
      connections: connections[name] ?? 0,
      ...(udpCounters[name] && { udp: { ...udpCounters[name] } }),
    })),
    routers: Object.entries(config.http?.routers ?? {}).map(([name, r]) => ({
      name,
      rule: r.rule,
      priority: r.priority,
      entryPoints: r.entryPoints,
      middlewares: r.middlewares ?? [],
      target: r.service ?? (r.respond ? 'respond' : r.redirect ? 'redirect' : ''),
      tls: r.tls !== undefined,
      ...(httpProblems.has(name) && { disabled: httpProblems.get(name)! }),
    })),
    services: Object.entries(config.http?.services ?? {}).map(([name, s]) => {
      const servers = upstreams.get(name);
      const transport = s.loadBalancer && transportName(config, s.loadBalancer);
      return { name, kind: Object.keys(s)[0] ?? '', ...(servers && { servers }), ...(transport && { transport }) };
    }),
    tcpRouters: Object.entries(config.tcp?.routers ?? {}).map(([name, r]) => ({
      name,
      rule: r.rule,
      service: r.service,
      ...(r.entryPoints && { entryPoints: r.entryPoints }),
      ...(r.middlewares && { middlewares: r.middlewares }),
      ...(tcpProblems.has(name) && { disabled: tcpProblems.get(name)! }),
    })),
    tcpServices: Object.entries(config.tcp?.services ?? {}).map(([name, s]) => {
      const built = sources.tcpServices?.().get(name);
      return {
        name,
        kind: s.weighted && !s.loadBalancer ? 'weighted' : 'loadBalancer',
        servers: built ? built.servers.map((v) => ({ address: v.backend.address, up: v.up })) : (s.loadBalancer?.servers ?? []).map((v) => ({ address: v.address, up: true })),
        ...(s.weighted && !s.loadBalancer && { weighted: s.weighted.services.map((c) => `${c.name} (weight ${c.weight ?? 1})`) }),
        healthChecked: s.loadBalancer?.healthCheck !== undefined,
      };
    }),
    udpRouters: Object.entries(config.udp?.routers ?? {}).map(([name, r]) => ({
      name,
      entryPoints: r.entryPoints,
      service: r.service,
      ...(udpProblems.has(name) && { disabled: udpProblems.get(name)! }),
    })),
    udpServices: Object.entries(config.udp?.services ?? {}).map(([name, s]) => ({
      name,
      kind: s.loadBalancer ? 'loadBalancer' : 'weighted',
      servers: s.loadBalancer ? s.loadBalancer.servers.map((v) => v.address) : (s.weighted?.services ?? []).map((c) => `${c.name} (weight ${c.weight ?? 1})`),
    })),
    certificates: sources.certificates().map((c) => ({
      names: c.names,
      source: c.source,
      notAfter: c.notAfter.toISOString(),
      daysLeft: days(c.notAfter.getTime()),
      isDefault: c.isDefault,
    })),
    acme: sources.managed().map((m) => ({
      id: m.id,
      resolver: m.resolver,
      names: m.names,
      notAfter: m.notAfter,
      daysLeft: m.notAfter === undefined ? undefined : days(Date.parse(m.notAfter)),
      renewAt: m.renewAt,
      lastError: m.lastError,
      lastErrorAt: m.lastErrorAt,
      retryAt: m.retryAt,
      failures: m.failures ?? 0,
    })),
    challenges: recent,
  };
}

/** The transport a load balancer with https:// or h2c:// servers uses, as the status shows it; undefined for http:// only. */
function transportName(config: Config, lb: NonNullable<NonNullable<Config['http']>['services']>[string]['loadBalancer']): string | undefined {
  if (lb === undefined || !lb.servers.some((s) => !s.url.startsWith('http:'))) return undefined;
  const transports = config.http?.serversTransports ?? {};
  const name = lb.serversTransport ?? (Object.hasOwn(transports, 'default') ? 'default' : undefined);
  if (name === undefined) return 'built-in';
  return transports[name]?.insecureSkipVerify ? `${name} (insecure)` : name;
}
