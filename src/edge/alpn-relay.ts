/**
 * Relaying a tls-alpn-01 validation to the peer that holds the challenge (field notes 002 and 004): behind
 * round-robin DNS the CA's acme-tls/1 handshake can land on an instance that did not order, and that handshake
 * carries only the SNI, not the token (RFC 8737 §3), so the only way to answer it is to find the instance that has
 * the challenge certificate. The ClientHello was peeked, not consumed, and the client has seen nothing yet, so it can
 * be replayed to each peer in turn until one answers with a ServerHello; that peer's bytes then go to the client and
 * the two sockets are joined. A refusing peer (alert, close, reset, silence) costs only its own timeout.
 */
import { lookup } from 'node:dns/promises';
import { connect, isIP, isIPv4, type Socket } from 'node:net';
import { isSelf, type Peer, type PeerSettings } from '../challenges/index.js';
import { joinSockets } from '../tcp/index.js';

/** Why one peer did not take the handshake: 'alert', 'closed', 'timeout', 'not-tls', or a socket error code. */
export type PeerFailure = string;

/** One peer asked, for the decision log line. */
export interface PeerAttempt {
  readonly peer: string;
  readonly outcome: 'answered' | PeerFailure;
  readonly ms: number;
}

/** How a relay ended: the peer that answered (the sockets are joined), or none, with every peer asked. */
export interface RelayResult {
  readonly answeredBy: Peer | undefined;
  readonly tried: readonly PeerAttempt[];
}

/** TLS record content types (RFC 8446 §5.1): a handshake record from a peer means it took the ClientHello. */
const HANDSHAKE = 0x16;
const ALERT = 0x15;
/** A relayed validation is one handshake, then the CA closes (RFC 8737 §3); this bounds a stuck pair. */
const RELAY_IDLE_MS = 10_000;
/** Bound on resolving a peer given by host name (loop guard only). */
const LOOKUP_TIMEOUT_MS = 1_000;

/**
 * Whether `remote` (a connection's source address) is one of the peers. Such a connection was relayed here by a
 * peer and is never relayed again, so a handshake nobody holds cannot go round. Peers given by host name are
 * resolved (bounded); only acme-tls/1 handshakes with no local answer come here, so that cost is off the hot path.
 */
export async function isFromPeer(remote: string | undefined, peers: readonly Peer[]): Promise<boolean> {
  if (remote === undefined) return false;
  const from = unmapped(remote);
  for (const p of peers) if (isIP(p.host) !== 0 && unmapped(p.host) === from) return true;
  const named = peers.filter((p) => isIP(p.host) === 0);
  if (named.length === 0) return false;
  const resolved = await Promise.all(named.map((p) => resolveBounded(p.host)));
  return resolved.some((addresses) => addresses.includes(from));
}

/**
 * Offer the peeked ClientHello `hello` to each peer but this instance (`local`: the entry point's bound address and
 * port), in the configured order, each within `settings.timeoutMs`. The outgoing connection leaves from `local`'s
 * address when it is a specific one, so the peer's loop guard recognises it. On success the client socket belongs
 * to the joined pipe; otherwise it is untouched and the caller refuses it. Never rejects.
 */
export async function relayToPeers(client: Socket, hello: Buffer, settings: PeerSettings, local: { address: string; port: number }): Promise<RelayResult> {
  const tried: PeerAttempt[] = [];
  const localAddress = local.address === '0.0.0.0' || local.address === '::' || local.address === '' ? undefined : local.address;
  for (const peer of settings.peers) {
    if (isSelf(peer, peer.tlsPort, [local])) continue;
    if (client.destroyed) break;
    const t0 = performance.now();
    const offer = await offerHello(peer, hello, localAddress, settings.timeoutMs);
    const ms = Math.round(performance.now() - t0);
    if ('failure' in offer) {
      tried.push({ peer: peer.host, outcome: offer.failure, ms });
      continue;
    }
    if (client.destroyed) {
      offer.socket.destroy();
      tried.push({ peer: peer.host, outcome: 'client gone', ms });
      break;
    }
    tried.push({ peer: peer.host, outcome: 'answered', ms });
    client.write(offer.first);
    joinSockets(client, offer.socket, RELAY_IDLE_MS, () => undefined);
    return { answeredBy: peer, tried };
  }
  return { answeredBy: undefined, tried };
}

type Offer = { socket: Socket; first: Buffer } | { failure: PeerFailure };

/** Connect, send the ClientHello, and read the peer's first bytes: a handshake record, or why not. */
function offerHello(peer: Peer, hello: Buffer, localAddress: string | undefined, timeoutMs: number): Promise<Offer> {
  return new Promise((resolve) => {
    const socket = connect({ host: peer.host, port: peer.tlsPort, ...(localAddress !== undefined ? sourceOptions(localAddress, peer.host) : {}) });
    socket.setNoDelay(true);
    let settled = false;
    const settle = (offer: Offer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      if ('failure' in offer) {
        socket.destroy();
        socket.on('error', () => undefined);
      } else {
        socket.off('error', onError);
      }
      resolve(offer);
    };
    const onData = (chunk: Buffer): void => {
      // Hold what follows until the pipe takes over; it reads the buffered bytes first.
      socket.pause();
      if (chunk[0] === HANDSHAKE) settle({ socket, first: chunk });
      else settle({ failure: chunk[0] === ALERT ? 'alert' : 'not-tls' });
    };
    const onEnd = (): void => settle({ failure: 'closed' });
    const onError = (err: NodeJS.ErrnoException): void => settle({ failure: err.code ?? err.message });
    const timer = setTimeout(() => settle({ failure: 'timeout' }), timeoutMs);
    socket.once('connect', () => socket.write(hello));
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.on('error', onError);
  });
}

/** A source address binds only for a destination of its own family; a host name is resolved in that family. */
function sourceOptions(localAddress: string, host: string): { localAddress?: string; family?: number } {
  const local = isIP(localAddress);
  const family = isIP(host);
  if (family === 0) return { localAddress, family: local };
  return family === local ? { localAddress } : {};
}

/** RFC 4291 §2.5.5.2 IPv4-mapped IPv6 (`::ffff:1.2.3.4`), as Node reports IPv4 peers on a dual-stack socket. */
function unmapped(address: string): string {
  const lower = address.toLowerCase();
  return lower.startsWith('::ffff:') && isIPv4(lower.slice(7)) ? lower.slice(7) : lower;
}

async function resolveBounded(host: string): Promise<string[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string[]>((resolve) => {
    timer = setTimeout(() => resolve([]), LOOKUP_TIMEOUT_MS);
  });
  const found = lookup(host, { all: true }).then(
    (list) => list.map((a) => unmapped(a.address)),
    () => [] as string[],
  );
  const result = await Promise.race([found, timeout]);
  clearTimeout(timer);
  return result;
}
