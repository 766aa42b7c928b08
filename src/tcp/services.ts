/**
 * TCP services: the backends a passthrough route sends its connections to, built once per config. A service that
 * cannot be built is recorded with its reason, and the routers naming it are disabled (STYLE 6), not the proxy.
 */
import type { TcpServiceConfig } from '../config/schema-tls.js';
import { DEFAULTS, parseDuration } from '../config/index.js';
import { GatehouseError } from '../errors.js';
import { parseBackendAddress, TcpBackendRing, type TcpBackend } from './backend.js';
import type { PeerAddresses } from './forward.js';
import { encodeProxyHeader } from '../ip/proxy-protocol.js';

/** What routes of one service share: its backend ring, timeouts and PROXY header encoder. */
export interface TcpServiceSpec {
  readonly name: string;
  readonly ring: TcpBackendRing;
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly proxyHeader: ((peer: PeerAddresses) => Buffer) | undefined;
}

/** Build every service in `tcp.services`. Never throws: a broken service becomes an entry holding its error. */
export function buildTcpServices(services: Readonly<Record<string, TcpServiceConfig>>): Map<string, TcpServiceSpec | GatehouseError> {
  const built = new Map<string, TcpServiceSpec | GatehouseError>();
  for (const [name, spec] of Object.entries(services)) built.set(name, buildService(name, spec));
  return built;
}

function buildService(name: string, spec: TcpServiceConfig): TcpServiceSpec | GatehouseError {
  const lb = spec.loadBalancer;
  const path = `/tcp/services/${name}/loadBalancer`;
  const backends: TcpBackend[] = [];
  for (const [i, server] of lb.servers.entries()) {
    const backend = parseBackendAddress(server.address);
    if (backend === undefined) {
      return new GatehouseError(
        'CONFIG_SCHEMA',
        `TCP service "${name}": server address ${JSON.stringify(server.address)} is not host:port (expected e.g. "10.0.0.5:443", "[::1]:8443", "vm.lan:443")`,
        { location: { path: `${path}/servers/${i}/address` } },
      );
    }
    backends.push(backend);
  }
  const t = lb.timeouts ?? {};
  return {
    name,
    ring: new TcpBackendRing(backends),
    connectTimeoutMs: parseDuration(t.connect ?? DEFAULTS.connectTimeout),
    idleTimeoutMs: parseDuration(t.idle ?? DEFAULTS.tcpIdleTimeout),
    proxyHeader: lb.proxyProtocol ? proxyHeaderEncoder(lb.proxyProtocol.version ?? 2) : undefined,
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
