/**
 * The backends of a TCP service: `host:port` addresses parsed once at config load, and the round robin that picks
 * one per connection.
 */
import { isIP } from 'node:net';

/** One backend of a TCP service, parsed once. */
export interface TcpBackend {
  /** `host:port` as configured, for logs. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
}

/** Round robin over a service's backends; shared by every route that names the service. */
export class TcpBackendRing {
  readonly backends: readonly TcpBackend[];
  #index = 0;

  constructor(backends: readonly TcpBackend[]) {
    if (backends.length === 0) throw new TypeError('a TCP service needs at least one backend');
    this.backends = backends;
  }

  /** The backend for the next connection, cycling through all of them in order. */
  next(): TcpBackend {
    const backend = this.backends[this.#index]!;
    this.#index = this.#index + 1 === this.backends.length ? 0 : this.#index + 1;
    return backend;
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
