/**
 * The backends of a TCP service: `host:port` addresses parsed once at config load, each with the link settings of
 * its service (timeouts, PROXY header) and its health, and the balancers that pick one per connection: round robin
 * over a load balancer's servers, smooth weighted round robin over the services of a `weighted` one.
 */
import { isIP } from 'node:net';

/** One backend address of a TCP service, parsed once. */
export interface TcpBackend {
  /** `host:port` as configured, for logs. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
}

/** The addresses of one client connection, as the PROXY protocol header reports them. */
export interface PeerAddresses {
  /** The client's address (the socket's, or the one a trusted PROXY header from a load balancer carried). */
  clientIp: string;
  clientPort: number;
  /** The address and port the client connected to (our entry point's). */
  localIp: string;
  localPort: number;
}

/** How connections to the servers of one load-balancer service are made; times in ms, 0 = off. */
export interface TcpLink {
  /** The load-balancer service the server belongs to (a weighted service's child), for logs. */
  readonly service: string;
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
  /** Builds the PROXY protocol header for a connection; undefined, none is sent. */
  readonly proxyHeader: ((peer: PeerAddresses) => Buffer) | undefined;
}

/** One server of a load-balancer service: where to connect, how, and whether its health check lets it serve. */
export interface TcpServer {
  readonly backend: TcpBackend;
  readonly link: TcpLink;
  /** False while its health check says it is down: new connections skip it. Servers start up. */
  up: boolean;
}

/** Picks the server of each new connection. Built once per config, shared by every router naming the service. */
export interface TcpBalancer {
  /** The next server that may take a connection, or undefined when none may (all down). Allocates nothing. */
  next(): TcpServer | undefined;
  /** How many servers one connection may try in all when they refuse (each pick may be another one). */
  readonly size: number;
  /** Whether some server is up (a weighted parent with `healthCheck` reads it). */
  up(): boolean;
}

/** Round robin over a load balancer's servers, skipping those that are down. */
export class TcpServerRing implements TcpBalancer {
  readonly servers: readonly TcpServer[];
  readonly size: number;
  #index = 0;

  constructor(servers: readonly TcpServer[]) {
    if (servers.length === 0) throw new TypeError('a TCP service needs at least one backend');
    this.servers = servers;
    this.size = servers.length;
  }

  next(): TcpServer | undefined {
    const n = this.servers.length;
    for (let i = 0; i < n; i++) {
      const server = this.servers[this.#index]!;
      this.#index = this.#index + 1 === n ? 0 : this.#index + 1;
      if (server.up) return server;
    }
    return undefined;
  }

  up(): boolean {
    for (let i = 0; i < this.servers.length; i++) if (this.servers[i]!.up) return true;
    return false;
  }
}

/** One service of a weighted TCP service, already built. */
export interface WeightedTcpChild {
  readonly name: string;
  /** 0 = gets no connection. */
  readonly weight: number;
  readonly balancer: TcpBalancer;
}

interface Slot {
  readonly balancer: TcpBalancer;
  readonly weight: number;
  current: number;
}

/**
 * Traefik's tcp `weighted` service: connections spread over services by weight. The picking is smooth weighted
 * round robin as for HTTP weighted services (src/http/weighted.ts), so the share of each is exact over any run of
 * total-weight connections and interleaved. With `skipDown` (Traefik's `weighted.healthCheck`), a service none of
 * whose servers is up is left out of the pick; without it, it keeps its share, and its connections find no server.
 */
export class TcpWeighted implements TcpBalancer {
  readonly size: number;
  readonly #slots: Slot[];
  readonly #skipDown: boolean;

  constructor(children: readonly WeightedTcpChild[], skipDown: boolean) {
    if (!children.some((c) => c.weight > 0)) throw new TypeError('no service of a weighted TCP service has a weight above 0');
    this.#slots = children.filter((c) => c.weight > 0).map((c) => ({ balancer: c.balancer, weight: c.weight, current: 0 }));
    this.#skipDown = skipDown;
    this.size = this.#slots.reduce((n, s) => n + s.balancer.size, 0);
  }

  next(): TcpServer | undefined {
    let best: Slot | undefined;
    let total = 0;
    const slots = this.#slots;
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i]!;
      if (this.#skipDown && !s.balancer.up()) continue;
      s.current += s.weight;
      total += s.weight;
      if (best === undefined || s.current > best.current) best = s;
    }
    if (best === undefined) return undefined;
    best.current -= total;
    return best.balancer.next();
  }

  up(): boolean {
    for (let i = 0; i < this.#slots.length; i++) if (this.#slots[i]!.balancer.up()) return true;
    return false;
  }
}

const ADDRESS = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):([0-9]{1,5})$/;

/** `host:port` or `[v6]:port` to a backend; undefined when malformed or the port is outside 1–65535. */
export function parseBackendAddress(text: string): TcpBackend | undefined {
  const m = ADDRESS.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  const host = m[1] ?? m[2]!;
  if (m[1] !== undefined && isIP(host) !== 6) return undefined;
  // A bare IPv6 address without brackets has several colons and fails the pattern: its port would be ambiguous.
  return { address: text.trim(), host, port };
}
