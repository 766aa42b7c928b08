/**
 * What a UDP entry point's config compiles into: its session timeout and limit. The HTTP and TLS parts of an entry
 * point mean nothing for datagrams, so a UDP entry point carrying them is refused (the operator meant something
 * else), and so is a `udp` section on a TCP entry point (a forgotten `/udp` suffix).
 */
import type { EntryPointConfig } from '../config/index.js';
import { DEFAULTS, parseDuration } from '../config/index.js';
import { listenProtocol } from '../edge/address.js';
import { GatehouseError } from '../errors.js';

/** The compiled session settings of one UDP entry point. */
export interface UdpEntrySettings {
  /** A session without a datagram either way for this long is closed. */
  readonly timeoutMs: number;
  /** Sessions open at once; a datagram that would open one more is dropped. */
  readonly maxSessions: number;
}

/** The fields of an entry point that only TCP entry points have. */
const TCP_ONLY = ['tls', 'http', 'proxyProtocol', 'forwardedHeaders', 'timeouts', 'maxHeaderSize', 'maxHeaderCount'] as const;

/**
 * The UDP settings of an entry point: undefined for a TCP one. Throws CONFIG_SCHEMA for a `udp` section on a TCP
 * entry point, a TCP-only field on a UDP one, or a timeout of 0 (Traefik refuses it too: a session could never end).
 */
export function udpEntrySettings(name: string, spec: EntryPointConfig): UdpEntrySettings | undefined {
  const path = `/entryPoints/${name}`;
  if (listenProtocol(spec.address) !== 'udp') {
    if (spec.udp !== undefined) {
      throw new GatehouseError('CONFIG_SCHEMA', `entry point "${name}" has a "udp" section but listens on TCP: end its address with "/udp" (e.g. ":53/udp") or remove the section`, {
        location: { path: `${path}/udp` },
      });
    }
    return undefined;
  }
  const spec2 = spec as Record<string, unknown>;
  for (const field of TCP_ONLY) {
    if (spec2[field] !== undefined) {
      throw new GatehouseError('CONFIG_SCHEMA', `entry point "${name}" is a UDP one (its address ends in "/udp"): "${field}" applies to TCP entry points only; remove it`, {
        location: { path: `${path}/${field}` },
      });
    }
  }
  const timeoutMs = parseDuration(spec.udp?.timeout ?? DEFAULTS.udpTimeout);
  if (!(timeoutMs > 0)) {
    throw new GatehouseError('CONFIG_SCHEMA', `entry point "${name}": udp.timeout must be above 0 (a session would never end); Traefik's default is ${DEFAULTS.udpTimeout}`, {
      location: { path: `${path}/udp/timeout` },
    });
  }
  return { timeoutMs, maxSessions: spec.udp?.maxSessions ?? DEFAULTS.udpMaxSessions };
}
