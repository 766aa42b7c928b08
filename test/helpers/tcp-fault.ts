/**
 * A TCP proxy on loopback in front of a real server, to put a network fault at an exact point instead of racing a
 * log line: connections whose client bytes match `hold` are held (their bytes buffered, nothing forwarded, so the
 * client waits on its handshake) until `release()`; once the client bytes of any connection match `cutOn`, that
 * chunk is not forwarded, every connection is cut and the port is closed (connections refused) until `up()`.
 * Matching runs on the last 64 KiB a connection sent, so a pattern split across chunks still matches.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { once } from 'node:events';

const SEEN_BYTES = 64 * 1024;

export interface FaultProxy {
  readonly port: number;
  /** Holds connections whose client bytes match, from the matching chunk on, until `release()`. */
  hold(pattern: RegExp): void;
  /** Forwards what was held, and everything after. */
  release(): void;
  /** How many connections are held now. */
  held(): number;
  /** Arms the cut; resolves when it happened (the port is closed then). */
  cutOn(pattern: RegExp): Promise<void>;
  /** Listens again on the same port after a cut. */
  up(): Promise<void>;
  stop(): Promise<void>;
}

interface Link {
  readonly client: Socket;
  readonly upstream: Socket;
  seen: string;
  held: Buffer[] | undefined;
}

/** Starts the proxy on 127.0.0.1 (a free port) in front of 127.0.0.1:`targetPort`. */
export async function startFaultProxy(targetPort: number): Promise<FaultProxy> {
  const links = new Set<Link>();
  let holdPattern: RegExp | undefined;
  let cut: { pattern: RegExp; done: () => void } | undefined;
  let server: Server;
  let port = 0;

  const unlink = (link: Link) => {
    links.delete(link);
    link.client.destroy();
    link.upstream.destroy();
  };
  const cutAll = () => {
    const done = cut!.done;
    cut = undefined;
    for (const link of [...links]) unlink(link);
    server.close(() => done());
  };
  const accept = (client: Socket) => {
    const upstream = connect(targetPort, '127.0.0.1');
    const link: Link = { client, upstream, seen: '', held: undefined };
    links.add(link);
    upstream.on('data', (d: Buffer) => client.write(d));
    client.on('data', (d: Buffer) => {
      link.seen = (link.seen + d.toString('latin1')).slice(-SEEN_BYTES);
      if (cut && cut.pattern.test(link.seen)) return cutAll();
      if (!link.held && holdPattern?.test(link.seen)) link.held = [];
      if (link.held) link.held.push(d);
      else upstream.write(d);
    });
    for (const s of [client, upstream]) {
      s.on('error', () => unlink(link));
      s.on('close', () => unlink(link));
    }
  };
  const listen = async () => {
    server = createServer(accept);
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as { port: number }).port;
  };
  await listen();

  return {
    get port() {
      return port;
    },
    hold(pattern) {
      holdPattern = pattern;
    },
    release() {
      holdPattern = undefined;
      for (const link of links) {
        const held = link.held;
        link.held = undefined;
        for (const d of held ?? []) link.upstream.write(d);
      }
    },
    held: () => [...links].filter((l) => l.held).length,
    cutOn(pattern) {
      return new Promise<void>((resolve) => {
        cut = { pattern, done: resolve };
      });
    },
    up: listen,
    async stop() {
      for (const link of [...links]) unlink(link);
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
