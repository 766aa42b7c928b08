/** Entry point addresses (`:8080`, `127.0.0.1:8080`, `[::1]:8080`, `localhost:0`) to what `listen()` takes. */
import { GatehouseError } from '../errors.js';

/** A parsed listening address; `host` undefined means every interface. */
export interface ListenAddress {
  readonly host: string | undefined;
  readonly port: number;
}

/** Traefik's `[host]:port[/tcp|/udp]` (static/entrypoints.go GetProtocol: case-insensitive, TCP when absent). */
const PROTOCOL_SUFFIX = /\/(tcp|udp)$/i;

/** The transport an entry point address names: `udp` for `:53/udp`, else `tcp`. */
export function listenProtocol(text: string): 'tcp' | 'udp' {
  return PROTOCOL_SUFFIX.exec(text.trim())?.[1]?.toLowerCase() === 'udp' ? 'udp' : 'tcp';
}

/** Parse an entry point address (a `/tcp` or `/udp` suffix is left out); throws CONFIG_SCHEMA naming the entry point on a malformed one. */
export function parseListenAddress(text: string, entryPoint: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):([0-9]{1,5})$/.exec(text.trim().replace(PROTOCOL_SUFFIX, ''));
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new GatehouseError(
      'CONFIG_SCHEMA',
      `entry point "${entryPoint}": address ${JSON.stringify(text)} is not host:port (expected e.g. ":8080", "127.0.0.1:8080", "[::1]:8080", ":53/udp")`,
      { location: { path: `/entryPoints/${entryPoint}/address` } },
    );
  }
  const host = m[1] ?? (m[2] === '' ? undefined : m[2]);
  return { host, port };
}
