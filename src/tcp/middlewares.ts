/**
 * TCP middlewares (`tcp.middlewares`): Traefik's ipAllowList and inFlightConn, with its field names. Each is
 * compiled per router that names it (CIDRs parsed once, its own counts), into a gate the forwarder asks before
 * dialling a backend. A refusal closes the client and writes one line; it is a policy decision, not an error.
 */
import type { Socket } from 'node:net';
import type { TcpMiddlewareConfig } from '../config/schema-tls.js';
import { GatehouseError } from '../errors.js';
import { addressMatcher, AddressListError, compileAddressList } from '../ip/address-list.js';
import { createInFlightGate } from './in-flight.js';

/** One compiled TCP middleware of a router. */
export interface TcpGate {
  /**
   * Admit the connection (undefined), or say why it is refused. An admitting gate may hold the connection in a
   * count until `client` closes. Never throws.
   */
  admit(client: Socket, clientIp: string): string | undefined;
}

/** A named gate, for the refusal's log line. */
export interface NamedTcpGate {
  readonly name: string;
  readonly gate: TcpGate;
}

/**
 * The gates of one router, in the order it names them; a GatehouseError (CONFIG_REFERENCE, MIDDLEWARE_CONFIG)
 * naming the router and the middleware when one is missing or malformed.
 */
export function buildTcpGates(router: string, names: readonly string[], defined: Readonly<Record<string, TcpMiddlewareConfig>>): NamedTcpGate[] | GatehouseError {
  const gates: NamedTcpGate[] = [];
  for (const [i, name] of names.entries()) {
    const spec = defined[name];
    const path = `/tcp/middlewares/${name}`;
    if (spec === undefined) {
      const known = Object.keys(defined);
      return new GatehouseError(
        'CONFIG_REFERENCE',
        `TCP router "${router}" is disabled: TCP middleware "${name}" does not exist${known.length ? ` (defined: ${known.join(', ')})` : ' (tcp.middlewares is empty)'}`,
        { location: { path: `/tcp/routers/${router}/middlewares/${i}` } },
      );
    }
    const kinds = Object.keys(spec);
    if (kinds.length !== 1) {
      return new GatehouseError('MIDDLEWARE_CONFIG', `TCP router "${router}" is disabled: TCP middleware "${name}" must hold exactly one of ipAllowList, inFlightConn (it has ${kinds.length ? kinds.join(', ') : 'none'})`, {
        location: { path },
      });
    }
    if (spec.inFlightConn) {
      gates.push({ name, gate: createInFlightGate(spec.inFlightConn.amount) });
    } else if (spec.ipAllowList) {
      try {
        const allowed = addressMatcher(compileAddressList(spec.ipAllowList.sourceRange));
        gates.push({ name, gate: { admit: (_client, ip) => (allowed(ip) ? undefined : 'client address not in ipAllowList sourceRange') } });
      } catch (err) {
        if (!(err instanceof AddressListError)) throw err;
        return new GatehouseError('MIDDLEWARE_CONFIG', `TCP router "${router}" is disabled: TCP middleware "${name}": ${err.message}`, {
          location: { path: `${path}/ipAllowList/sourceRange/${err.index}` },
        });
      }
    }
  }
  return gates;
}
