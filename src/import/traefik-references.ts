/**
 * Resolving the names one part of an imported config gives another: a router's service and middlewares, a
 * chain's middlewares, a weighted or mirroring service's services, a TCP router's service, a router's entry points
 * and certificate resolver. Traefik's `@file` suffix is stripped when the object is in the imported files; an
 * object of another provider (`@docker`, `@kubernetescrd`) or one that was dropped takes the referring object down
 * with it, and that again may take others: settle() repeats until nothing changes.
 */
import { isPlain, type DropList, type Plain } from './traefik-node.js';

/** The gatehouse-shaped draft the converter builds; every map is keyed by the Traefik name. */
export interface Draft {
  entryPoints: Record<string, Plain>;
  routers: Record<string, Plain>;
  services: Record<string, Plain>;
  middlewares: Record<string, Plain>;
  tcpRouters: Record<string, Plain>;
  tcpServices: Record<string, Plain>;
  /** `tcp.middlewares` (ipAllowList, inFlightConn). */
  tcpMiddlewares?: Record<string, Plain>;
  resolvers: Record<string, Plain>;
}

/** Names each kind had in the Traefik files, to tell "was dropped" from "is not defined". */
export interface Seen {
  services: Set<string>;
  middlewares: Set<string>;
  tcpServices: Set<string>;
  tcpMiddlewares?: Set<string>;
}

type Resolved = { name: string } | { error: string };

/** `auth@file` → `auth` when `auth` is imported; otherwise the reason the reference cannot be kept. */
export function resolveName(ref: string, kind: string, known: Record<string, unknown>, seen: Set<string>): Resolved {
  const at = ref.lastIndexOf('@');
  const base = at > 0 ? ref.slice(0, at) : ref;
  const provider = at > 0 ? ref.slice(at + 1) : undefined;
  if (provider !== undefined && provider !== 'file') {
    if (provider === 'internal') return { error: `${kind} ${ref} is internal to Traefik and has no gatehouse equivalent` };
    return { error: `${kind} ${ref} is from the ${provider} provider, which is not imported (only files are)` };
  }
  if (Object.hasOwn(known, base)) return { name: base };
  if (seen.has(base)) return { error: `${kind} ${base} was dropped` };
  return { error: `${kind} ${base} is not defined in the imported files` };
}

/** Resolves every name of `refs`, or returns the first reason one cannot be kept. */
function resolveAll(refs: unknown, kind: string, known: Record<string, unknown>, seen: Set<string>): string[] | { error: string } {
  const out: string[] = [];
  for (const ref of Array.isArray(refs) ? refs : []) {
    const r = resolveName(String(ref), kind, known, seen);
    if ('error' in r) return r;
    out.push(r.name);
  }
  return out;
}

