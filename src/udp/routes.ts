/**
 * UDP routers compiled once per config into one route per UDP entry point. UDP has nothing to match on, so, as in
 * Traefik (pkg/server/router/udp/router.go), an entry point takes one router: where several name it, the one whose
 * name sorts last wins (Traefik sorts the names in descending order and keeps the first it can build), and the
 * others are reported for that entry point. A router that cannot be built (unknown entry point or service, a TCP
 * entry point, a broken service) is disabled with its problem recorded; the others serve.
 */
import type { Config } from '../config/index.js';
import { listenProtocol } from '../edge/address.js';
import { GatehouseError } from '../errors.js';
import { suggestClosest } from '../suggest.js';
import type { UdpServer } from './balancer.js';
import { buildUdpServices, type UdpService } from './services.js';

/** The router serving one UDP entry point: what a new session asks for its server. */
export interface UdpRoute {
  readonly router: string;
  readonly service: string;
  /** The server of a new session (round robin, weighted). */
  pick(): UdpServer;
}

/** Compiled UDP routing of a config. */
export interface UdpRouteTable {
  /** The route of each UDP entry point that has one. */
  readonly byEntryPoint: ReadonlyMap<string, UdpRoute>;
  readonly problems: readonly { router: string; error: GatehouseError }[];
  /** Built services by name, for the status page. */
  readonly services: ReadonlyMap<string, UdpService | GatehouseError>;
}

/** Names of the config's UDP entry points (address ending in `/udp`). */
export function udpEntryPoints(config: Config): string[] {
  return Object.keys(config.entryPoints).filter((name) => listenProtocol(config.entryPoints[name]!.address) === 'udp');
}

/** Compile all UDP routers and services of a config. Never throws. */
export function buildUdpRoutes(config: Config): UdpRouteTable {
  const all = Object.keys(config.entryPoints);
  const udp = udpEntryPoints(config);
  const services = buildUdpServices(config.udp?.services ?? {});
  const byEntryPoint = new Map<string, UdpRoute>();
  const problems: { router: string; error: GatehouseError }[] = [];
  // Traefik's order: names descending, the first one built takes the entry point.
  const names = Object.keys(config.udp?.routers ?? {}).sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
  for (const name of names) {
    const spec = config.udp!.routers![name]!;
    const path = `/udp/routers/${name}`;
    const refused = (message: string, at: string, cause?: GatehouseError): void => {
      problems.push({ router: name, error: new GatehouseError(cause?.code ?? 'CONFIG_REFERENCE', `UDP router "${name}" is disabled: ${message}`, { location: { path: at }, ...(cause ? { cause } : {}) }) });
    };
    const badEntry = (spec.entryPoints ?? []).findIndex((ep) => !udp.includes(ep));
    if (badEntry >= 0) {
      const ep = spec.entryPoints![badEntry]!;
      if (all.includes(ep)) refused(`entry point "${ep}" is not a UDP one (its address has no "/udp" suffix)`, `${path}/entryPoints/${badEntry}`);
      else refused(`entry point "${ep}" does not exist${hint(ep, udp)}`, `${path}/entryPoints/${badEntry}`);
      continue;
    }
    const entryPoints = spec.entryPoints ?? udp;
    if (entryPoints.length === 0) {
      refused('no entry point is a UDP one (an address ending in "/udp", e.g. ":53/udp")', path);
      continue;
    }
    const service = services.get(spec.service);
    if (service === undefined) {
      refused(`UDP service "${spec.service}" does not exist${hint(spec.service, [...services.keys()])}`, `${path}/service`);
      continue;
    }
    if (service instanceof GatehouseError) {
      refused(`service "${spec.service}" is broken: ${service.message}`, service.location.path ?? `${path}/service`, service);
      continue;
    }
    const route: UdpRoute = { router: name, service: service.name, pick: () => service.picker.next() };
    const taken = entryPoints.filter((ep) => byEntryPoint.has(ep));
    if (taken.length === entryPoints.length) {
      const by = taken.map((ep) => `"${ep}" is served by UDP router "${byEntryPoint.get(ep)!.router}"`).join(', ');
      refused(`${by} (one UDP router per entry point, as in Traefik: the name that sorts last wins)`, path);
      continue;
    }
    for (const ep of entryPoints) if (!byEntryPoint.has(ep)) byEntryPoint.set(ep, route);
  }
  return { byEntryPoint, problems, services };
}

function hint(wanted: string, known: readonly string[]): string {
  const near = suggestClosest(wanted, known);
  return near ? `; did you mean "${near}"?` : known.length ? ` (defined: ${known.join(', ')})` : ' (none is defined)';
}
