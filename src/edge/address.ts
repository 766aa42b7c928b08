/** Entry point addresses (`:8080`, `127.0.0.1:8080`, `[::1]:8080`, `localhost:0`) to what `listen()` takes. */
import { GatehouseError } from '../errors.js';

/** A parsed listening address; `host` undefined means every interface. */
export interface ListenAddress {
  readonly host: string | undefined;
  readonly port: number;
}

/** Parse an entry point address; throws CONFIG_SCHEMA naming the entry point on a malformed one. */
export function parseListenAddress(text: string, entryPoint: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):([0-9]{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new GatehouseError(
      'CONFIG_SCHEMA',
      `entry point "${entryPoint}": address ${JSON.stringify(text)} is not host:port (expected e.g. ":8080", "127.0.0.1:8080", "[::1]:8080")`,
      { location: { path: `/entryPoints/${entryPoint}/address` } },
    );
  }
  const host = m[1] ?? (m[2] === '' ? undefined : m[2]);
  return { host, port };
}
