/**
 * Traefik's inFlightConn TCP middleware (pkg/middlewares/tcp/inflightconn): at most `amount` connections open at
 * once per client address through one router; one more is refused (closed) before any backend is dialled. The
 * counts belong to the router's instance, so two routers naming the same middleware count apart, as in Traefik.
 */
import type { Socket } from 'node:net';
import type { TcpGate } from './middlewares.js';

/** The in-flight gate of one router. */
export function createInFlightGate(amount: number): TcpGate & { open(clientIp: string): number } {
  const counts = new Map<string, number>();
  return {
    admit(client: Socket, clientIp: string): string | undefined {
      const n = counts.get(clientIp) ?? 0;
      if (n >= amount) return `already ${n} connections from this address (inFlightConn amount ${amount})`;
      counts.set(clientIp, n + 1);
      // Counted until the client socket is gone, whichever way it goes (piped, refused later, backend down).
      client.once('close', () => {
        const left = (counts.get(clientIp) ?? 1) - 1;
        if (left <= 0) counts.delete(clientIp);
        else counts.set(clientIp, left);
      });
      return undefined;
    },
    open: (clientIp) => counts.get(clientIp) ?? 0,
  };
}
