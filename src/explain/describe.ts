/**
 * What a matched router hands its requests to, in the config's own terms: its middlewares in order with their kind,
 * and its service with its servers (load balancer) or its children (weighted, mirroring), for `gatehouse explain`.
 * Health is not known offline: only the configured check is named.
 */
import type { Config, RouterConfig, ServiceConfig } from '../config/index.js';
import { DEFAULTS } from '../config/index.js';

/** One middleware of a router's chain. */
export interface MiddlewareFacts {
  readonly name: string;
  /** Its kind as configured (basicAuth, rateLimit, …); `missing` when no middleware has that name. */
  readonly kind: string;
  /** A chain's members, in order. */
  readonly members?: readonly MiddlewareFacts[];
}

/** A service and what is under it. */
export interface ServiceFacts {
  readonly name: string;
  readonly kind: 'loadBalancer' | 'weighted' | 'mirroring' | 'plugin' | 'missing';
  /** `up`: the server's health now, on a running instance (absent offline). */
  readonly servers?: readonly { readonly url: string; readonly weight: number; readonly up?: boolean }[];
  readonly strategy?: string;
  /** How it connects to https:// and h2c:// servers: its serversTransport and what that checks (absent: http:// only). */
  readonly transport?: string;
  /** The active health check as configured, e.g. `GET /health every 10s`; health itself is not known offline. */
  readonly healthCheck?: string;
  /** Weighted: the services and their weights; mirroring: the main service first, then the mirrors with their percent. */
  readonly children?: readonly { readonly role: 'weighted' | 'main' | 'mirror'; readonly weight?: number; readonly percent?: number; readonly service: ServiceFacts }[];
  readonly plugin?: string;
}

/** What a router answers with: a service, or an inline respond / redirect. */
export type TargetFacts =
  | { readonly kind: 'service'; readonly service: ServiceFacts }
  | { readonly kind: 'respond'; readonly status: number }
  | { readonly kind: 'redirect'; readonly location: string; readonly status: number };

/** The router's middlewares in the order a request goes through them. */
export function describeMiddlewares(config: Config, names: readonly string[], seen: ReadonlySet<string> = new Set()): MiddlewareFacts[] {
  return names.map((name) => {
    const spec = config.http?.middlewares?.[name];
    if (spec === undefined) return { name, kind: 'missing' };
    const kind = Object.keys(spec)[0] ?? 'missing';
    const chain = spec.chain?.middlewares;
    // A chain naming itself was disabled when built; stopping here keeps the description finite.
    if (chain && !seen.has(name)) return { name, kind, members: describeMiddlewares(config, chain, new Set([...seen, name])) };
    return { name, kind };
  });
}

/** The router's target. */
export function describeTarget(config: Config, router: RouterConfig, health?: Health): TargetFacts {
  if (router.respond) return { kind: 'respond', status: router.respond.status ?? DEFAULTS.respondStatus };
  if (router.redirect) return { kind: 'redirect', location: router.redirect.location, status: router.redirect.status ?? DEFAULTS.redirectStatus };
  return { kind: 'service', service: describeService(config, router.service ?? '', new Set(), health) };
}

/** Each server's health by service name, on a running instance. */
export type Health = (service: string) => readonly { readonly url: string; readonly up: boolean }[] | undefined;

/** The transport line of a load balancer with https:// or h2c:// servers, from the config alone. */
function transportFacts(config: Config, lb: NonNullable<ServiceConfig['loadBalancer']>): { transport?: string } {
  const https = lb.servers.some((s) => s.url.startsWith('https:'));
  const h2c = lb.servers.some((s) => s.url.startsWith('h2c:'));
  if (!https && !h2c) return {};
  const transports = config.http?.serversTransports ?? {};
  const name = lb.serversTransport ?? (Object.hasOwn(transports, 'default') ? 'default' : undefined);
  const t = name === undefined ? undefined : transports[name];
  const parts: string[] = [name === undefined ? 'built-in default' : t === undefined ? `"${name}" (NOT DEFINED: the service is disabled)` : `"${name}"`];
  if (https && t !== undefined && t.insecureSkipVerify) parts.push('https certificates NOT verified (insecureSkipVerify)');
  else if (https) {
    parts.push(`https verified against ${t?.rootCAs ? `rootCAs (${t.rootCAs.length} ${t.rootCAs.length === 1 ? 'entry' : 'entries'})` : "the system's CAs"}`);
    parts.push(`for ${t?.serverName !== undefined ? `'${t.serverName}' (serverName, also sent as SNI)` : "each server's URL host"}`);
  }
  if (https && t?.certificates) parts.push('client certificate sent');
  if (h2c) parts.push('h2c: HTTP/2 without TLS');
  return { transport: parts.join(', ') };
}

/** A service by name, recursively (weighted and mirroring name other services; a cycle stops at the repeat). */
export function describeService(config: Config, name: string, seen: ReadonlySet<string> = new Set(), health?: Health): ServiceFacts {
  const spec: ServiceConfig | undefined = config.http?.services?.[name];
  if (spec === undefined || seen.has(name)) return { name, kind: 'missing' };
  const inner = new Set([...seen, name]);
  if (spec.loadBalancer) {
    const lb = spec.loadBalancer;
    const hc = lb.healthCheck;
    const now = health?.(name);
    return {
      name,
      kind: 'loadBalancer',
      servers: lb.servers.map((s, i) => {
        const up = now?.[i]?.up;
        return { url: s.url, weight: s.weight ?? DEFAULTS.serverWeight, ...(up !== undefined && { up }) };
      }),
      strategy: lb.strategy ?? DEFAULTS.lbStrategy,
      ...transportFacts(config, lb),
      ...(hc && { healthCheck: `${hc.method ?? DEFAULTS.healthCheckMethod} ${hc.path} every ${hc.interval ?? DEFAULTS.healthCheckInterval}` }),
    };
  }
  if (spec.weighted) {
    const children = spec.weighted.services.map((c) => ({ role: 'weighted' as const, weight: c.weight ?? DEFAULTS.serverWeight, service: describeService(config, c.name, inner, health) }));
    return { name, kind: 'weighted', children };
  }
  if (spec.mirroring) {
    const m = spec.mirroring;
    const children = [
      { role: 'main' as const, service: describeService(config, m.service, inner, health) },
      ...(m.mirrors ?? []).map((c) => ({ role: 'mirror' as const, percent: c.percent ?? 0, service: describeService(config, c.name, inner, health) })),
    ];
    return { name, kind: 'mirroring', children };
  }
  return { name, kind: 'plugin', ...(spec.plugin && { plugin: spec.plugin.name }) };
}
