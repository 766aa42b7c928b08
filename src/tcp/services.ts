/**
 * TCP services: where routes send their connections, built once per config. A `loadBalancer` is a ring of servers
 * (with its timeouts, PROXY header and optional health check); a `weighted` service spreads connections over other
 * services by weight. A service that cannot be built is recorded with its reason, and the routers naming it are
 * disabled (STYLE 6), not the proxy.
 */
import type { TcpHealthCheckConfig, TcpServiceConfig } from '../config/schema-tls.js';
import { DEFAULTS, parseDuration } from '../config/index.js';
import { GatehouseError } from '../errors.js';
import { encodeProxyHeader } from '../ip/proxy-protocol.js';
import { suggestClosest } from '../suggest.js';
import { parseBackendAddress, TcpServerRing, TcpWeighted, type PeerAddresses, type TcpBalancer, type TcpLink, type TcpServer } from './backend.js';
import type { TcpHealthCheckOptions } from './health-check.js';

/** A built TCP service. */
export interface TcpServiceSpec {
  readonly name: string;
  readonly kind: 'loadBalancer' | 'weighted';
  readonly balancer: TcpBalancer;
  /** A load balancer's own servers (empty for a weighted service), with their health, for the status page. */
  readonly servers: readonly TcpServer[];
  /** A load balancer's health check, started by the route table of the config in force. */
  readonly healthCheck: TcpHealthCheckOptions | undefined;
}

/** Build every service in `tcp.services`. Never throws: a broken service becomes an entry holding its error. */
export function buildTcpServices(services: Readonly<Record<string, TcpServiceConfig>>): Map<string, TcpServiceSpec | GatehouseError> {
  const built = new Map<string, TcpServiceSpec | GatehouseError>();
  const building = new Set<string>();
  const build = (name: string): TcpServiceSpec | GatehouseError => {
    const done = built.get(name);
    if (done !== undefined) return done;
    building.add(name);
    const spec = services[name]!;
    const result = spec.weighted !== undefined && spec.loadBalancer === undefined ? buildWeighted(name, spec, services, building, build) : buildLoadBalancer(name, spec);
    building.delete(name);
    built.set(name, result);
    return result;
  };
  for (const name of Object.keys(services)) build(name);
  return built;
}

function buildLoadBalancer(name: string, spec: TcpServiceConfig): TcpServiceSpec | GatehouseError {
  const path = `/tcp/services/${name}`;
  const lb = spec.loadBalancer;
  if (lb === undefined || spec.weighted !== undefined) {
    return new GatehouseError('CONFIG_SCHEMA', `TCP service "${name}" must hold exactly one of loadBalancer, weighted (it has ${lb ? 'both' : 'neither'})`, {
      location: { path },
    });
  }
  const t = lb.timeouts ?? {};
  const link: TcpLink = {
    service: name,
    connectTimeoutMs: parseDuration(t.connect ?? DEFAULTS.connectTimeout),
    idleTimeoutMs: parseDuration(t.idle ?? DEFAULTS.tcpIdleTimeout),
    proxyHeader: lb.proxyProtocol ? proxyHeaderEncoder(lb.proxyProtocol.version ?? 2) : undefined,
  };
  const servers: TcpServer[] = [];
  for (const [i, server] of lb.servers.entries()) {
    const backend = parseBackendAddress(server.address);
    if (backend === undefined) {
      return new GatehouseError(
        'CONFIG_SCHEMA',
        `TCP service "${name}": server address ${JSON.stringify(server.address)} is not host:port (expected e.g. "10.0.0.5:443", "[::1]:8443", "vm.lan:443")`,
        { location: { path: `${path}/loadBalancer/servers/${i}/address` } },
      );
    }
    servers.push({ backend, link, up: true });
  }
  return {
    name,
    kind: 'loadBalancer',
    balancer: new TcpServerRing(servers),
    servers,
    healthCheck: lb.healthCheck ? healthCheckOptions(lb.healthCheck) : undefined,
  };
}

function buildWeighted(
  name: string,
  spec: TcpServiceConfig,
  services: Readonly<Record<string, TcpServiceConfig>>,
  building: ReadonlySet<string>,
  build: (name: string) => TcpServiceSpec | GatehouseError,
): TcpServiceSpec | GatehouseError {
  const path = `/tcp/services/${name}/weighted/services`;
  const children: { name: string; weight: number; balancer: TcpBalancer }[] = [];
  for (const [i, child] of spec.weighted!.services.entries()) {
    const at = { location: { path: `${path}/${i}/name` } };
    if (services[child.name] === undefined) {
      const near = suggestClosest(child.name, Object.keys(services));
      return new GatehouseError('CONFIG_REFERENCE', `TCP service "${name}" names service "${child.name}", which does not exist${near ? `; did you mean "${near}"?` : ''}`, at);
    }
    if (building.has(child.name)) {
      return new GatehouseError('CONFIG_REFERENCE', `TCP service "${name}" names service "${child.name}", which contains "${name}" again (a weighted service cannot contain itself)`, at);
    }
    const built = build(child.name);
    if (built instanceof GatehouseError) {
      return new GatehouseError(built.code, `TCP service "${name}" names service "${child.name}", which is broken: ${built.message}`, { cause: built, location: built.location });
    }
    children.push({ name: child.name, weight: child.weight ?? DEFAULTS.serverWeight, balancer: built.balancer });
  }
  if (!children.some((c) => c.weight > 0)) {
    return new GatehouseError('CONFIG_SCHEMA', `TCP service "${name}": no service of it has a weight above 0, so it could never take a connection`, { location: { path } });
  }
  return { name, kind: 'weighted', balancer: new TcpWeighted(children, spec.weighted!.healthCheck !== undefined), servers: [], healthCheck: undefined };
}

function healthCheckOptions(spec: TcpHealthCheckConfig): TcpHealthCheckOptions {
  const intervalMs = parseDuration(spec.interval ?? DEFAULTS.healthCheckInterval);
  return {
    port: spec.port,
    send: Buffer.from(spec.send ?? '', 'utf8'),
    expect: Buffer.from(spec.expect ?? '', 'utf8'),
    // 0 would spin: Traefik falls back to its default for a non-positive interval, so do we.
    intervalMs: intervalMs > 0 ? intervalMs : parseDuration(DEFAULTS.healthCheckInterval),
    unhealthyIntervalMs: spec.unhealthyInterval !== undefined && parseDuration(spec.unhealthyInterval) > 0 ? parseDuration(spec.unhealthyInterval) : intervalMs > 0 ? intervalMs : parseDuration(DEFAULTS.healthCheckInterval),
    timeoutMs: parseDuration(spec.timeout ?? DEFAULTS.healthCheckTimeout) || parseDuration(DEFAULTS.healthCheckTimeout),
  };
}

/**
 * The PROXY header builder of a service: the client's address as source, our entry point's as destination (spec
 * §2.1/§2.2). The codec lives with the edge, which also reads these headers; it sends IPv4-mapped addresses as
 * IPv4 and puts a mixed pair into one family.
 */
function proxyHeaderEncoder(version: 1 | 2): (peer: PeerAddresses) => Buffer {
  return (peer) =>
    encodeProxyHeader(version, { address: peer.clientIp, port: peer.clientPort }, { address: peer.localIp, port: peer.localPort });
}
