/**
 * Which entry points without `tls` carry raw TCP: those a TCP router names in its entryPoints. A plain port cannot
 * tell an HTTP request from any other bytes before routing (no ClientHello, no SNI), so an entry point carries one or
 * the other; when HTTP routers name it too, the HTTP side keeps it and its TCP routers are disabled
 * (TCP_ENTRY_POINT_CONFLICT, from router.ts). Decided from the config alone, so the edge (which listener to bind),
 * the routers, `check` and `explain` agree.
 */
import type { Config } from '../config/index.js';

/** What a config puts on its entry points without `tls`. */
export interface PlainEntryPoints {
  /** Entry points without `tls` that carry TCP routers (and no HTTP router names). */
  readonly tcp: ReadonlySet<string>;
  /** Per entry point without `tls`: the TCP routers naming it and the HTTP routers naming it explicitly, when both exist. */
  readonly conflicts: ReadonlyMap<string, { readonly tcpRouters: readonly string[]; readonly httpRouters: readonly string[] }>;
}

/** The plain entry points a config gives to TCP routers, and those that HTTP and TCP routers both name. */
export function plainEntryPoints(config: Config): PlainEntryPoints {
  const plain = (ep: string): boolean => config.entryPoints[ep] !== undefined && config.entryPoints[ep]!.tls === undefined && !isUdpEntryPoint(config, ep);
  const tcpOn = new Map<string, string[]>();
  for (const [name, spec] of Object.entries(config.tcp?.routers ?? {})) {
    for (const ep of spec.entryPoints ?? []) if (plain(ep)) tcpOn.set(ep, [...(tcpOn.get(ep) ?? []), name]);
  }
  const httpOn = new Map<string, string[]>();
  for (const [name, spec] of Object.entries(config.http?.routers ?? {})) {
    for (const ep of spec.entryPoints ?? []) if (tcpOn.has(ep)) httpOn.set(ep, [...(httpOn.get(ep) ?? []), name]);
  }
  const tcp = new Set<string>();
  const conflicts = new Map<string, { tcpRouters: string[]; httpRouters: string[] }>();
  for (const [ep, tcpRouters] of tcpOn) {
    const httpRouters = httpOn.get(ep);
    if (httpRouters === undefined) tcp.add(ep);
    else conflicts.set(ep, { tcpRouters, httpRouters });
  }
  return { tcp, conflicts };
}

/** An entry point whose address ends in `/udp` (Traefik's form) carries datagrams, never TCP routers. */
export function isUdpEntryPoint(config: Config, ep: string): boolean {
  return /\/udp$/i.test(config.entryPoints[ep]?.address.trim() ?? '');
}
