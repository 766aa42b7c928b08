/**
 * Servers a test starts on loopback and closes after it, with every connection they still hold (a server's close()
 * alone waits for its keep-alive connections). Each test file keeps its own list and empties it in afterEach.
 */
import type { AddressInfo, Server, Socket } from 'node:net';

/** Something to undo after a test, run in reverse order of registration. */
export type Closer = () => Promise<void> | void;

/** Listens on 127.0.0.1 (`port`, or a free one); resolves with the port. */
export function listenLoopback(server: Server, port = 0): Promise<number> {
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** Registers in `closers`: destroy the server's open connections, then close it. */
export function closeWithSockets(server: Server, closers: Closer[]): void {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => (sockets.add(s), s.once('close', () => sockets.delete(s))));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
}
