/**
 * The peers of a multi-instance set-up (field note 004): every instance behind one round-robin DNS name, this one
 * included. A challenge this instance does not hold (http-01 token, acme-tls/1 handshake) is asked of the others in
 * turn. Which of the listed addresses is this instance is decided from the addresses its entry points are bound to,
 * so one config file serves every instance; the loop-guard header stops a request that went round anyway.
 */
import { networkInterfaces } from 'node:os';
import type { Config } from '../config/index.js';
import { DEFAULTS, parseDuration } from '../config/index.js';

/** Header set on an http-01 request forwarded to a peer; a request carrying it is never forwarded again. */
export const LOOP_GUARD_HEADER = 'x-gatehouse-acme-forwarded';

/** One other instance. */
export interface Peer {
  /** IP address or host name, as configured. */
  readonly host: string;
  readonly httpPort: number;
  readonly tlsPort: number;
}

/** The peers part of a config, resolved. */
export interface PeerSettings {
  /** Every configured peer, this instance included (skip it with `isSelf`). */
  readonly peers: readonly Peer[];
  /** Time one peer has to answer before the next is asked. */
  readonly timeoutMs: number;
}

/** The config's `challenges.peers`, or undefined when no peers are configured. */
export function peerSettings(config: Config): PeerSettings | undefined {
  const spec = config.challenges?.peers;
  if (!spec) return undefined;
  const httpPort = spec.httpPort ?? 80;
  const tlsPort = spec.tlsPort ?? 443;
  return {
    peers: spec.addresses.map((host) => ({ host: host.toLowerCase(), httpPort, tlsPort })),
    timeoutMs: parseDuration(spec.timeout ?? DEFAULTS.peerTimeout),
  };
}

/**
 * Whether `peer` is this instance: its host is an address an entry point is bound to (with the peer's port for that
 * protocol), or, for an entry point bound to every interface, one of this machine's interface addresses.
 * `bound` lists the bound entry points' addresses and ports.
 */
export function isSelf(peer: Peer, port: number, bound: readonly { address: string; port: number }[]): boolean {
  for (const b of bound) {
    if (b.port !== port) continue;
    if (b.address === peer.host) return true;
    if (b.address === '0.0.0.0' || b.address === '::') {
      if (interfaceAddresses().has(peer.host)) return true;
    }
  }
  return false;
}

let cachedInterfaces: { at: number; set: Set<string> } | undefined;

/** This machine's interface addresses, re-read at most every 10 s (interfaces come and go rarely). */
function interfaceAddresses(): Set<string> {
  const now = Date.now();
  if (cachedInterfaces && now - cachedInterfaces.at < 10_000) return cachedInterfaces.set;
  const set = new Set<string>(['localhost']);
  for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) set.add(i.address);
  cachedInterfaces = { at: now, set };
  return set;
}
