/**
 * Small TCP pieces for tests on real sockets: a server on 127.0.0.1 closed in `closeAllTcpServers`, reading to the
 * peer's FIN, the first line, and a bounded poll. Every wait is bounded.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

const servers = new Map<Server, Set<Socket>>();

/** A TCP server on 127.0.0.1 (port 0 unless given), allowHalfOpen, errors ignored; closed by closeAllTcpServers. */
export async function listenTcp(onConnection: (socket: Socket) => void, port = 0): Promise<{ server: Server; port: number }> {
  const open = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    socket.on('error', () => {});
    onConnection(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  servers.set(server, open);
  return { server, port: (server.address() as AddressInfo).port };
}

/** Closes every server listenTcp started (their open connections are destroyed). */
export async function closeAllTcpServers(): Promise<void> {
  await Promise.all(
    [...servers].map(([server, open]) => {
      for (const socket of open) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    }),
  );
  servers.clear();
}

/** Everything the socket receives until its peer's FIN (or close), as latin1 text; bounded. */
export function readToEnd(socket: Socket, ms = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const timer = setTimeout(() => reject(new Error(`no end within ${ms} ms; got ${JSON.stringify(got.slice(0, 200))}`)), ms);
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => (got += c));
    const done = (): void => {
      clearTimeout(timer);
      resolve(got);
    };
    socket.once('end', done);
    socket.once('close', done);
  });
}

/** The first line the socket receives (without its newline), or what came before it closed; bounded. */
export function firstLine(socket: Socket, ms = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const timer = setTimeout(() => reject(new Error(`no line within ${ms} ms`)), ms);
    const onData = (c: Buffer): void => {
      got += c.toString();
      const nl = got.indexOf('\n');
      if (nl === -1) return;
      clearTimeout(timer);
      socket.off('data', onData);
      resolve(got.slice(0, nl));
    };
    socket.on('data', onData);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
  });
}

/** Polls `test` every 20 ms until it holds; throws naming `what` after `ms`. */
export async function until(what: string, test: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await test())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
