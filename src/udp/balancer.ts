/**
 * How a UDP service picks the server of a new session: round robin over a load balancer's servers, smooth weighted
 * round robin over a weighted service's children (as src/http/weighted.ts picks HTTP services, so a 90/10 split is
 * spread evenly). Picking runs once per session, never per datagram: a session keeps its server until it closes.
 */
import { isIP } from 'node:net';

/** One server of a UDP load balancer, parsed once. */
export interface UdpServer {
  /** `host:port` as configured, for logs and the status page. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /** 4 or 6 for an IP literal (no lookup needed); 0 for a name, resolved when a session opens. */
  readonly family: 0 | 4 | 6;
}

/** Picks the server of each new session. Never fails once built. */
export interface UdpPicker {
  next(): UdpServer;
}

const ADDRESS = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):([0-9]{1,5})$/;

/** `host:port` or `[v6]:port`; undefined when malformed or the port is outside 1–65535. */
export function parseUdpServer(text: string): UdpServer | undefined {
  const m = ADDRESS.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  const host = m[1] ?? m[2]!;
  const family = isIP(host);
  if (m[1] !== undefined && family !== 6) return undefined;
  return { address: text.trim(), host, port, family: family === 4 ? 4 : family === 6 ? 6 : 0 };
}

/** Round robin over servers, in the order configured. */
export class UdpRoundRobin implements UdpPicker {
  readonly servers: readonly UdpServer[];
  #index = 0;

  constructor(servers: readonly UdpServer[]) {
    if (servers.length === 0) throw new TypeError('a UDP load balancer needs at least one server');
    this.servers = servers;
  }

  next(): UdpServer {
    const server = this.servers[this.#index]!;
    this.#index = this.#index + 1 === this.servers.length ? 0 : this.#index + 1;
    return server;
  }
}

interface Slot {
  readonly picker: UdpPicker;
  readonly weight: number;
  current: number;
}

/** Smooth weighted round robin (nginx's) over child services; a weight-0 child never gets a session. */
export class UdpWeighted implements UdpPicker {
  readonly #slots: Slot[];

  /** Throws a TypeError when no child has a weight above 0 (the caller records it against the service). */
  constructor(children: readonly { picker: UdpPicker; weight: number }[]) {
    if (!children.some((c) => c.weight > 0)) throw new TypeError('no service of a weighted UDP service has a weight above 0');
    this.#slots = children.map((c) => ({ picker: c.picker, weight: c.weight, current: 0 }));
  }

  next(): UdpServer {
    let best: Slot | undefined;
    let total = 0;
    for (const s of this.#slots) {
      if (s.weight === 0) continue;
      s.current += s.weight;
      total += s.weight;
      if (best === undefined || s.current > best.current) best = s;
    }
    best!.current -= total;
    return best!.picker.next();
  }
}
