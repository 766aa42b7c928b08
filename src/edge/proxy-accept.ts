/**
 * PROXY protocol on an entry point: from a trusted load balancer, the connection must start with a PROXY v1/v2
 * header, which names the real client; from anyone else nothing is read, so a client cannot claim an address.
 */
import type { Socket } from 'node:net';
import { setClientAddress } from '../http/context.js';
import type { Logger } from '../log.js';
import type { EntryPointSettings } from './entry-point.js';
import { readProxyHeader } from '../ip/proxy-protocol.js';

/** How long a trusted load balancer has to send its header (it sends it at once; a slow one is broken). */
const PROXY_HEADER_TIMEOUT_MS = 5_000;

/**
 * Read the header when the peer is trusted and record the client it names on the socket; the bytes read past the
 * header are put back. Resolves false (socket destroyed, one log line) when a trusted peer sends no valid header.
 */
export async function acceptProxyHeader(socket: Socket, trusted: (ip: string) => boolean, settings: EntryPointSettings, log: Logger): Promise<boolean> {
  const peer = socket.remoteAddress ?? '';
  if (!trusted(peer)) return true;
  const result = await readProxyHeader(socket, { timeoutMs: PROXY_HEADER_TIMEOUT_MS });
  if (!result.ok) {
    log.info({ entryPoint: settings.name, peer, reason: result.reason }, 'proxy protocol header refused');
    socket.destroy();
    return false;
  }
  if (result.source) setClientAddress(socket, result.source.address, result.source.port);
  if (result.rest.length > 0) socket.unshift(result.rest);
  return true;
}
