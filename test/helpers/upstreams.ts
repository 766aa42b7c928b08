/**
 * Real upstream servers for the integration tests, all on 127.0.0.1 port 0: a programmable HTTP server, an echo
 * server, a refused port, a server that accepts and never answers, and a WebSocket echo server. Each one is
 * recorded, and `closeAllUpstreams()` (call it in afterEach/afterAll) closes them and their open sockets.
 */
import { createServer as createHttpServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createConnection, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

/** What an upstream saw of one request, as it arrived (before the body). */
export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** Header names and values in wire order, as the proxy sent them. */
  rawHeaders: string[];
  remotePort: number;
  at: number;
}

/** A running HTTP upstream. */
export interface HttpUpstream {
  readonly url: string;
  readonly port: number;
  /** Every request received, in arrival order. */
  readonly requests: SeenRequest[];
  close(): Promise<void>;
}

/** What the echo upstream answers: the request as it arrived, as JSON. */
export interface EchoReply {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

const open = new Set<{ close(): Promise<void> }>();

/** Registers `thing` for closeAllUpstreams and makes its close() idempotent (a test may close early). */
function track<T extends { close(): Promise<void> }>(thing: T): T {
  const closeOnce = thing.close;
  let closing: Promise<void> | undefined;
  thing.close = () => {
    open.delete(thing);
    closing ??= closeOnce();
    return closing;
  };
  open.add(thing);
  return thing;
}

function listen(server: { listen(port: number, host: string, cb: () => void): unknown; address(): unknown }): Promise<number> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function closeHttp(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // Keep-alive sockets from the proxy's pool would hold close() open for their whole idle timeout.
    server.closeAllConnections();
  });
}

/** Starts an HTTP upstream running `handler` for every request, and records each request. */
export async function startHttpUpstream(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<HttpUpstream> {
  const requests: SeenRequest[] = [];
  const server = createHttpServer((req, res) => {
    requests.push({
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      remotePort: req.socket.remotePort ?? 0,
      at: Date.now(),
    });
    handler(req, res);
  });
  const port = await listen(server);
  return track({ url: `http://127.0.0.1:${port}`, port, requests, close: () => closeHttp(server) });
}

/** An upstream that answers every request with an EchoReply of it (status 200, JSON). */
export function startEchoUpstream(): Promise<HttpUpstream> {
  return startHttpUpstream((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const reply: EchoReply = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      const body = JSON.stringify(reply);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
}

/** A port on 127.0.0.1 that refuses connections. */
export async function refusedPort(): Promise<number> {
  // Not "bind a free port, then release it": with 80 test files in parallel another server may take that port in
  // between, and the "refused" upstream then answers (or hangs). Port 1 (tcpmux) is privileged, served by nothing
  // on these machines and never by a test; the check below fails loudly if that ever changes.
  const port = 1;
  const outcome = await new Promise<string>((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve('connected')));
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
  if (outcome !== 'ECONNREFUSED') throw new Error(`127.0.0.1:${port} should refuse connections for the tests, got ${outcome}`);
  return port;
}

/** A TCP server that accepts connections, reads and discards, and never writes a byte. */
export interface SilentUpstream {
  readonly url: string;
  readonly port: number;
  /** How many connections it has accepted. */
  connections(): number;
  close(): Promise<void>;
}

/** Starts an upstream that accepts and never answers (for response-header timeouts). */
export async function startSilentUpstream(): Promise<SilentUpstream> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createNetServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.resume();
  });
  const port = await listen(server);
  return track({
    url: `http://127.0.0.1:${port}`,
    port,
    connections: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  });
}

/** How a WebSocket connection ended, as the upstream saw it. */
export interface WsClose {
  code: number;
  reason: string;
}

/** A running WebSocket echo upstream. */
export interface WsUpstream {
  readonly url: string;
  readonly port: number;
  /** Close frames received from clients, in order. */
  readonly closes: WsClose[];
  /** The upgrade requests' headers, in order. */
  readonly upgrades: IncomingHttpHeaders[];
  /** Resolves with the next close seen (or one already seen and not yet taken); bounded. */
  nextClose(timeoutMs?: number): Promise<WsClose>;
  close(): Promise<void>;
}

/**
 * Starts a WebSocket server that echoes every message. A text message `close:<code>:<reason>` makes the server
 * start the closing handshake itself, so tests can close from either end.
 */
export async function startWsEchoUpstream(): Promise<WsUpstream> {
  const closes: WsClose[] = [];
  const upgrades: IncomingHttpHeaders[] = [];
  let taken = 0;
  const waiters = new Set<() => void>();
  const server = createHttpServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' });
    res.end('websocket only');
  });
  const wss = new WebSocketServer({ server });
  const clients = new Set<WebSocket>();
  wss.on('connection', (ws, req) => {
    clients.add(ws);
    upgrades.push(req.headers);
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? '' : data.toString();
      const m = /^close:(\d+):(.*)$/.exec(text);
      if (m) ws.close(Number(m[1]), m[2]);
      else ws.send(data, { binary: isBinary });
    });
    ws.on('close', (code, reason) => {
      clients.delete(ws);
      closes.push({ code, reason: reason.toString() });
      for (const wake of waiters) wake();
    });
    ws.on('error', () => {});
  });
  const port = await listen(server);
  const nextClose = (timeoutMs = 5_000): Promise<WsClose> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (taken < closes.length) {
          done();
          resolve(closes[taken++]!);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`upstream saw no WebSocket close within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  return track({
    url: `http://127.0.0.1:${port}`,
    port,
    closes,
    upgrades,
    nextClose,
    close: async () => {
      for (const c of clients) c.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await closeHttp(server);
    },
  });
}

/** Closes every upstream started through this module and not closed yet. Idempotent. */
export async function closeAllUpstreams(): Promise<void> {
  const all = [...open];
  open.clear();
  await Promise.all(all.map((u) => u.close()));
}
