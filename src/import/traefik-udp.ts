/**
 * Traefik's UDP pieces → gatehouse (issue 17): an entry point whose address ends in `/udp` (with its `udp.timeout`),
 * and the dynamic `udp` section's routers (entryPoints, service) and services (loadBalancer servers, weighted), in
 * the same shapes. A reference to a service of another provider (`dns@docker`) cannot carry over: its router is
 * dropped, saying so; `@file` is stripped.
 */
import type { Plain, TraefikNode } from './traefik-node.js';

/** A UDP entry point: the address as Traefik writes it (gatehouse reads `/udp` too) and `udp.timeout`. */
export function convertUdpEntryPoint(node: TraefikNode, address: string): Plain {
  const out: Plain = { address };
  const udp = node.child('udp');
  if (udp) {
    const timeout = udp.str('timeout');
    // Traefik reads a bare number as seconds; gatehouse wants a unit.
    if (timeout !== undefined) out['udp'] = { timeout: /^\d+$/.test(timeout) ? `${timeout}s` : timeout };
    udp.done();
  }
  node.ignore('asDefault');
  node.drop('transport', 'shutdown grace is global in gatehouse (lifecycle.graceTimeout)');
  node.done('does not apply to a UDP entry point');
  return out;
}

/** The dynamic `udp` section: routers and services by name, or undefined when it is absent or left nothing. */
export function convertUdp(node: TraefikNode | undefined): { routers: Record<string, Plain>; services: Record<string, Plain> } | undefined {
  if (!node) return undefined;
  const services: Record<string, Plain> = {};
  for (const [name, s] of node.entries('services')) {
    const converted = convertUdpService(s);
    if (converted) services[name] = converted;
  }
  const routers: Record<string, Plain> = {};
  for (const [name, r] of node.entries('routers')) {
    const service = r.str('service');
    const entryPoints = r.strings('entryPoints');
    r.done();
    if (service === undefined) {
      r.drops.add(r.path, 'no service');
      continue;
    }
    const base = stripFile(service);
    if (base === undefined || services[base] === undefined) {
      r.drops.add(r.at('service'), `UDP service "${service}" is not in the imported files (or was dropped): the router is dropped`);
      continue;
    }
    routers[name] = { ...(entryPoints ? { entryPoints } : {}), service: base };
  }
  node.done();
  if (Object.keys(routers).length === 0 && Object.keys(services).length === 0) return undefined;
  return { routers, services };
}

function convertUdpService(node: TraefikNode): Plain | undefined {
  const lb = node.child('loadBalancer');
  const weighted = node.child('weighted');
  node.done();
  if (lb) {
    const servers = lb.children('servers').flatMap((s) => {
      const address = s.str('address');
      s.done();
      if (address === undefined) s.drops.add(s.path, 'no address');
      return address === undefined ? [] : [{ address }];
    });
    lb.done();
    if (servers.length === 0) {
      lb.drops.add(lb.path, 'no server with an address: the service is dropped');
      return undefined;
    }
    return { loadBalancer: { servers } };
  }
  if (weighted) {
    const children = weighted.children('services').flatMap((c) => {
      const name = c.str('name');
      const weight = c.int('weight');
      c.done();
      const base = name === undefined ? undefined : stripFile(name);
      if (base === undefined) {
        c.drops.add(c.path, name === undefined ? 'no name' : `service "${name}" of another provider`);
        return [];
      }
      return [{ name: base, ...(weight !== undefined ? { weight } : {}) }];
    });
    weighted.done();
    if (children.length === 0) return undefined;
    return { weighted: { services: children } };
  }
  node.drops.add(node.path, 'a UDP service needs loadBalancer or weighted');
  return undefined;
}

/** `dns@file` → `dns`; undefined for another provider's (`dns@docker`). */
function stripFile(ref: string): string | undefined {
  const at = ref.lastIndexOf('@');
  if (at <= 0) return ref;
  return ref.slice(at + 1) === 'file' ? ref.slice(0, at) : undefined;
}
