/**
 * UDP services, built once per config: a load balancer's servers parsed into a round robin, a weighted service's
 * children built first (memoised, cycles refused) into a smooth weighted round robin. A service that cannot be built
 * is recorded with its reason, and the routers naming it are disabled (STYLE 6), not the proxy.
 */
import type { UdpServiceConfig } from '../config/schema-udp.js';
import { GatehouseError } from '../errors.js';
import { parseUdpServer, UdpRoundRobin, UdpWeighted, type UdpPicker, type UdpServer } from './balancer.js';

/** A built UDP service: its picker, and its servers (all of them, through weighted children) for the status page. */
export interface UdpService {
  readonly name: string;
  readonly picker: UdpPicker;
  readonly servers: readonly UdpServer[];
}

/** Build every service in `udp.services`. Never throws: a broken service becomes an entry holding its error. */
export function buildUdpServices(specs: Readonly<Record<string, UdpServiceConfig>>): Map<string, UdpService | GatehouseError> {
  const built = new Map<string, UdpService | GatehouseError>();
  const building: string[] = [];

  const lookup = (name: string): UdpService | GatehouseError | undefined => {
    const spec = Object.hasOwn(specs, name) ? specs[name] : undefined;
    if (spec === undefined) return undefined;
    const done = built.get(name);
    if (done !== undefined) return done;
    if (building.includes(name)) {
      const cycle = [...building.slice(building.indexOf(name)), name].join(' → ');
      return new GatehouseError('CONFIG_REFERENCE', `UDP service cycle: ${cycle}`, { location: { path: `/udp/services/${name}` } });
    }
    building.push(name);
    const service = buildOne(name, spec);
    building.pop();
    built.set(name, service);
    return service;
  };

  const buildOne = (name: string, spec: UdpServiceConfig): UdpService | GatehouseError => {
    const path = `/udp/services/${name}`;
    const kinds = Object.keys(spec);
    if (kinds.length !== 1) {
      return new GatehouseError('CONFIG_SCHEMA', `UDP service "${name}" must have exactly one of loadBalancer, weighted; found ${kinds.length ? kinds.join(', ') : 'none'}`, {
        location: { path },
      });
    }
    if (spec.loadBalancer) {
      const servers: UdpServer[] = [];
      for (const [i, s] of spec.loadBalancer.servers.entries()) {
        const server = parseUdpServer(s.address);
        if (server === undefined) {
          return new GatehouseError(
            'CONFIG_SCHEMA',
            `UDP service "${name}": server address ${JSON.stringify(s.address)} is not host:port (expected e.g. "10.0.0.53:53", "[fd00::53]:53", "pihole.lan:53")`,
            { location: { path: `${path}/loadBalancer/servers/${i}/address` } },
          );
        }
        servers.push(server);
      }
      return { name, picker: new UdpRoundRobin(servers), servers };
    }
    const children: { picker: UdpPicker; weight: number }[] = [];
    const servers: UdpServer[] = [];
    for (const [i, child] of spec.weighted!.services.entries()) {
      const childPath = `${path}/weighted/services/${i}/name`;
      const found = lookup(child.name);
      if (found === undefined) {
        return new GatehouseError('CONFIG_REFERENCE', `UDP service "${name}" is disabled: service "${child.name}" does not exist`, { location: { path: childPath } });
      }
      if (found instanceof GatehouseError) {
        const why = found.message.startsWith('UDP service cycle') ? found.message : `service "${child.name}" is broken: ${found.message}`;
        return new GatehouseError('CONFIG_REFERENCE', `UDP service "${name}" is disabled: ${why}`, { cause: found, location: { path: childPath } });
      }
      children.push({ picker: found.picker, weight: child.weight ?? 1 });
      for (const s of found.servers) if (!servers.includes(s)) servers.push(s);
    }
    try {
      return { name, picker: new UdpWeighted(children), servers };
    } catch (err) {
      return new GatehouseError('CONFIG_SCHEMA', `UDP service "${name}": ${(err as Error).message}`, { location: { path: `${path}/weighted/services` } });
    }
  };

  for (const name of Object.keys(specs)) lookup(name);
  return built;
}
