/**
 * Fixtures for the load balancer's tests on createUpstream: named HTTP backends on 127.0.0.1 that can be killed and
 * made unhealthy, refused ports, a plain HTTP proxy in front of one Upstream with its pino lines captured, and
 * clients that send bursts. Everything made here is closed by closeBalancerFixtures() (call it in afterEach).
 */
import http from 'node:http';
import net from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createUpstream, type ForwardInfo, type UpstreamOptions } from '../../src/upstream/index.js';
import { listenLoopback } from './closers.js';

const closers: (() => Promise<void>)[] = [];

/** Close every backend, proxy and upstream made here, newest first; call it in afterEach. */
export async function closeBalancerFixtures(): Promise<void> {
  for (const close of closers.splice(0).reverse()) await close();
}

/** Register something for closeBalancerFixtures. */
export function onClose(close: () => Promise<void>): void {
  closers.push(close);
}

/** A named backend the test can steer (health status, delay) and kill. */
export interface Backend {
  url: string;
  name: string;
  /** Requests seen, health checks excluded. */
  hits: number;
  healthHits: number;
  bodies: string[];
  /** What /health answers. */
  healthStatus: number;
  /** Delay before answering other paths. */
  delayMs: number;
  /** Close the listener and every connection: the server is gone. */
  kill(): Promise<void>;
}

/** Listen on 127.0.0.1 (port 0 = a free one) and resolve with the port. */
export const listen = listenLoopback;

/** Close an HTTP server and cut its keep-alive connections, which would hold close() open. */
export function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** An HTTP backend that answers its name (after delayMs) and serves /health with healthStatus. */
export async function backend(name: string): Promise<Backend> {
  const timers = new Set<NodeJS.Timeout>();
  const b: Backend = { url: '', name, hits: 0, healthHits: 0, bodies: [], healthStatus: 200, delayMs: 0, kill: async () => {} };
  const server = http.createServer((req, res) => {
    if (req.url === '/health') {
      b.healthHits++;
      res.writeHead(b.healthStatus).end();
      return;
    }
    b.hits++;
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      b.bodies.push(body);
      const answer = () => res.writeHead(200, { 'content-type': 'text/plain' }).end(name);
      if (b.delayMs === 0) answer();
      else {
        const t = setTimeout(() => (timers.delete(t), answer()), b.delayMs);
        timers.add(t);
      }
    });
  });
  b.url = `http://127.0.0.1:${await listen(server)}`;
  let killed: Promise<void> | undefined;
  b.kill = () => {
    for (const t of timers) clearTimeout(t);
    killed ??= closeServer(server);
    return killed;
  };
  closers.push(() => b.kill());
  return b;
}

let refusedCount = 0;

/**
 * A distinct URL that refuses connections: port 1 on an address of 127.0.1.0/24, where no test listens. (Binding a
 * free port and releasing it races with the other test files, which may take that port in between.)
 */
export async function refused(): Promise<string> {
  const host = `127.0.1.${(refusedCount++ % 250) + 1}`;
  const outcome = await new Promise<string>((resolve) => {
    const s = net.connect(1, host);
    s.once('connect', () => (s.destroy(), resolve('connected')));
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
  if (outcome !== 'ECONNREFUSED') throw new Error(`${host}:1 should refuse connections for the tests, got ${outcome}`);
  return `http://${host}:1`;
}

/** One pino line as the proxy's logger wrote it. */
export type Line = Record<string, unknown> & { msg: string; level: number };

/** A proxy server in front of createUpstream(options); returns its URL and the log lines. */
export async function proxy(options: Partial<UpstreamOptions> & Pick<UpstreamOptions, 'servers'>) {
  const lines: Line[] = [];
  const log = pino({ level: 'debug' }, new Writable({ write(chunk, _enc, cb) { lines.push(JSON.parse(String(chunk)) as Line); cb(); } }));
  const upstream = createUpstream(
    { passHostHeader: true, connectTimeoutMs: 2000, responseHeadersTimeoutMs: 3000, idleTimeoutMs: 5000, maxConnections: 16, ...options },
    log,
  );
  const server = http.createServer((req, res) => {
    const info: ForwardInfo = { clientIp: '127.0.0.1', scheme: 'http', trustForwarded: false, upstream: undefined, log };
    upstream.forward(req, res, info);
  });
  closers.push(() => closeServer(server));
  closers.push(() => upstream.close());
  const port = await listen(server);
  const waitFor = async (predicate: (l: Line) => boolean, timeoutMs = 3000): Promise<Line> => {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const hit = lines.find(predicate);
      if (hit) return hit;
      await sleep(20);
    }
    throw new Error(`no such log line within ${timeoutMs} ms:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`);
  };
  return { url: `http://127.0.0.1:${port}`, lines, upstream, waitFor };
}

/** Resolve after `ms`. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A complete response. */
export interface Reply {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** One request on a fresh connection (unless `opts.agent` says otherwise), resolved with the whole response. */
export function request(url: string, opts: http.RequestOptions = {}, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent: false, ...opts }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** `n` GETs, `concurrency` at a time; resolves with the replies in completion order. */
export async function burst(url: string, n: number, concurrency: number): Promise<Reply[]> {
  const out: Reply[] = [];
  let next = 0;
  // Keep-alive client connections: 1000 requests on fresh sockets each would cost the test seconds.
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const worker = async () => {
    while (next < n) {
      next++;
      out.push(await request(url, { agent }));
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    agent.destroy();
  }
  return out;
}

/** Count replies by backend name (the body of a 200) or by status otherwise. */
export function tally(replies: Reply[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const r of replies) {
    const key = r.status === 200 ? r.body : String(r.status);
    t[key] = (t[key] ?? 0) + 1;
  }
  return t;
}