/** One pass over the references; true when something was dropped (so another pass may find more). */
function pass(d: Draft, seen: Seen, drops: DropList): boolean {
  let changed = false;
  const remove = (map: Record<string, Plain>, name: string, path: string, reason: string): void => {
    delete map[name];
    drops.add(path, reason);
    changed = true;
  };
  for (const [name, mw] of Object.entries(d.middlewares)) {
    const chain = mw['chain'];
    if (!isPlain(chain)) continue;
    const names = resolveAll(chain['middlewares'], 'middleware', d.middlewares, seen.middlewares);
    if ('error' in names) remove(d.middlewares, name, `http.middlewares.${name}.chain`, names.error);
    else chain['middlewares'] = names;
  }
  for (const [name, svc] of Object.entries(d.services)) {
    const weighted = svc['weighted'];
    const mirroring = svc['mirroring'];
    const refs: Plain[] = [];
    if (isPlain(weighted) && Array.isArray(weighted['services'])) refs.push(...(weighted['services'] as Plain[]));
    if (isPlain(mirroring)) {
      refs.push(mirroring);
      if (Array.isArray(mirroring['mirrors'])) refs.push(...(mirroring['mirrors'] as Plain[]));
    }
    for (const ref of refs) {
      const key = 'service' in ref ? 'service' : 'name';
      const r = resolveName(String(ref[key]), 'service', d.services, seen.services);
      if ('error' in r) {
        remove(d.services, name, `http.services.${name}`, r.error);
        break;
      }
      ref[key] = r.name;
    }
  }
  for (const [name, router] of Object.entries(d.routers)) {
    const path = `http.routers.${name}`;
    if (typeof router['service'] === 'string') {
      const r = resolveName(router['service'], 'service', d.services, seen.services);
      if ('error' in r) {
        remove(d.routers, name, `${path}.service`, r.error);
        continue;
      }
      router['service'] = r.name;
    }
    if (router['middlewares'] !== undefined) {
      // A router never runs without one of its middlewares: it may be the one that asks for a password.
      const names = resolveAll(router['middlewares'], 'middleware', d.middlewares, seen.middlewares);
      if ('error' in names) {
        remove(d.routers, name, `${path}.middlewares`, `${names.error}; the router is dropped rather than served without it`);
        continue;
      }
      router['middlewares'] = names;
    }
    if (!entryPointsKept(router, d, path, drops)) {
      remove(d.routers, name, path, 'none of its entry points was imported');
      continue;
    }
    const tls = router['tls'];
    if (isPlain(tls) && typeof tls['certResolver'] === 'string' && !Object.hasOwn(d.resolvers, tls['certResolver'])) {
      drops.add(`${path}.tls.certResolver`, `certificate resolver ${tls['certResolver']} was not imported; the router is served with the certificates on file`);
      delete tls['certResolver'];
      delete tls['domains'];
    }
  }
  for (const [name, svc] of Object.entries(d.tcpServices)) {
    const weighted = svc['weighted'];
    if (!isPlain(weighted) || !Array.isArray(weighted['services'])) continue;
    for (const ref of weighted['services'] as Plain[]) {
      const r = resolveName(String(ref['name']), 'TCP service', d.tcpServices, seen.tcpServices);
      if ('error' in r) {
        remove(d.tcpServices, name, `tcp.services.${name}`, r.error);
        break;
      }
      ref['name'] = r.name;
    }
  }
  for (const [name, router] of Object.entries(d.tcpRouters)) {
    const path = `tcp.routers.${name}`;
    const r = resolveName(String(router['service']), 'TCP service', d.tcpServices, seen.tcpServices);
    if ('error' in r) {
      remove(d.tcpRouters, name, `${path}.service`, r.error);
      continue;
    }
    router['service'] = r.name;
    if (router['middlewares'] !== undefined) {
      // As for HTTP: a router never runs without one of its middlewares (it may be the allow list).
      const names = resolveAll(router['middlewares'], 'TCP middleware', d.tcpMiddlewares ?? {}, seen.tcpMiddlewares ?? new Set());
      if ('error' in names) {
        remove(d.tcpRouters, name, `${path}.middlewares`, `${names.error}; the router is dropped rather than served without it`);
        continue;
      }
      router['middlewares'] = names;
    }
    if (!entryPointsKept(router, d, path, drops)) remove(d.tcpRouters, name, path, 'none of its entry points was imported');
  }
  return changed;
}

/** Removes entry point names that were not imported; false when none is left. */
function entryPointsKept(router: Plain, d: Draft, path: string, drops: DropList): boolean {
  const eps = router['entryPoints'];
  if (!Array.isArray(eps)) return true;
  const kept = eps.filter((ep) => Object.hasOwn(d.entryPoints, String(ep)));
  for (const ep of eps) if (!kept.includes(ep)) drops.add(`${path}.entryPoints`, `entry point ${String(ep)} was not imported`);
  router['entryPoints'] = kept;
  return kept.length > 0;
}

/** Resolves references until nothing more is dropped; bounded by the number of objects (each pass drops one or stops). */
export function settle(d: Draft, seen: Seen, drops: DropList): void {
  const limit = Object.keys(d.routers).length + Object.keys(d.services).length + Object.keys(d.middlewares).length + Object.keys(d.tcpRouters).length + 2;
  for (let i = 0; i < limit && pass(d, seen, drops); i++);
}
